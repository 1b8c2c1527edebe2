import { Module } from '@nestjs/common';
import { AccessModule } from './access/access.module';
import { AppController } from './app.controller';
import { CallGatewayModule } from './call-gateway/call-gateway.module';
import { CleanupModule } from './cleanup/cleanup.module';
import { AppConfigModule } from './config/config.module';
import { HealthModule } from './health/health.module';
import { LoggingModule } from './logging/logging.module';
import { LogsGatewayModule } from './logs-gateway/logs-gateway.module';
import { MetricsModule } from './metrics/metrics.module';
import { OpenAIModule } from './openai/openai.module';
import { RecordsModule } from './records/records.module';
import { ToolsModule } from './tools/tools.module';
import { TwimlModule } from './twiml/twiml.module';

@Module({
  imports: [
    AppConfigModule,
    AccessModule,
    LoggingModule,
    OpenAIModule,
    ToolsModule,
    CallGatewayModule,
    TwimlModule,
    LogsGatewayModule,
    HealthModule,
    CleanupModule,
    MetricsModule,
    RecordsModule,
  ],
  controllers: [AppController],
})
export class AppModule {}
