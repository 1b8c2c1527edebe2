import { Injectable } from '@nestjs/common';
import { RealtimeEngine } from './realtime/realtime-engine';
import type { SessionSpec, VoiceEngine, VoiceSession } from './voice-engine';

/**
 * Dials voice sessions: pre-dial at /twiml, dial-on-start, reconnects and rollovers all come here,
 * so every session of a call is configured the same way.
 */
@Injectable()
export class ModelDialer {
  private readonly engine: VoiceEngine;

  constructor(realtime: RealtimeEngine) {
    this.engine = realtime;
  }

  /** Throws only when the server is not configured to dial (e.g. no API key); network failures arrive as onClosed. */
  dial(spec: SessionSpec): VoiceSession {
    return this.engine.dial(spec);
  }
}
