import { Injectable } from '@nestjs/common';
import type { AgentTool, ToolContext } from './agent-tool';

/** Lets the model hang up: the call ends once its goodbye has finished playing. */
@Injectable()
export class EndCallTool implements AgentTool {
  readonly name = 'end_call';
  readonly description = 'End the phone call. Call this after you have said goodbye, when the caller wants to end the call or the conversation is complete.';
  readonly parameters = {
    type: 'object' as const,
    properties: { reason: { type: 'string', description: 'Why the call is ending, in a few words.' } },
    additionalProperties: false,
  };

  async run(_args: Record<string, unknown>, context: ToolContext): Promise<unknown> {
    context.requestHangup();
    return { ok: true, note: 'The call will end after your goodbye has played. Do not say anything else.' };
  }
}
