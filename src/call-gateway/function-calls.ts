import type { ToolCall } from '../openai/voice-engine';
import type { ToolContext } from '../tools/agent-tool';
import type { ToolRegistry, ToolResult } from '../tools/tool-registry.service';
import { MAX_EVENT_TEXT, type CallEventBody } from './call-events';

export interface FunctionCallOutput {
  callId: string;
  name: string;
  result: ToolResult;
}

/**
 * One call's function calls: started as soon as the model finishes each one, answered together
 * when its response is done. Only tools offered to this call may run. A running call can also be
 * answered by an operator from the dashboard; the first answer wins and the tool is aborted.
 */
export class FunctionCalls {
  private readonly started = new Set<string>();
  private pending: Promise<FunctionCallOutput>[] = [];
  private readonly operatorAnswers = new Map<string, (output: string) => void>();
  /** Batches being awaited (their outputs are not sent yet). */
  running = 0;

  constructor(
    private readonly tools: ToolRegistry,
    /** Names of the tools offered to this call; the model may ask for others, which are refused. */
    private offered: ReadonlySet<string>,
    private readonly context: Omit<ToolContext, 'signal'> & { signal: AbortSignal },
    private readonly publish: (body: CallEventBody) => void,
  ) {}

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** Busy: calls started and not collected, or a batch whose outputs are not sent yet. */
  get busy(): boolean {
    return this.pending.length > 0 || this.running > 0;
  }

  /** The operator changed this call's tools. */
  offer(names: ReadonlySet<string>): void {
    this.offered = names;
  }

  /** Starts the tool for a finished function call (once per call id). */
  start(call: ToolCall): void {
    const { callId, name } = call;
    if (!callId || this.started.has(callId) || this.context.signal.aborted) return;
    this.started.add(callId);
    const args = call.arguments;
    // Dashboards and records get a bounded copy: the model's arguments may be up to a frame (1 MB).
    this.publish({ type: 'function_call.started', callId, name, arguments: args.slice(0, MAX_EVENT_TEXT) });
    const startedAt = performance.now();
    if (!this.offered.has(name)) {
      // A tool switched off for this call (or made up by the model) must not run.
      const known = this.tools.registered().some((t) => t.name === name);
      const error = known ? `Tool "${name}" is not available in this call` : `Unknown tool "${name}"`;
      const result: ToolResult = { output: JSON.stringify({ error }), error, durationMs: 0 };
      this.publish({ type: 'function_call.finished', callId, name, output: result.output, durationMs: 0, error, answeredBy: 'tool' });
      this.pending.push(Promise.resolve({ callId, name, result }));
      return;
    }
    const cancel = new AbortController();
    const byOperator = new Promise<{ result: ToolResult; answeredBy: 'operator' }>((resolve) => {
      this.operatorAnswers.set(callId, (output) => {
        cancel.abort();
        resolve({ result: { output, durationMs: Math.round(performance.now() - startedAt) }, answeredBy: 'operator' });
      });
    });
    const byTool = this.tools
      .execute(name, args, { ...this.context, signal: AbortSignal.any([this.context.signal, cancel.signal]) })
      .then((result) => ({ result, answeredBy: 'tool' as const }));
    const run = Promise.race([byTool, byOperator]).then(({ result, answeredBy }) => {
      this.operatorAnswers.delete(callId);
      if (!this.context.signal.aborted) {
        const output = result.output.slice(0, MAX_EVENT_TEXT);
        this.publish({ type: 'function_call.finished', callId, name, output, durationMs: result.durationMs, error: result.error, answeredBy });
      }
      return { callId, name, result };
    });
    this.pending.push(run);
  }

  /** Waits for every call started so far; the outputs come back in the order the calls were made. */
  async collect(): Promise<FunctionCallOutput[]> {
    const batch = this.pending;
    this.pending = [];
    this.running++;
    try {
      return await Promise.all(batch);
    } finally {
      this.running--;
    }
  }

  /** An operator's answer to a running call; false if there is no such call (any more). */
  answer(callId: string, output: string): boolean {
    const resolve = this.operatorAnswers.get(callId);
    if (!resolve) return false;
    this.operatorAnswers.delete(callId);
    resolve(output);
    return true;
  }
}
