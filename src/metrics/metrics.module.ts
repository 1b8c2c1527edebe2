import { Module } from '@nestjs/common';
import { CallGatewayModule } from '../call-gateway/call-gateway.module';
import { LogsGatewayModule } from '../logs-gateway/logs-gateway.module';
import { ToolsModule } from '../tools/tools.module';
import { MetricsAccessGuard } from './metrics-access.guard';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

/** GET /metrics for Prometheus. Reads call events and live sessions; nothing on the audio path calls it. */
@Module({
  imports: [CallGatewayModule, ToolsModule, LogsGatewayModule],
  controllers: [MetricsController],
  providers: [MetricsService, MetricsAccessGuard],
  exports: [MetricsService],
})
export class MetricsModule {}
