import { Module } from '@nestjs/common';
import { CallGatewayModule } from '../call-gateway/call-gateway.module';
import { OpenAIModule } from '../openai/openai.module';
import { ToolsModule } from '../tools/tools.module';
import { DashboardAuth } from './dashboard-auth.service';
import { DashboardAuthGuard } from './dashboard-auth.guard';
import { LiveCallsStore } from './live-calls.store';
import { LegacyLogsGateway, LogsGateway } from './logs.gateway';
import { OperatorCommandsService } from './operator-commands.service';
import { SessionConfigController } from './session-config.controller';

/** The operator's side: the dashboard socket, the session-config API and their shared auth. */
@Module({
  imports: [CallGatewayModule, OpenAIModule, ToolsModule],
  controllers: [SessionConfigController],
  providers: [LogsGateway, LegacyLogsGateway, DashboardAuth, DashboardAuthGuard, LiveCallsStore, OperatorCommandsService],
  exports: [LogsGateway, LegacyLogsGateway, DashboardAuth, DashboardAuthGuard],
})
export class LogsGatewayModule {}
