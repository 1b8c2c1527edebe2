import { Inject, Injectable, Logger } from '@nestjs/common';
import Ajv, { type ValidateFunction } from 'ajv';
import type { RealtimeFunctionTool } from 'openai/resources/realtime/realtime';
import { AppConfig } from '../config/app-config';
import { AGENT_TOOLS, ToolError, type AgentTool, type ToolContext } from './agent-tool';

export interface ToolResult {
  /** The `function_call_output.output`: a JSON string, encoded once. */
  output: string;
  /** Set when the tool did not succeed (unknown tool, bad arguments, threw, timed out): what the model was told, never internal detail. */
  error?: string;
  durationMs: number;
}

export class ToolTimeoutError extends ToolError {}

/** Runs the model's function calls. Never throws: every failure becomes a JSON error output for the model. */
@Injectable()
export class ToolRegistry {
  private readonly logger = new Logger(ToolRegistry.name);
  private readonly tools = new Map<string, { tool: AgentTool; validate: ValidateFunction; schema: RealtimeFunctionTool }>();

  constructor(
    @Inject(AGENT_TOOLS) tools: AgentTool[],
    private readonly config: AppConfig,
  ) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    for (const tool of tools) {
      if (this.tools.has(tool.name)) throw new Error(`Two tools are named ${tool.name}`);
      const schema: RealtimeFunctionTool = { type: 'function', name: tool.name, description: tool.description, parameters: tool.parameters };
      this.tools.set(tool.name, { tool, validate: ajv.compile(tool.parameters), schema });
    }
  }

  /** The tool schemas sent to the model in `session.update`: every tool available right now. */
  schemas(): RealtimeFunctionTool[] {
    const out: RealtimeFunctionTool[] = [];
    for (const { tool, schema } of this.tools.values()) if (tool.available?.() !== false) out.push(schema);
    return out;
  }

  /** Every registered tool's schema, available now or not. */
  registered(): RealtimeFunctionTool[] {
    return [...this.tools.values()].map((entry) => entry.schema);
  }

  async execute(name: string, rawArguments: string, context: Omit<ToolContext, 'signal'> & { signal?: AbortSignal }): Promise<ToolResult> {
    const started = performance.now();
    const fail = (error: string): ToolResult => ({
      output: JSON.stringify({ error }),
      error,
      durationMs: Math.round(performance.now() - started),
    });
    const entry = this.tools.get(name);
    if (!entry) return fail(`Unknown tool "${name}"`);
    let args: unknown;
    try {
      args = rawArguments.trim() === '' ? {} : JSON.parse(rawArguments);
    } catch {
      return fail(`Arguments are not valid JSON: ${truncate(rawArguments, 200)}`);
    }
    if (!entry.validate(args)) {
      const details = (entry.validate.errors ?? []).map((e) => `${e.instancePath || 'arguments'} ${e.message}`).join('; ');
      return fail(`Invalid arguments: ${details}`);
    }
    const timeoutMs = entry.tool.timeoutMs ?? this.config.TOOL_TIMEOUT_MS;
    const timeout = new AbortController();
    const signal = context.signal ? AbortSignal.any([context.signal, timeout.signal]) : timeout.signal;
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        entry.tool.run(args as Record<string, unknown>, { ...context, signal }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            // Settle the race before aborting: a tool that resolves on abort must not win it.
            reject(new ToolTimeoutError(`Tool "${name}" timed out after ${timeoutMs} ms`));
            timeout.abort();
          }, timeoutMs);
        }),
      ]);
      return { output: JSON.stringify(result ?? null), durationMs: Math.round(performance.now() - started) };
    } catch (err) {
      // The detail (a host, a port, a stack) is for the operator's log; the model gets what it can act on.
      // A run cut short by the call (hang-up, an operator's answer) is not the tool's failure.
      if (context.signal?.aborted) this.logger.debug({ err, callSid: context.callSid, tool: name }, `tool ${name} stopped: the call no longer needs it`);
      else this.logger.warn({ err, callSid: context.callSid, tool: name }, `tool ${name} failed`);
      return fail(err instanceof ToolError ? err.message : `The ${name} tool failed; try again later or do without it.`);
    } finally {
      clearTimeout(timer);
    }
  }
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
