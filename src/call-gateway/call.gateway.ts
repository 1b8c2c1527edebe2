import { Logger } from '@nestjs/common';
import { OnGatewayConnection, OnGatewayInit, WebSocketGateway } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type WebSocket from 'ws';
import type { WebSocketServer } from 'ws';
import { CallFactory } from './call.factory';
import { CallRegistry } from './call-registry.service';
import { TwilioSignatureService } from './twilio-signature.service';

/** Twilio frames are small (a 20 ms media frame is ~300 bytes of JSON); `start` with parameters a few KB. */
export const TWILIO_MAX_PAYLOAD = 64 * 1024;

/**
 * The Twilio Media Streams socket. Each connection gets its own Call, whose MediaStream reads the
 * socket directly: no framework message dispatch on the per-frame hot path.
 */
@WebSocketGateway({ path: '/ws/call', maxPayload: TWILIO_MAX_PAYLOAD, perMessageDeflate: false })
export class CallGateway implements OnGatewayInit<WebSocketServer>, OnGatewayConnection<WebSocket> {
  protected readonly logger = new Logger('CallGateway');

  constructor(
    private readonly calls: CallFactory,
    private readonly signatures: TwilioSignatureService,
    private readonly registry: CallRegistry,
  ) {}

  afterInit(server: WebSocketServer): void {
    // ws reads options.verifyClient on every upgrade: reject unsigned upgrades with 403 before they become sockets.
    server.options.verifyClient = (info: { req: IncomingMessage }, done: (ok: boolean, code?: number, message?: string) => void) => {
      if (!this.signatures.verifyUpgrade(info.req)) {
        this.logger.warn({ remoteAddress: info.req.socket.remoteAddress }, 'rejected a media stream upgrade: missing or invalid X-Twilio-Signature');
        return done(false, 403, 'Forbidden');
      }
      // Sockets that never say `start` cost little each, but they must not pile up.
      if (this.registry.unstartedAtLimit) return done(false, 503, 'Too many streams waiting for start');
      done(true);
    };
  }

  handleConnection(client: WebSocket): void {
    this.calls.create(client);
  }
}

/** The path used by OpenAI's original TypeScript demo, kept so its TwiML keeps working. */
@WebSocketGateway({ path: '/call', maxPayload: TWILIO_MAX_PAYLOAD, perMessageDeflate: false })
export class LegacyCallGateway extends CallGateway {}
