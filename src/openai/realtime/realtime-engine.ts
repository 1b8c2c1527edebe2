import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import type { SessionSpec, VoiceEngine } from '../voice-engine';
import { RealtimeSession } from './realtime-session';

/** The OpenAI Realtime API (GA protocol) as a voice engine. */
@Injectable()
export class RealtimeEngine implements VoiceEngine {
  readonly name = 'realtime' as const;

  constructor(private readonly config: AppConfig) {}

  get model(): string {
    return this.config.OPENAI_MODEL;
  }

  dial(spec: SessionSpec): RealtimeSession {
    const { OPENAI_REALTIME_URL, OPENAI_API_KEY } = this.config;
    if (!OPENAI_API_KEY) throw new Error('OPENAI_API_KEY is not set');
    return new RealtimeSession(spec, this.config, { url: OPENAI_REALTIME_URL, apiKey: OPENAI_API_KEY, handshakeTimeoutMs: 10_000 });
  }
}
