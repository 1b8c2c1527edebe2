/** What a tool's handler may know about and do to the call it runs in. */
export interface ToolContext {
  callSid: string;
  /** Aborted when the tool times out or the call ends. */
  signal: AbortSignal;
  /** Ask the call to hang up once the assistant's goodbye has finished playing. */
  requestHangup(): void;
}

/** JSON schema of a function's parameters, as sent to the model. */
export interface ToolParameters {
  type: 'object';
  properties: Record<string, unknown>;
  required?: string[];
  additionalProperties?: boolean;
}

/**
 * A function the model can call. To add one: write an @Injectable() class implementing this
 * interface and list it in `TOOL_CLASSES` (tools.module.ts).
 */
export interface AgentTool<Args = Record<string, unknown>> {
  readonly name: string;
  readonly description: string;
  readonly parameters: ToolParameters;
  /** Overrides TOOL_TIMEOUT_MS for this tool (e.g. one that waits for a person). */
  readonly timeoutMs?: number;
  /** When present and false, the tool is not offered to calls starting now. */
  available?(): boolean;
  /**
   * Returns any JSON-serialisable value. Throwing is fine: a ToolError's message goes to the model;
   * any other error is logged and the model only learns that the tool failed (an error message may
   * name internal hosts, ports or paths).
   */
  run(args: Args, context: ToolContext): Promise<unknown>;
}

/** A failure the model may be told about as is: its message is written for the model (and the caller), never internal detail. */
export class ToolError extends Error {
  override readonly name = 'ToolError';
}

/** Injection token for the list of tools the registry offers. */
export const AGENT_TOOLS = Symbol('AGENT_TOOLS');
