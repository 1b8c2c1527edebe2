import { Body, ConflictException, Controller, Get, Header, HttpCode, Logger, Post, Query, UseGuards } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiConsumes,
  ApiForbiddenResponse,
  ApiUnsupportedMediaTypeResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import { AppConfig } from '../config/app-config';
import { CallRegistry } from '../call-gateway/call-registry.service';
import { TwilioSignatureGuard } from './twilio-signature.guard';
import { TwilioVoiceWebhookDto } from './twilio-webhook.dto';
import { TwimlService } from './twiml.service';

/** Call outcomes after which the caller should just be hung up on (no apology). */
const CLEAN_ENDS = new Set(['agent-ended', 'caller-hung-up', 'operator']);
/** Said when the server has to end a call because it is shutting down. */
const SHUTDOWN_MESSAGE = 'We have to end this call now. Sorry about that, please call again. Goodbye.';

@ApiTags('twilio')
@Controller('twiml')
@UseGuards(TwilioSignatureGuard)
export class TwimlController {
  private readonly logger = new Logger(TwimlController.name);

  constructor(
    private readonly config: AppConfig,
    private readonly twiml: TwimlService,
    private readonly registry: CallRegistry,
  ) {}

  @Post()
  @HttpCode(200)
  @Header('Content-Type', 'text/xml')
  // The answer carries a one-time stream token: no cache or proxy may keep it.
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Twilio voice webhook: answers with TwiML that connects the call to the media stream and pre-dials the model' })
  @ApiConsumes('application/x-www-form-urlencoded')
  @ApiBody({ type: TwilioVoiceWebhookDto })
  @ApiProduces('text/xml')
  @ApiOkResponse({ description: 'TwiML: <Connect><Stream> (or a busy / unavailable message and <Hangup/>)' })
  @ApiForbiddenResponse({ description: 'TWILIO_AUTH_TOKEN is set and the signature is missing or invalid' })
  @ApiConflictResponse({ description: 'The CallSid was already answered: a replayed webhook' })
  @ApiBadRequestResponse({ description: 'No CallSid, or an invalid parameter (every problem named)' })
  @ApiUnsupportedMediaTypeResponse({ description: 'Not a form body (Twilio posts application/x-www-form-urlencoded)' })
  answerPost(@Body() body: TwilioVoiceWebhookDto): string {
    return this.answer(body);
  }

  @Get()
  @Header('Content-Type', 'text/xml')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Same as POST, for numbers configured with HTTP GET webhooks' })
  @ApiProduces('text/xml')
  @ApiOkResponse({ description: 'TwiML' })
  @ApiForbiddenResponse({ description: 'Invalid signature' })
  answerGet(@Query() query: TwilioVoiceWebhookDto): string {
    return this.answer(query);
  }

  @Post('stream-ended')
  @HttpCode(200)
  @Header('Content-Type', 'text/xml')
  @ApiOperation({ summary: '<Connect action>: Twilio asks what to do when the media stream ends' })
  @ApiConsumes('application/x-www-form-urlencoded')
  @ApiBody({ type: TwilioVoiceWebhookDto })
  @ApiProduces('text/xml')
  @ApiOkResponse({ description: 'TwiML: <Hangup/> after a clean end, otherwise the spoken apology then <Hangup/>' })
  streamEnded(@Body() body: TwilioVoiceWebhookDto): string {
    const outcome = this.registry.outcome(body.CallSid);
    if (outcome && CLEAN_ENDS.has(outcome)) return this.twiml.hangUp();
    if (outcome === 'shutdown') return this.twiml.sayAndHangUp(SHUTDOWN_MESSAGE);
    return this.twiml.sayAndHangUp(this.config.AGENT_FALLBACK_MESSAGE);
  }

  private answer(params: TwilioVoiceWebhookDto): string {
    const missing = this.config.missingForCalls;
    if (missing.length > 0) {
      this.logger.error(`cannot take calls: ${missing.join(', ')} not set`);
      return this.twiml.sayAndHangUp(this.config.AGENT_FALLBACK_MESSAGE);
    }
    const callSid = params.CallSid;
    if (this.registry.wasAnswered(callSid)) {
      // Twilio asks once per call (a retry of an unanswered request gets the reservation it made);
      // a second request for an answered call is a replayed webhook, and must not mint a stream.
      this.logger.warn({ callSid }, 'refused a second webhook for a call already answered (replay)');
      throw new ConflictException('This call was already answered; a replayed webhook cannot start another stream');
    }
    const reservation = this.registry.reserve(callSid);
    if (!reservation) {
      const why = this.registry.draining ? 'draining' : `at capacity (${this.registry.capacity} calls)`;
      this.logger.warn({ callSid }, `${why}: answering ${callSid} with the busy message`);
      return this.twiml.sayAndHangUp(this.config.AGENT_BUSY_MESSAGE);
    }
    return this.twiml.connect({ callSid, from: params.From, to: params.To, direction: params.Direction, streamToken: reservation.token });
  }
}
