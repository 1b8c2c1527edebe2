import { Module } from '@nestjs/common';
import { RealtimeConnectionFactory } from './realtime-connection.factory';
import { SessionConfigService } from './session-config.service';

@Module({
  providers: [RealtimeConnectionFactory, SessionConfigService],
  exports: [RealtimeConnectionFactory, SessionConfigService],
})
export class OpenAIModule {}
