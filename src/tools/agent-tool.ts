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
  /** Returns any JSON-serialisable value; throwing is fine (the model gets the message as an error). */
  run(args: Args, context: ToolContext): Promise<unknown>;
}

/** Injection token for the list of tools the registry offers. */
export const AGENT_TOOLS = Symbol('AGENT_TOOLS');
