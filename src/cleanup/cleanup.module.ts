import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { CallGatewayModule } from '../call-gateway/call-gateway.module';
import { RecordsModule } from '../records/records.module';
import { RecordRetention } from './record-retention.service';
import { SessionSweeper } from './session-sweeper.service';

@Module({
  imports: [ScheduleModule.forRoot(), CallGatewayModule, RecordsModule],
  providers: [SessionSweeper, RecordRetention],
  exports: [SessionSweeper, RecordRetention],
})
export class CleanupModule {}
