import { Logger } from '@nestjs/common';

/** What identifies a call in its log lines (empty until Twilio's `start` says). */
export interface CallIds {
  readonly callSid: string;
  readonly streamSid: string;
}

/**
 * A Nest logger for one call: every line carries the call's `callSid` and `streamSid` as
 * structured fields (read when the line is written, so they appear as soon as `start` set them).
 * With the pino logger the object is merged into the JSON line; the message stays a plain string.
 * Never used per audio frame.
 */
export class CallLogger {
  private readonly logger: Logger;

  constructor(
    context: string,
    private readonly call: CallIds,
  ) {
    this.logger = new Logger(context);
  }

  log(message: string): void {
    this.logger.log(this.fields(), message);
  }

  warn(message: string): void {
    this.logger.warn(this.fields(), message);
  }

  /** With `err`, pino's error serializer keeps its type and stack. */
  error(message: string, err?: unknown): void {
    this.logger.error(err === undefined ? this.fields() : { ...this.fields(), err }, message);
  }

  debug(message: string): void {
    this.logger.debug(this.fields(), message);
  }

  private fields(): Partial<CallIds> {
    const { callSid, streamSid } = this.call;
    if (!callSid) return {};
    return streamSid ? { callSid, streamSid } : { callSid };
  }
}
