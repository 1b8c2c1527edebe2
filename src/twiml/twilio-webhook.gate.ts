import { Injectable, Logger } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { AppConfig } from '../config/app-config';

/** Twilio posts its webhooks form-encoded; nothing else is ever parsed on these routes. */
const FORM = 'application/x-www-form-urlencoded';

/**
 * The cheap checks on Twilio's webhooks that must come before the body is read: mounted in
 * setupApp() ahead of the body parsers (Nest guards only run after parsing). A request without a
 * signature, when signatures are required, is refused before its body is read, so a slow or
 * large body costs nothing; a body Twilio would never send (JSON, text, …) is refused without
 * parsing it (415). The signature itself is verified by TwilioSignatureGuard, over the parsed form.
 */
@Injectable()
export class TwilioWebhookGate {
  private readonly logger = new Logger(TwilioWebhookGate.name);

  constructor(private readonly config: AppConfig) {}

  /** Express middleware for the webhook routes (/twiml and below). */
  readonly handle = (req: Request, res: Response, next: NextFunction): void => {
    if (this.config.signaturesRequired && req.headers['x-twilio-signature'] === undefined) {
      this.logger.warn(`rejected ${req.method} ${req.originalUrl.split('?')[0]} from ${req.ip}: no X-Twilio-Signature`);
      return refuse(res, 403, 'Forbidden', 'Missing X-Twilio-Signature: only Twilio can call this webhook (TWILIO_AUTH_TOKEN is set)');
    }
    if (req.method === 'POST' && !isForm(req)) {
      const got = req.headers['content-type']?.slice(0, 80) ?? 'none';
      return refuse(res, 415, 'Unsupported Media Type', `Twilio webhooks are form-encoded: send Content-Type: ${FORM} (got ${got})`);
    }
    next();
  };
}

function isForm(req: Request): boolean {
  const type = req.headers['content-type'];
  return type !== undefined && type.split(';')[0].trim().toLowerCase() === FORM;
}

/** Answers in Nest's error shape and closes the connection: the unread body is never waited for. */
function refuse(res: Response, statusCode: number, error: string, message: string): void {
  res.setHeader('Connection', 'close');
  res.status(statusCode).json({ statusCode, error, message });
}
