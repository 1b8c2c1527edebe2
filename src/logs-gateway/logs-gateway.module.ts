import { Module } from '@nestjs/common';
import { CallGatewayModule } from '../call-gateway/call-gateway.module';
import { OpenAIModule } from '../openai/openai.module';
import { ToolsModule } from '../tools/tools.module';
import { LiveCallsStore } from './live-calls.store';
import { LegacyLogsGateway, LogsGateway } from './logs.gateway';
import { OperatorCommandsService } from './operator-commands.service';
import { SessionConfigController } from './session-config.controller';

/** The operator's side: the dashboard socket and the session-config API (auth: AccessModule). */
@Module({
  imports: [CallGatewayModule, OpenAIModule, ToolsModule],
  controllers: [SessionConfigController],
  providers: [LogsGateway, LegacyLogsGateway, LiveCallsStore, OperatorCommandsService],
  exports: [LogsGateway, LegacyLogsGateway],
})
export class LogsGatewayModule {}
