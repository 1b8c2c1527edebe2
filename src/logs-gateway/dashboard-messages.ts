// What the server sends on /ws/logs: the types the gateway builds its messages from, and the
// source of the published contract (docs/asyncapi.json is generated from them by
// `npm run docs:asyncapi`; test/asyncapi.e2e-spec.ts fails when the two drift apart).
import type { CallEvent } from '../call-gateway/call-events';
import type { LiveCallView } from './live-calls.store';
import type { SessionConfigDto } from './session-config.dto';

/** Version of the envelope: it changes only if a field is renamed or removed (new fields may appear). */
export const LOG_EVENT_VERSION = 1;

/** What every message from the server carries. */
export interface DashboardEnvelope {
  v: typeof LOG_EVENT_VERSION;
  /** The call the message is about; null for messages about no single call. */
  callSid: string | null;
  /** When it was sent (call events: when they happened), ISO 8601 UTC. */
  ts: string;
}

/** A call event as dashboards get it: the event (src/call-gateway/call-events.ts) in the envelope. */
export type DashboardCallEvent = CallEvent & { v: typeof LOG_EVENT_VERSION };

/** The live calls, first thing on connecting and after each `subscribe`; `callSid` is the subscription (null: all calls). */
export interface SnapshotMessage extends DashboardEnvelope {
  type: 'snapshot';
  /** The `subscribe` command that asked for it; null for the snapshot sent on connecting. */
  id: string | null;
  calls: LiveCallView[];
}

/** What a successful command answers besides its name; the call it touched is the envelope's `callSid`. */
export type CommandResult =
  | { command: 'subscribe' }
  /** Saved for new calls: the configuration now saved. */
  | { command: 'config.update'; config: SessionConfigDto }
  /** Applied to one live call: the fields its session.update carried. */
  | { command: 'config.update'; applied: string[] }
  | { command: 'function_call.answer'; callId: string }
  | { command: 'call.hangup' };

/** A command was carried out. `id` echoes the command's own (null when it had none). */
export type CommandOkMessage = DashboardEnvelope & { type: 'command.ok'; id: string | null } & CommandResult;

/** A command was refused: unreadable, invalid, or about a call or function call that is not running. */
export interface CommandErrorMessage extends DashboardEnvelope {
  type: 'command.error';
  /** The command's `id`, when it carried a valid one. */
  id: string | null;
  /** The command's `type` as sent; null when unreadable. */
  command: string | null;
  /** What was wrong, in words. */
  message: string;
  /** One message per invalid field (`config.update`). */
  errors?: string[];
}

/** Every message the server sends on /ws/logs. */
export type DashboardServerMessage = DashboardCallEvent | SnapshotMessage | CommandOkMessage | CommandErrorMessage;

export function envelope(callSid: string | null): DashboardEnvelope {
  return { v: LOG_EVENT_VERSION, callSid, ts: new Date().toISOString() };
}
