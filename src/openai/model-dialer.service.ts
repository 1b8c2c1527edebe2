import { Injectable } from '@nestjs/common';
import type { VoiceEngineName } from '../call-gateway/call-events';
import { LiveEngine } from './live/live-engine';
import { RealtimeEngine } from './realtime/realtime-engine';
import type { AgentSettings } from './session-config.service';
import type { SessionSpec, VoiceEngine, VoiceSession } from './voice-engine';

/**
 * Dials voice sessions: pre-dial at /twiml, dial-on-start, reconnects and rollovers all come here,
 * so every session of a call is configured the same way — on the engine its settings name
 * (VOICE_ENGINE, or the dashboard's saved configuration when the call was answered).
 */
@Injectable()
export class ModelDialer {
  private readonly engines: Record<VoiceEngineName, VoiceEngine>;

  constructor(realtime: RealtimeEngine, live: LiveEngine) {
    this.engines = { realtime, live };
  }

  /** The engine a call with these settings runs on (its name and model, for call.started). */
  engineFor(settings: AgentSettings): VoiceEngine {
    return this.engines[settings.engine];
  }

  /** Throws only when the server is not configured to dial (e.g. no API key); network failures arrive as onClosed. */
  dial(spec: SessionSpec): VoiceSession {
    return this.engineFor(spec.settings).dial(spec);
  }
}
