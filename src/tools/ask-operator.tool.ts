import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ToolError, type AgentTool, type ToolContext } from './agent-tool';
import { OperatorDesk } from './operator-desk.service';

/**
 * Lets the model ask the person watching the dashboard. The tool itself never answers: an operator
 * does, through Call.answerFunctionCall (the dashboard's function-call box); until then it
 * waits, up to OPERATOR_ANSWER_TIMEOUT_MS. Offered only to calls that start while someone watches.
 */
@Injectable()
export class AskOperatorTool implements AgentTool<{ question: string }> {
  readonly name = 'ask_operator';
  readonly description =
    'Ask the human operator supervising this call for information or a decision you cannot make yourself. ' +
    'Tell the caller you are checking first; the answer can take a while.';
  readonly parameters = {
    type: 'object' as const,
    properties: { question: { type: 'string', description: 'The question for the operator, self-contained.' } },
    required: ['question'],
    additionalProperties: false,
  };
  readonly timeoutMs: number;

  constructor(
    config: AppConfig,
    private readonly desk: OperatorDesk,
  ) {
    this.timeoutMs = config.OPERATOR_ANSWER_TIMEOUT_MS;
  }

  available(): boolean {
    return this.desk.isWatched;
  }

  run(_args: { question: string }, { signal }: ToolContext): Promise<unknown> {
    // The operator may have left since the call started: say so at once rather than wait.
    if (!this.desk.isWatched) return Promise.reject(new ToolError('No operator is watching right now'));
    return new Promise((_resolve, reject) => {
      signal.addEventListener('abort', () => reject(new ToolError('No operator answered')), { once: true });
    });
  }
}
