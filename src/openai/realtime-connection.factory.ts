import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { RealtimeConnection } from './realtime-connection';

@Injectable()
export class RealtimeConnectionFactory {
  constructor(private readonly config: AppConfig) {}

  create(callSid?: string): RealtimeConnection {
    const { OPENAI_REALTIME_URL, OPENAI_API_KEY, OPENAI_MODEL } = this.config;
    if (!OPENAI_API_KEY) throw new Error('OPENAI_API_KEY is not set');
    return new RealtimeConnection({ url: OPENAI_REALTIME_URL, apiKey: OPENAI_API_KEY, model: OPENAI_MODEL, callSid });
  }
}
