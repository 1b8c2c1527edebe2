import type { ResponseDone, ResponseRequest, ToolCall } from '../openai/voice-engine';
import type { FunctionCalls } from './function-calls';

/** Why we ask the model to speak. */
export type RequestReason = 'greeting' | 'tool-results' | 'instructions' | 'resume';

export interface OwedRequest extends ResponseRequest {
  reason: RequestReason;
}

/**
 * The model's response lifecycle. Only one response may be active per conversation: a request
 * made meanwhile waits in `owed` and goes out after `response.done`.
 */
export type ResponseState =
  | { kind: 'idle' }
  | { kind: 'requested'; request: OwedRequest }
  /** `request` is ours when we asked for it; null when the service started it (its VAD answering the caller). */
  | { kind: 'active'; responseId: string | null; request: OwedRequest | null; hadAudio: boolean };

export type HangupState = { kind: 'none' } | { kind: 'requested'; timer: NodeJS.Timeout } | { kind: 'done' };

/** What Turns needs from its call. */
export interface TurnsHost {
  /** Sends a request to the model; false when the model is away (the request stays owed until it is back). */
  sendRequest(request: OwedRequest): boolean;
  sendToolResult(callId: string, output: string): void;
  /** Assistant audio is queued on the phone and not played yet. */
  isPlaying(): boolean;
  /** Every mark sent has been echoed: the caller heard everything. */
  playbackDone(): boolean;
  /** The agent's goodbye is over: end the call. */
  hangUp(): void;
  /** A bug in asynchronous handling: end this call cleanly. */
  failed(err: unknown): void;
}

/** If goodbye marks never come back, hang up anyway. */
export const HANGUP_GRACE_MS = 20_000;

/**
 * Whose turn it is: the response lifecycle (idle → requested → active), the requests owed to the
 * model (greeting, tool results, operator instructions), the function calls of each response, and
 * the hang-up policy of `end_call`. Nothing is lost and nothing stays stuck: a request refused
 * because another response was running goes out when that one is done.
 */
export class Turns {
  private response: ResponseState = { kind: 'idle' };
  private readonly owed: OwedRequest[] = [];
  private hangup: HangupState = { kind: 'none' };
  private callerSpeaking = false;
  private nextRef = 1;
  private closed = false;

  constructor(
    private readonly host: TurnsHost,
    readonly functionCalls: FunctionCalls,
    private readonly graceMs = HANGUP_GRACE_MS,
  ) {}

  get state(): ResponseState {
    return this.response;
  }

  get owedRequests(): readonly OwedRequest[] {
    return this.owed;
  }

  /** Nobody speaking, nothing running or owed, nothing playing: a safe moment to switch sessions. */
  isQuiet(): boolean {
    return this.response.kind === 'idle' && this.owed.length === 0 && !this.functionCalls.busy && !this.callerSpeaking && !this.host.isPlaying();
  }

  /** Asks the model to speak, now or as soon as no response is running. */
  request(reason: RequestReason, instructions?: string): void {
    if (this.closed) return;
    // Plain requests (no instructions) say the same thing: one owed is enough.
    if (!instructions && this.owed.some((r) => !r.instructions)) return this.pump();
    this.owed.push({ ref: this.nextRef++, reason, instructions });
    this.pump();
  }

  /** Sends the first owed request if nothing is running and the model is there. */
  pump(): void {
    if (this.closed || this.response.kind !== 'idle') return;
    const request = this.owed[0];
    if (!request || !this.host.sendRequest(request)) return;
    this.owed.shift();
    this.response = { kind: 'requested', request };
  }

  // ---- model events ----

  onResponseStarted(responseId: string): void {
    const state = this.response;
    // A response we did not ask for is the service's own answer to the caller (server VAD).
    const request = state.kind === 'requested' ? state.request : state.kind === 'active' && state.responseId === null ? state.request : null;
    this.response = { kind: 'active', responseId, request, hadAudio: false };
  }

  /** Assistant audio was forwarded for the active response. */
  onAudio(): void {
    if (this.response.kind === 'active') this.response.hadAudio = true;
  }

  onResponseDone(done: ResponseDone): void {
    const state = this.response;
    if (state.kind === 'active' && state.responseId !== null && state.responseId !== done.responseId) return; // not the one we track
    const hadAudio = state.kind === 'active' && state.hadAudio;
    this.response = { kind: 'idle' };
    if (this.functionCalls.hasPending) void this.answerTools(hadAudio).catch((err: unknown) => this.host.failed(err));
    this.pump();
    this.maybeHangUp();
  }

  onToolCall(call: ToolCall): void {
    if (!this.closed) this.functionCalls.start(call);
  }

  /** The service refused a request because another response is active: ask again when that one is done. */
  onRequestRefused(ref: number): void {
    const state = this.response;
    let request: OwedRequest | null = null;
    if (state.kind === 'requested' && state.request.ref === ref) {
      request = state.request;
      this.response = { kind: 'active', responseId: null, request: null, hadAudio: false };
    } else if (state.kind === 'active' && state.request?.ref === ref) {
      request = state.request;
      state.request = null;
    }
    if (request) this.owed.unshift(request);
  }

  onSpeechStarted(): void {
    this.callerSpeaking = true;
  }

  onSpeechStopped(): void {
    this.callerSpeaking = false;
  }

  /** The model is there (again): owed requests may go out. */
  onLinkOpen(): void {
    this.pump();
  }

  /**
   * The model went away: a response in flight is gone before it was finished. Ask again once the
   * model is back (the restored context holds what it had said), so the caller is not left waiting.
   */
  onLinkLost(): void {
    const state = this.response;
    this.response = { kind: 'idle' };
    this.callerSpeaking = false;
    if (state.kind === 'requested') this.owed.unshift(state.request);
    else if (state.kind === 'active') this.owed.unshift(state.request ?? { ref: this.nextRef++, reason: 'resume' });
  }

  // ---- function calls ----

  private async answerTools(hadAudio: boolean): Promise<void> {
    const results = await this.functionCalls.collect();
    if (this.closed) return;
    for (const { callId, result } of results) this.host.sendToolResult(callId, result.output);
    // end_call after a spoken goodbye: nothing more to say, hang up when it has played.
    if (this.hangup.kind === 'requested' && hadAudio) return this.maybeHangUp();
    this.request('tool-results');
    this.maybeHangUp();
  }

  // ---- end_call ----

  requestHangup(): void {
    if (this.closed || this.hangup.kind !== 'none') return;
    this.hangup = { kind: 'requested', timer: setTimeout(() => this.hangUpNow(), this.graceMs) };
  }

  /** Hang up once the goodbye is over: no response running or owed, no tool running, every mark echoed. */
  maybeHangUp(): void {
    if (this.hangup.kind !== 'requested' || this.response.kind !== 'idle' || this.owed.length > 0) return;
    if (this.functionCalls.busy || !this.host.playbackDone()) return;
    this.hangUpNow();
  }

  private hangUpNow(): void {
    if (this.closed || this.hangup.kind !== 'requested') return;
    clearTimeout(this.hangup.timer);
    this.hangup = { kind: 'done' };
    this.host.hangUp();
  }

  /** The call is over: no timer, no request after this. */
  close(): void {
    this.closed = true;
    if (this.hangup.kind === 'requested') clearTimeout(this.hangup.timer);
    this.hangup = { kind: 'done' };
    this.owed.length = 0;
  }
}
