import type { AgentSettings } from '../openai/session-config.service';
import type { CallEndReason } from './call-events';

/**
 * What the rest of the server may see of and do to a live call: the registry, the sweeper, the
 * metrics and the dashboard's commands hold calls through this, never the class itself.
 */
export interface LiveCall {
  readonly callSid: string;
  /** Epoch ms when the stream started. */
  readonly startedAt: number;
  /** Epoch ms of the caller's last audio frame. */
  readonly lastMediaAt: number;
  /** The model is usable or being restored; false once it is lost for good. */
  readonly modelAlive: boolean;
  readonly endReason: CallEndReason | null;
  /** Caller frames relayed to the model. */
  readonly framesIn: number;
  /** Assistant audio sent to the caller, in 20 ms frames. */
  readonly framesOut: number;
  readonly badFrames: number;
  /** Model audio of interrupted answers that was dropped, not played. */
  readonly lateDeltasDropped: number;
  /** Ends the call and releases everything it holds. Safe to call any number of times, from anywhere. */
  end(reason: CallEndReason, detail?: string): void;
  /** Settles a running function call with an operator's answer (a JSON string); false when there is none. */
  answerFunctionCall(callId: string, output: string): boolean;
  /** Changes this call's agent settings now; returns why it cannot, or null once applied. */
  reconfigure(patch: Partial<AgentSettings>): string | null;
}
