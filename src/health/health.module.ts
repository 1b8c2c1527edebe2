import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CallGatewayModule } from '../call-gateway/call-gateway.module';
import { CallsHealthIndicator } from './calls.health';
import { HealthController } from './health.controller';

@Module({
  imports: [TerminusModule, CallGatewayModule],
  controllers: [HealthController],
  providers: [CallsHealthIndicator],
})
export class HealthModule {}
