import { Module, type Type } from '@nestjs/common';
import { AGENT_TOOLS, type AgentTool } from './agent-tool';
import { AskOperatorTool } from './ask-operator.tool';
import { EndCallTool } from './end-call.tool';
import { OperatorDesk } from './operator-desk.service';
import { ToolRegistry } from './tool-registry.service';
import { ToolsController } from './tools.controller';
import { WeatherTool } from './weather.tool';

/** Every tool the model is offered. Adding a tool = one class here. */
export const TOOL_CLASSES: Type<AgentTool<never>>[] = [WeatherTool, EndCallTool, AskOperatorTool];

@Module({
  controllers: [ToolsController],
  providers: [...TOOL_CLASSES, { provide: AGENT_TOOLS, useFactory: (...tools: AgentTool[]) => tools, inject: TOOL_CLASSES }, ToolRegistry, OperatorDesk],
  exports: [ToolRegistry, OperatorDesk],
})
export class ToolsModule {}
