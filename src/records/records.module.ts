import { Module } from '@nestjs/common';
import { CallGatewayModule } from '../call-gateway/call-gateway.module';
import { AppConfig } from '../config/app-config';
import { MetricsModule } from '../metrics/metrics.module';
import { OpenAIModule } from '../openai/openai.module';
import { AgentConfigPersistence } from './agent-config-persistence.service';
import { CallRecorder } from './call-recorder.service';
import { CostMeter } from './cost-meter.service';
import { PostCallWebhook } from './post-call-webhook.service';
import { PriceTable } from './price-table';
import { RecordWriter } from './record-writer.service';
import { RecordsController } from './records.controller';
import { RecordsMetrics } from './records-metrics.service';
import { RecordsStore } from './records-store.service';

/**
 * Call records: every call's details, transcript, tool calls, events, usage and cost in a database
 * (embedded PGlite, or PostgreSQL with DATABASE_URL), read from the call events off the audio path;
 * the history API, the post-call webhook, and the saved agent configuration.
 */
@Module({
  imports: [CallGatewayModule, OpenAIModule, MetricsModule],
  controllers: [RecordsController],
  providers: [
    { provide: PriceTable, useFactory: (config: AppConfig) => PriceTable.fromFile(config.PRICES_FILE), inject: [AppConfig] },
    RecordsStore,
    RecordsMetrics,
    RecordWriter,
    AgentConfigPersistence,
    CostMeter,
    CallRecorder,
    PostCallWebhook,
  ],
  exports: [RecordsStore, RecordWriter, CallRecorder, PostCallWebhook, PriceTable],
})
export class RecordsModule {}
