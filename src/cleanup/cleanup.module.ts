import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { CallGatewayModule } from '../call-gateway/call-gateway.module';
import { RecordsModule } from '../records/records.module';
import { AbandonedCallSweeper } from './abandoned-call-sweeper.service';
import { RecordRetention } from './record-retention.service';
import { SessionSweeper } from './session-sweeper.service';

@Module({
  imports: [ScheduleModule.forRoot(), CallGatewayModule, RecordsModule],
  providers: [SessionSweeper, RecordRetention, AbandonedCallSweeper],
  exports: [SessionSweeper, RecordRetention, AbandonedCallSweeper],
})
export class CleanupModule {}
