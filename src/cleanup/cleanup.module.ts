import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { CallGatewayModule } from '../call-gateway/call-gateway.module';
import { SessionSweeper } from './session-sweeper.service';

@Module({
  imports: [ScheduleModule.forRoot(), CallGatewayModule],
  providers: [SessionSweeper],
  exports: [SessionSweeper],
})
export class CleanupModule {}
