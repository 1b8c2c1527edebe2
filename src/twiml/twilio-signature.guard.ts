import { CanActivate, ExecutionContext, ForbiddenException, Injectable, Logger } from '@nestjs/common';
import type { Request } from 'express';
import { TwilioSignatureService } from '../call-gateway/twilio-signature.service';

/** The two usual causes, for whoever set the server up (no values: they may be secrets). */
export const INVALID_SIGNATURE =
  "Invalid X-Twilio-Signature: TWILIO_AUTH_TOKEN must be the auth token of the Twilio account that owns the number, and the number's " +
  'webhook must be exactly PUBLIC_URL + /twiml (the signature covers the URL Twilio requested)';

/** 403 unless the request carries a valid X-Twilio-Signature (when TWILIO_AUTH_TOKEN is set). */
@Injectable()
export class TwilioSignatureGuard implements CanActivate {
  private readonly logger = new Logger(TwilioSignatureGuard.name);

  constructor(private readonly signatures: TwilioSignatureService) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    const params = req.method === 'POST' && req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
    if (this.signatures.verifyWebhook(req.header('x-twilio-signature'), req.originalUrl, params)) return true;
    this.logger.warn(`rejected ${req.method} ${req.path} from ${req.ip}: missing or invalid X-Twilio-Signature`);
    throw new ForbiddenException(INVALID_SIGNATURE);
  }
}
