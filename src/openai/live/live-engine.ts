import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import type { SessionSpec, VoiceEngine } from '../voice-engine';
import { LiveSession } from './live-session';

/** OpenAI GPT-Live (`/v1/live/sessions`) as a voice engine. */
@Injectable()
export class LiveEngine implements VoiceEngine {
  readonly name = 'live' as const;

  constructor(private readonly config: AppConfig) {}

  get model(): string {
    return this.config.OPENAI_LIVE_MODEL;
  }

  dial(spec: SessionSpec): LiveSession {
    const { OPENAI_LIVE_URL, OPENAI_API_KEY } = this.config;
    if (!OPENAI_API_KEY) throw new Error('OPENAI_API_KEY is not set');
    return new LiveSession(spec, this.config, { url: OPENAI_LIVE_URL, apiKey: OPENAI_API_KEY, handshakeTimeoutMs: 10_000 });
  }
}
