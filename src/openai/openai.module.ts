import { Module } from '@nestjs/common';
import { LiveEngine } from './live/live-engine';
import { ModelDialer } from './model-dialer.service';
import { RealtimeEngine } from './realtime/realtime-engine';
import { SessionConfigService } from './session-config.service';

/** The voice engines behind one interface, the dialer that picks one, and the agent's configuration. */
@Module({
  providers: [RealtimeEngine, LiveEngine, ModelDialer, SessionConfigService],
  exports: [ModelDialer, SessionConfigService],
})
export class OpenAIModule {}
