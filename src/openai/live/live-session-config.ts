import type {
  FunctionTool,
  InitialItem,
  ResponsesDelegationConfig,
  ResponsesDelegationUpdateConfig,
  SessionConfig,
  SessionStartEvent,
  SessionUpdateEvent,
} from 'openai/resources/live/live';
import type { AppConfig } from '../../config/app-config';
import type { AgentSettings } from '../session-config.service';
import type { ContextItem, ToolSchema } from '../voice-engine';

/** GPT-Live's start-up history: at most 128 messages; we stay below, with room for our own note. */
export const MAX_HISTORY_MESSAGES = 120;
/**
 * And about 8,192 rendered tokens by default. Tokens are not counted here: at ~4 characters per
 * token this keeps well below the limit (the newest items are kept, the oldest dropped).
 */
export const MAX_HISTORY_CHARS = 24_000;
/** session.commentary/thinking/instructions.append take at most 500 tokens: ~2,000 characters, with a margin. */
export const MAX_APPEND_CHARS = 1_800;

/** Said after a replayed history, so a new session does not greet the caller again. */
export const RESUMED_NOTE =
  'The conversation above already happened on this phone call; the connection was restored after a technical interruption. ' +
  'Carry on from where it stopped. Do not greet the caller again.';

/** The instruction sent when the call asks the model to go on without saying what (after a reconnect cut an answer short). */
export const CONTINUE_INSTRUCTION =
  'The connection dropped for a moment. If you were in the middle of an answer, finish it briefly; otherwise wait for the caller.';

/** How our tools reach GPT-Live: through its Responses backend, as function tools. */
export function liveFunctionTools(tools: ToolSchema[]): FunctionTool[] {
  return tools.map((tool) => ({
    type: 'function',
    name: tool.name ?? '',
    description: tool.description ?? null,
    parameters: (tool.parameters as FunctionTool['parameters']) ?? null,
  }));
}

/** The delegation block: our tools for the Responses backend, or none (client delegation). */
function delegation(config: AppConfig, settings: AgentSettings, tools: ToolSchema[]): SessionConfig['delegation'] {
  if (config.LIVE_DELEGATION === 'client') return { type: 'client' };
  const responses: ResponsesDelegationConfig = {
    model: config.LIVE_RESPONSES_MODEL,
    // One prompt for both: it says how to talk and when to use which tool (weather, end_call).
    instructions: settings.instructions,
    tools: liveFunctionTools(tools),
    tool_choice: 'auto',
  };
  // Unset = the service's default: only what the operator chose is sent.
  if (config.LIVE_REASONING_EFFORT) responses.reasoning = { effort: config.LIVE_REASONING_EFFORT };
  return { type: 'responses', responses };
}

/**
 * The first message of a GPT-Live session: μ-law both ways at 8 kHz (Twilio's format: no
 * transcoding; the rate is required for pcmu), the call's voice and instructions, the delegation,
 * and the conversation so far as text history. Only fields the protocol defines: the service
 * rejects unknown ones. Returns the ids of the history items it carries, so they are not added twice.
 */
export function liveSessionStart(
  config: AppConfig,
  settings: AgentSettings,
  tools: ToolSchema[],
  history: readonly ContextItem[],
): { event: SessionStartEvent; included: Set<string> } {
  const session: SessionConfig = {
    model: config.OPENAI_LIVE_MODEL,
    instructions: settings.instructions,
    audio: { format: { type: 'audio/pcmu', rate: 8000 }, output: { voice: settings.voice } },
    delegation: delegation(config, settings, tools),
  };
  const { input, included } = historyInput(history);
  if (input.length > 0) session.input = input;
  return { event: { type: 'session.start', event_id: 'start', session }, included };
}

/**
 * A `session.update` for the Responses backend (Responses delegation only). After start,
 * `session.update` changes the delegation's settings, and the backend's instructions and tools
 * among them are replaced whole (its model and reasoning could change too; this server keeps them
 * from the environment). The Live model's own instructions cannot change: they are appended to
 * (session.instructions.append), and its model, voice and audio are fixed.
 */
export function liveBackendUpdate(change: { instructions?: string; tools?: ToolSchema[] }, eventId: string): SessionUpdateEvent {
  const responses: ResponsesDelegationUpdateConfig = {};
  // Omitted settings keep their values: only what changed is sent.
  if (change.instructions !== undefined) responses.instructions = change.instructions;
  if (change.tools !== undefined) responses.tools = liveFunctionTools(change.tools);
  return { type: 'session.update', event_id: eventId, session: { delegation: { type: 'responses', responses } } };
}

/**
 * The conversation as GPT-Live's start-up history: user and assistant messages as they were said
 * (or heard), tool calls and their results as developer notes (history takes text messages only),
 * newest kept within the limits, then a note that this is a resumed call.
 */
export function historyInput(history: readonly ContextItem[]): { input: InitialItem[]; included: Set<string> } {
  const names = new Map<string, string>();
  for (const item of history) if (item.type === 'function_call') names.set(item.callId, item.name);
  const picked: { id: string; item: InitialItem }[] = [];
  let chars = RESUMED_NOTE.length;
  for (let i = history.length - 1; i >= 0 && picked.length < MAX_HISTORY_MESSAGES; i--) {
    const entry = history[i];
    const text = historyText(entry, names);
    if (!text) continue;
    if (chars + text.length > MAX_HISTORY_CHARS) break;
    chars += text.length;
    picked.push({ id: entry.id, item: historyItem(entry, text) });
  }
  picked.reverse();
  const input = picked.map((p) => p.item);
  if (input.length > 0) input.push({ type: 'message', role: 'developer', content: [{ type: 'input_text', text: RESUMED_NOTE }] });
  // Everything offered counts as known, even what the limits left out: it is old, and re-sending it later would only confuse.
  return { input, included: new Set(history.map((item) => item.id)) };
}

function historyItem(entry: ContextItem, text: string): InitialItem {
  if (entry.type === 'message' && entry.role === 'user') return { type: 'message', role: 'user', content: [{ type: 'input_text', text }] };
  if (entry.type === 'message') return { type: 'message', role: 'assistant', content: [{ type: 'output_text', text }] };
  return { type: 'message', role: 'developer', content: [{ type: 'input_text', text }] };
}

function historyText(entry: ContextItem, names: Map<string, string>): string {
  switch (entry.type) {
    case 'message':
      return entry.text.trim();
    case 'function_call':
      return `The assistant called the tool ${entry.name} with ${entry.arguments || '{}'}.`;
    case 'function_call_output':
      return `The tool ${names.get(entry.callId) ?? 'call'} returned: ${entry.output}`;
  }
}

/**
 * Context that reaches a session after it started (a keypress, what was said while a standby
 * session waited, a tool result it did not ask for), as one silent `session.thinking.append`
 * text: the newest lines that fit in 500 tokens.
 */
export function contextNote(items: readonly ContextItem[]): string {
  const names = new Map<string, string>();
  for (const item of items) if (item.type === 'function_call') names.set(item.callId, item.name);
  const lines: string[] = [];
  let chars = 0;
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i];
    const text = historyText(item, names);
    if (!text) continue;
    const line = item.type === 'message' ? `${item.role === 'user' ? 'Caller' : 'Assistant'}: ${text}` : text;
    if (chars + line.length > MAX_APPEND_CHARS) {
      if (lines.length === 0) lines.push(line.slice(0, MAX_APPEND_CHARS));
      break;
    }
    chars += line.length + 1;
    lines.push(line);
  }
  return lines.reverse().join('\n');
}
