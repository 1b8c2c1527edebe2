import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CallGatewayModule } from '../call-gateway/call-gateway.module';
import { RecordsModule } from '../records/records.module';
import { CallsHealthIndicator } from './calls.health';
import { EventLoopMonitor } from './event-loop-monitor.service';
import { HealthController } from './health.controller';
import { ModelReachability } from './model-reachability.service';
import { ProcessHealthIndicator } from './process.health';
import { RecordsHealthIndicator } from './records.health';

@Module({
  // Terminus's own logger would print every failed probe (e.g. each one at capacity) as an error;
  // failed probes are in the request log instead, at warn level.
  imports: [TerminusModule.forRoot({ logger: false }), CallGatewayModule, RecordsModule],
  controllers: [HealthController],
  providers: [CallsHealthIndicator, ProcessHealthIndicator, EventLoopMonitor, ModelReachability, RecordsHealthIndicator],
  exports: [ModelReachability],
})
export class HealthModule {}
