import { Body, ConflictException, Controller, Get, Header, HttpCode, Logger, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiError, TWILIO_SIGNATURE_SCHEME } from '../api-description';
import { AppConfig, loadAppConfig } from '../config/app-config';
import { CallRegistry } from '../call-gateway/call-registry.service';
import { TwilioSignatureGuard } from './twilio-signature.guard';
import { TwilioVoiceWebhookDto } from './twilio-webhook.dto';
import { TwimlService } from './twiml.service';

/** Call outcomes after which the caller should just be hung up on (no apology). */
const CLEAN_ENDS = new Set(['agent-ended', 'caller-hung-up', 'operator']);
/** Said when the server has to end a call because it is shutting down. */
const SHUTDOWN_MESSAGE = 'We have to end this call now. Sorry about that, please call again. Goodbye.';

/** TwiML as the real builder writes it, with example values: Swagger's examples cannot drift from what Twilio gets. */
const exampleConfig = loadAppConfig({ PUBLIC_URL: 'https://example.ngrok.app' });
const example = new TwimlService(exampleConfig);
const twimlExample = (summary: string, value: string) => ({ summary, value });
const TWIML = {
  connect: twimlExample(
    'The call is connected to the media stream (the model was pre-dialled); the <Say> is for when the stream fails',
    example.connect({
      callSid: 'CA0123456789abcdef0123456789abcdef',
      from: '+15551230000',
      to: '+15559870000',
      direction: 'inbound',
      streamToken: 'one-time-stream-token',
    }),
  ),
  busy: twimlExample('At capacity or shutting down: AGENT_BUSY_MESSAGE, then hang up', example.sayAndHangUp(exampleConfig.AGENT_BUSY_MESSAGE)),
  unavailable: twimlExample(
    'Not configured (or the model failed): AGENT_FALLBACK_MESSAGE, then hang up',
    example.sayAndHangUp(exampleConfig.AGENT_FALLBACK_MESSAGE),
  ),
  hangUp: twimlExample('After a clean end (end_call, the caller, an operator): hang up without a word', example.hangUp()),
};
const TwimlResponse = (description: string, examples: Record<string, { summary: string; value: string }>) =>
  ApiOkResponse({ description, content: { 'text/xml': { schema: { type: 'string', format: 'xml' }, examples } } });
const SIGNATURE = ApiError(
  403,
  'X-Twilio-Signature is missing (refused before the body is read) or invalid: TWILIO_AUTH_TOKEN must be the auth token of the account that owns the number, and the webhook exactly PUBLIC_URL + the path',
);
const FORM_ONLY = ApiError(415, 'Not a form body: Twilio posts application/x-www-form-urlencoded');
const TOO_LARGE = ApiError(413, 'The body is over 64 KB');
const NO_CALL_SID = ApiError(400, 'No CallSid (Twilio always sends one), or an invalid parameter: every problem named');

@ApiTags('twilio')
@ApiSecurity(TWILIO_SIGNATURE_SCHEME)
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
  @ApiOperation({
    summary: "Twilio's voice webhook (A call comes in): answers with TwiML that connects the call to the media stream, and pre-dials the model",
    description:
      "Paste PUBLIC_URL + /twiml as the number's voice webhook (HTTP POST). The TwiML is sent with Cache-Control: no-store: it carries a one-time stream token.",
  })
  @ApiConsumes('application/x-www-form-urlencoded')
  @ApiBody({ type: TwilioVoiceWebhookDto })
  @TwimlResponse('TwiML (text/xml)', TWIML)
  @NO_CALL_SID
  @SIGNATURE
  @ApiError(409, 'This CallSid was already answered: a replayed webhook cannot start another stream')
  @TOO_LARGE
  @FORM_ONLY
  answerPost(@Body() body: TwilioVoiceWebhookDto): string {
    return this.answer(body);
  }

  @Get()
  @Header('Content-Type', 'text/xml')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Same as POST, for numbers configured with HTTP GET webhooks (the parameters in the query string, which the signature covers)' })
  @TwimlResponse('TwiML (text/xml)', TWIML)
  @NO_CALL_SID
  @SIGNATURE
  @ApiError(409, 'This CallSid was already answered: a replayed webhook cannot start another stream')
  answerGet(@Query() query: TwilioVoiceWebhookDto): string {
    return this.answer(query);
  }

  @Post('stream-ended')
  @HttpCode(200)
  @Header('Content-Type', 'text/xml')
  @ApiOperation({ summary: '<Connect action>: Twilio asks what to do once the media stream has ended' })
  @ApiConsumes('application/x-www-form-urlencoded')
  @ApiBody({ type: TwilioVoiceWebhookDto })
  @TwimlResponse('TwiML: hang up after a clean end; otherwise the apology (AGENT_FALLBACK_MESSAGE, or the shutdown notice), then hang up', {
    hangUp: TWIML.hangUp,
    unavailable: TWIML.unavailable,
  })
  @NO_CALL_SID
  @SIGNATURE
  @TOO_LARGE
  @FORM_ONLY
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
