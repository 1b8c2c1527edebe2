// What a dashboard may send on /ws/logs: the commands as sent (the published contract,
// docs/asyncapi.json, is generated from DashboardCommandMessage), the same commands as parsed, and
// one hand-written parser with cheap guards. The configuration payload is checked later against
// the same DTO as PUT /session-config.
import type { SessionConfigUpdateDto } from './session-config.dto';

/**
 * Echoed in the reply, so a client can match it to its command.
 * @pattern ^[\w.:-]{1,64}$
 */
export type CommandId = string;
/**
 * A Twilio CallSid.
 * @pattern ^[A-Za-z0-9_-]{1,64}$
 */
export type CommandCallSid = string;

/** A command as a dashboard sends it: one JSON text frame. */
export type DashboardCommandMessage =
  /** Watch one call, or every call (callSid null or absent); answered with command.ok, then a fresh snapshot. */
  | { type: 'subscribe'; id?: CommandId; callSid?: CommandCallSid | null }
  /**
   * Change the saved configuration for new calls (no callSid), or one live call now (its callSid: a
   * session.update naming only the given fields; a new voice is refused once the assistant has spoken).
   */
  | { type: 'config.update'; id?: CommandId; callSid?: CommandCallSid | null; config: SessionConfigUpdateDto }
  /** Settle a running function call with this output: JSON is sent to the model as is, plain text as {"answer": "…"}. */
  | {
      type: 'function_call.answer';
      id?: CommandId;
      callSid: CommandCallSid;
      /** @pattern ^[\w.:-]{1,128}$ */
      callId: string;
      /**
       * Not blank.
       * @minLength 1
       * @maxLength 8000
       */
      output: string;
    }
  /** End the call cleanly (call.ended reason `operator`; Twilio then hangs up without the apology). */
  | { type: 'call.hangup'; id?: CommandId; callSid: CommandCallSid };

/** The commands as parsed: absent ids and call SIDs are null, the configuration not yet validated. */
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

// The same rules are written as @pattern/@maxLength in DashboardCommandMessage for the published
// contract; test/asyncapi.e2e-spec.ts checks that both say the same.
export const MAX_ANSWER_CHARS = 8000;
export const COMMAND_ID = /^[\w.:-]{1,64}$/;
export const COMMAND_CALL_SID = /^[A-Za-z0-9_-]{1,64}$/;
export const FUNCTION_CALL_ID = /^[\w.:-]{1,128}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isCallSid(value: unknown): value is string {
  return typeof value === 'string' && COMMAND_CALL_SID.test(value);
}

export function parseDashboardCommand(text: string): DashboardCommand | CommandParseError {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return { error: 'not JSON', id: null, type: null };
  }
  if (!isRecord(message)) return { error: 'expected a JSON object', id: null, type: null };
  const id = typeof message.id === 'string' && COMMAND_ID.test(message.id) ? message.id : null;
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
      if (typeof message.callId !== 'string' || !FUNCTION_CALL_ID.test(message.callId)) return fail('callId is required');
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
