// The seam between a call and a voice model service. A call talks to "a voice session" in these
// terms only; each engine (the Realtime GA protocol first, GPT-Live next) maps them to its own wire
// protocol, and nothing outside an engine knows its event names.
import type { VoiceEngineName } from '../call-gateway/call-events';
import type { ModelFailure } from './model-failure';
import type { AgentSettings } from './session-config.service';

/** A function offered to the model: JSON-schema parameters, as our tool registry declares them. */
export interface ToolSchema {
  type?: 'function';
  name?: string;
  description?: string;
  parameters?: unknown;
}

/** What a session is dialled with: fixed for the call, so every reconnect restores exactly this. */
export interface SessionSpec {
  callSid: string;
  settings: AgentSettings;
  /** The tools offered to this call (decided once, when the call was answered). */
  tools: ToolSchema[];
  /**
   * The conversation so far, read when the session starts. Engines that take their history in the
   * start message (GPT-Live's `input`) call it then; engines that accept items at any time get
   * them through addContext once ready. Absent for a first session (pre-dial).
   */
  context?: () => readonly ContextItem[];
}

/** The service behind an engine and the variables that configure it, so a failure can say what to fix. */
export interface EngineApi {
  /** As it reads in a sentence: "the Realtime API", "GPT-Live". */
  name: string;
  urlVar: string;
  modelVar: string;
  /** Other variables that shape its session configuration, named when the service refuses it. */
  settingVars?: string;
}

/** Conversation context in engine-neutral form, replayed into a fresh session after a reconnect or rollover. */
export type ContextItem =
  | { type: 'message'; id: string; role: 'user' | 'assistant'; text: string }
  | { type: 'function_call'; id: string; callId: string; name: string; arguments: string }
  | { type: 'function_call_output'; id: string; callId: string; output: string };

/** Token counts of one model response, in our own names. */
export interface ResponseUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  inputAudioTokens: number;
  outputAudioTokens: number;
  cachedTokens: number;
  /** The cached input tokens split by modality, when the service says (prices differ). */
  cachedAudioTokens?: number;
  cachedTextTokens?: number;
  /** Seconds of session billed by this report, for engines priced per second (GPT-Live); absent for token-priced ones. */
  billedSeconds?: number;
}

/**
 * Usage reported outside a response's `done`: GPT-Live bills seconds of session (reported as
 * increments here, whatever the service's own counter does) and its Responses backend reports tokens.
 */
export interface UsageReport {
  /** Unique within the call: the backend response id, or the session's usage counter. */
  id: string;
  /** The model the usage is billed for (prices are per model). */
  model: string;
  status: string;
  usage: ResponseUsage;
}

export interface ResponseDone {
  responseId: string;
  /** completed, cancelled, incomplete, failed (or unknown when the service did not say). */
  status: string;
  usage: ResponseUsage | null;
}

export interface ToolCall {
  callId: string;
  name: string;
  arguments: string;
}

/** A request for the model to speak: a greeting, an answer about tool results, an operator's instruction. */
export interface ResponseRequest {
  /** Ours, unique per call: a refusal names it. */
  ref: number;
  instructions?: string;
}

/** An `error` the service reported. */
export interface EngineError {
  message: string;
  code?: string;
  /** This session (and any new one) cannot work: a refused key, an unknown model. */
  fatal: boolean;
  /** The service refused the session's configuration itself: dialling again would send the same. */
  configRefused?: boolean;
}

/** What a session tells the call. Hot-path callbacks (onAudio) are plain calls, no allocation. */
export interface VoiceSessionListener {
  /** The service confirmed the configuration: audio and commands may flow. */
  onReady(): void;
  /** Assistant audio (base64, the call's format) of `itemId` in `responseId`. */
  onAudio(itemId: string, responseId: string, base64: string): void;
  onTranscriptDelta(role: 'user' | 'assistant', itemId: string, delta: string): void;
  onTranscriptDone(role: 'user' | 'assistant', itemId: string, text: string): void;
  /** The service added (or re-sent, with more text) an item of the conversation. */
  onConversationItem(item: ContextItem): void;
  /** The service's copy of an assistant item after a truncation: exactly what is left of it. */
  onItemHeard(itemId: string, text: string): void;
  onSpeechStarted(): void;
  onSpeechStopped(): void;
  onResponseStarted(responseId: string): void;
  onResponseDone(done: ResponseDone): void;
  /** Usage not tied to a response's `done`. Delivered even while the session closes (its final count); the link forwards it for every session of the call (current, standby, closing). */
  onUsage(report: UsageReport): void;
  onToolCall(call: ToolCall): void;
  /** A response request was refused because another response is active: ask again after it is done. */
  onRequestRefused(ref: number): void;
  onError(error: EngineError): void;
  /** The session is gone (closed by either side, failed to open, or declared dead). Called once. */
  onClosed(failure: ModelFailure): void;
  /** A handler threw while handling this session's events (a bug): the call ends, the process goes on. */
  onFault(err: unknown): void;
}

/** One conversation with a voice model over one connection. */
export interface VoiceSession {
  readonly engine: VoiceEngineName;
  readonly model: string;
  readonly api: EngineApi;
  /** performance.now() when dialling began. */
  readonly dialedAt: number;
  /** Handshake time once the socket is open, else null. */
  readonly connectMs: number | null;
  /** The configuration was confirmed (onReady has fired). */
  readonly ready: boolean;
  readonly closed: boolean;
  /** Bytes queued on the socket and not yet sent (backpressure). */
  readonly bufferedAmount: number;
  /** Epoch ms at which the service ends this session, once it has said so (GPT-Live's `expires_at`); null: the link's configured limit applies. */
  readonly expiresAt: number | null;
  /** How long before its end the next session is prepared; null: the link's default. Engines that bill open sessions by the second keep it short. */
  readonly rolloverLeadMs: number | null;
  /** Events that arrived before attaching (pre-dial) are delivered now, then live ones. */
  attach(listener: VoiceSessionListener): void;
  /** Hot path: caller audio, base64 in the call's format (validated upstream). */
  appendAudio(base64: string): void;
  requestResponse(request: ResponseRequest): void;
  /** Cut an assistant item to what the caller heard (engines without truncation record it only). */
  truncate(itemId: string, audioEndMs: number): void;
  sendToolResult(callId: string, output: string): void;
  /** Conversation context the service does not have (replay, DTMF, outputs recorded while away). */
  addContext(items: readonly ContextItem[]): void;
  /** Live reconfiguration; returns why a change is refused, or null once sent. */
  reconfigure(patch: Partial<AgentSettings>, tools: ToolSchema[] | undefined): string | null;
  /** Sends a heartbeat; false when the previous one was never answered (a dead path). */
  heartbeat(): boolean;
  /** Declares the session dead (no heartbeat answer, no confirmation): closes it as a failure. */
  abandon(reason: string): void;
  /**
   * Ends the session (never reported through onClosed). `done` runs once the service has said its
   * last word (GPT-Live's final usage, bounded by a short wait), or at once when there is none.
   */
  close(done?: () => void): void;
}

/** Dials sessions of one engine; a Nest provider per engine. */
export interface VoiceEngine {
  readonly name: VoiceEngineName;
  /** The model new sessions of this engine use (call.started names it). */
  readonly model: string;
  /** Opens a connection and queues the configuration; never throws for network reasons (onClosed reports them). */
  dial(spec: SessionSpec): VoiceSession;
}
