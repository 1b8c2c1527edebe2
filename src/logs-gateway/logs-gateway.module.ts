import { Module } from '@nestjs/common';
import { CallGatewayModule } from '../call-gateway/call-gateway.module';
import { LegacyLogsGateway, LogsGateway } from './logs.gateway';

@Module({
  imports: [CallGatewayModule],
  providers: [LogsGateway, LegacyLogsGateway],
  exports: [LogsGateway, LegacyLogsGateway],
})
export class LogsGatewayModule {}
