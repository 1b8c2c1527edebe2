// What a dashboard may send on /ws/logs: one union type and one hand-written parser with cheap
// guards. The configuration payload is checked later against the same DTO as PUT /session-config.

export type DashboardCommand =
  /** Watch every call (callSid null) or one; answered with a fresh snapshot. */
  | { type: 'subscribe'; id: string | null; callSid: string | null }
  /** Change the saved configuration for new calls, or (with callSid) one live call's. */
  | { type: 'config.update'; id: string | null; callSid: string | null; config: Record<string, unknown> }
  /** Settle a running function call with the operator's answer. */
  | { type: 'function_call.answer'; id: string | null; callSid: string; callId: string; output: string }
  | { type: 'call.hangup'; id: string | null; callSid: string };

export type DashboardCommandType = DashboardCommand['type'];

export interface CommandParseError {
  error: string;
  /** Echoed back when the message carried a usable one, so the client can match the reply. */
  id: string | null;
  type: string | null;
}

export const MAX_ANSWER_CHARS = 8000;
const ID = /^[\w.:-]{1,64}$/;
const SID = /^[A-Za-z0-9_-]{1,64}$/;
const CALL_ID = /^[\w.:-]{1,128}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isCallSid(value: unknown): value is string {
  return typeof value === 'string' && SID.test(value);
}

export function parseDashboardCommand(text: string): DashboardCommand | CommandParseError {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return { error: 'not JSON', id: null, type: null };
  }
  if (!isRecord(message)) return { error: 'expected a JSON object', id: null, type: null };
  const id = typeof message.id === 'string' && ID.test(message.id) ? message.id : null;
  const type = typeof message.type === 'string' ? message.type.slice(0, 64) : null;
  const fail = (error: string): CommandParseError => ({ error, id, type });
  if (message.id !== undefined && id === null) return fail('id must be a string of 1-64 letters, digits, "_", ".", ":" or "-"');

  switch (message.type) {
    case 'subscribe': {
      const callSid = message.callSid ?? null;
      if (callSid !== null && !isCallSid(callSid)) return fail('callSid must be a call SID or null (all calls)');
      return { type: 'subscribe', id, callSid };
    }
    case 'config.update': {
      const callSid = message.callSid ?? null;
      if (callSid !== null && !isCallSid(callSid)) return fail('callSid must be a call SID, or absent for new calls');
      if (!isRecord(message.config)) return fail('config must be an object');
      return { type: 'config.update', id, callSid, config: message.config };
    }
    case 'function_call.answer': {
      if (!isCallSid(message.callSid)) return fail('callSid is required');
      if (typeof message.callId !== 'string' || !CALL_ID.test(message.callId)) return fail('callId is required');
      const output = message.output;
      if (typeof output !== 'string' || output.trim() === '') return fail('output must be a non-empty string');
      if (output.length > MAX_ANSWER_CHARS) return fail(`output must be at most ${MAX_ANSWER_CHARS} characters`);
      return { type: 'function_call.answer', id, callSid: message.callSid, callId: message.callId, output };
    }
    case 'call.hangup':
      if (!isCallSid(message.callSid)) return fail('callSid is required');
      return { type: 'call.hangup', id, callSid: message.callSid };
    default:
      return fail(type === null ? 'type is required' : `unknown command type "${type}"`);
  }
}
