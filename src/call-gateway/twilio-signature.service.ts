import { Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import twilio from 'twilio';
import { AppConfig } from '../config/app-config';

/**
 * Checks `X-Twilio-Signature` with the official helper (constant-time compare inside).
 * Twilio signs the URL it requested, so the URL is rebuilt from PUBLIC_URL, never from the
 * local request alone (which is wrong behind any proxy or tunnel).
 */
@Injectable()
export class TwilioSignatureService {
  constructor(private readonly config: AppConfig) {}

  get enabled(): boolean {
    return Boolean(this.config.TWILIO_AUTH_TOKEN);
  }

  /** A webhook request: signature over the public URL (with query) plus the POST form params. */
  verifyWebhook(signature: string | undefined, pathAndQuery: string, params: Record<string, unknown>): boolean {
    if (!this.enabled) return true;
    const url = this.config.publicUrl(pathAndQuery);
    if (!signature || !url) return false;
    return twilio.validateRequest(this.config.TWILIO_AUTH_TOKEN!, signature, url, params);
  }

  /** The Media Streams upgrade: signature over the wss:// URL, no params. */
  verifyUpgrade(req: IncomingMessage): boolean {
    if (!this.enabled) return true;
    const header = req.headers['x-twilio-signature'];
    const signature = Array.isArray(header) ? header[0] : header;
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const url = this.config.streamUrl(path);
    if (!signature || !url) return false;
    return twilio.validateRequest(this.config.TWILIO_AUTH_TOKEN!, signature, url, {});
  }
}
