import { Injectable } from '@nestjs/common';
import twilio from 'twilio';
import { AppConfig } from '../config/app-config';

export interface StreamCall {
  callSid?: string;
  from?: string;
  to?: string;
  direction?: string;
  /** One-time secret proving the stream belongs to a call this server answered. */
  streamToken?: string;
}

/** Builds every TwiML document the server answers with, using the official helper. */
@Injectable()
export class TwimlService {
  constructor(private readonly config: AppConfig) {}

  /**
   * Connect the call to our media stream. When the stream ends Twilio asks `/twiml/stream-ended`
   * what to do next; the spoken fallback after <Connect> is there for when no action applies.
   */
  connect(call: StreamCall): string {
    const response = new twilio.twiml.VoiceResponse();
    const connect = response.connect({ action: this.config.publicUrl('/twiml/stream-ended'), method: 'POST' });
    const stream = connect.stream({ url: this.config.streamUrl('/ws/call')! });
    const params: Record<string, string | undefined> = {
      callSid: call.callSid,
      from: call.from,
      to: call.to,
      direction: call.direction,
      streamToken: call.streamToken,
    };
    for (const [name, value] of Object.entries(params)) {
      if (value) stream.parameter({ name, value });
    }
    response.say(this.config.AGENT_FALLBACK_MESSAGE);
    response.hangup();
    return response.toString();
  }

  /** Speak a message and hang up (busy, unavailable, fallback). */
  sayAndHangUp(message: string): string {
    const response = new twilio.twiml.VoiceResponse();
    response.say(message);
    response.hangup();
    return response.toString();
  }

  hangUp(): string {
    const response = new twilio.twiml.VoiceResponse();
    response.hangup();
    return response.toString();
  }
}
