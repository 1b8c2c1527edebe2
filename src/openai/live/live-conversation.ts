import type { ClientEvent, DelegationCreatedEvent, ResponseEvent, ServerEvent, SessionUsage } from 'openai/resources/live/live';
import type { ResponseStreamEvent, ResponseUsage as ResponsesApiUsage } from 'openai/resources/responses/responses';
import { isFatalErrorEvent } from '../model-failure';
import type { ContextItem, ResponseRequest, ResponseUsage, VoiceSessionListener } from '../voice-engine';
import { CallerSpeechDetector, SPEECH_STARTED, SPEECH_STOPPED } from './caller-speech';
import { CONTINUE_INSTRUCTION, contextNote, MAX_APPEND_CHARS } from './live-session-config';

/**
 * GPT-Live has no items and no responses on the wire, only streams: output audio, output and
 * input transcripts, the backend's Responses events. The call core thinks in items (what is on
 * the phone, what to cut) and responses (one at a time, started then done). These timings turn
 * the streams into both; see docs/engines.md for why each value.
 */
/** No output for this long ends an assistant turn (the model speaks in a continuous stream, faster than real time). */
export const ASSISTANT_TURN_GAP_MS = 800;
/** After the caller cut the assistant off, its turn ends sooner: what still arrives is audio generated before the model noticed. */
export const CUT_TURN_GAP_MS = 300;
/** No input transcript for this long ends the caller's turn (or the assistant starting to answer does). */
export const USER_TURN_GAP_MS = 1000;
/** A request the service neither acknowledges nor refuses within this is given up (so the call never waits on it). */
export const REQUEST_ACK_TIMEOUT_MS = 5000;
/** After an instruction to speak, or a backend answer, the model should start talking within this. */
export const SPEECH_EXPECTED_TIMEOUT_MS = 8000;
/** Turns kept after they ended, so an interruption that reaches one still playing on the phone finds its transcript. */
const ENDED_TURNS_KEPT = 4;
const MAX_TEXT = 4000;

/** What a delegated task gets under client delegation: this server runs no backend of its own. */
export const CLIENT_DELEGATION_NOTE =
  'No backend is connected to this phone assistant, so nothing can be looked up or done on the caller’s behalf. ' +
  'Answer from the conversation if you can; otherwise tell the caller briefly that you cannot do that.';

interface AssistantTurn {
  itemId: string;
  /** Audio of one turn is one "response" for the phone side (cut together). */
  turnId: string;
  text: string;
  /** ms of audio received so far. */
  audioMs: number;
  lastAt: number;
  /** Transcript position at each delta: [audioMs when it arrived, text length after it], flattened. */
  marks: number[];
  /** What the caller heard, once they interrupted this turn. */
  heard: string | null;
}

interface UserTurn {
  itemId: string;
  text: string;
  lastAt: number;
}

interface PendingRequest {
  ref: number;
  kind: 'commentary' | 'response';
  timer: NodeJS.Timeout;
}

export interface LiveConversationOptions {
  /** Prefix of the ids this session makes up (unique per session, so ids never collide across a call's sessions). */
  idPrefix: string;
  /** The Live model: seconds are billed for it. */
  model: string;
  /** The Responses model: its tokens are billed for it. */
  responsesModel: string;
  delegation: 'responses' | 'client';
  /** Caller silence that ends their turn, for the local speech detector. */
  silenceMs: number;
}

/**
 * One GPT-Live session's conversation, as the call core sees it. It infers turns from the
 * delta streams and gives them stable ids (assistant audio per turn, so playback marks and
 * barge-in work per item), presents the model's activity as one response at a time (an assistant
 * turn, the backend working, or an answer still expected, merged: a `done` never comes while the
 * model is about to speak, so end_call hangs up after the goodbye, not before), closes the loop
 * of every request it sends (acknowledged, refused or timed out), detects the caller talking,
 * turns backend function calls into tool calls, and cumulative usage into increments.
 * Transport-free: server events in, client events out through `send`; timers are the only I/O.
 */
export class LiveConversation {
  private assistant: AssistantTurn | null = null;
  private readonly ended: AssistantTurn[] = [];
  private user: UserTurn | null = null;
  /** The response the call core sees (merged activity), or null when the model is idle. */
  private activity: { responseId: string; cut: boolean } | null = null;
  /** Backend responses in progress, and whether each produced text the model will speak. */
  private readonly backend = new Map<string, { message: boolean }>();
  private readonly requests = new Map<string, PendingRequest>();
  /** The model was asked (or handed a backend answer) and should start speaking. */
  private speechExpected: NodeJS.Timeout | null = null;
  private gapTimer: NodeJS.Timeout | null = null;
  private readonly speech: CallerSpeechDetector;
  private vadSpeaking = false;
  /** The caller's transcript showed them talking over the model before the energy check did. */
  private transcriptSpeaking = false;
  /** Function calls of this session's backend waiting for their output. */
  private readonly awaitingOutput = new Set<string>();
  /** Outputs sent since the last response.create: the next plain request continues the backend. */
  private outputsSent = false;
  /** History items this session already has (start-up input or an earlier note). */
  private readonly known: Set<string>;
  private seconds = 0;
  private counter = 0;
  private closed = false;

  constructor(
    private readonly options: LiveConversationOptions,
    private readonly listener: VoiceSessionListener,
    private readonly send: (event: ClientEvent) => void,
    known: Set<string> = new Set(),
  ) {
    this.speech = new CallerSpeechDetector(options.silenceMs);
    this.known = known;
  }

  // ---- from the service ----

  /** One server event after session.started. Malformed ones are reported through `malformed`. */
  handle(event: ServerEvent, malformed: (why: string) => void): void {
    switch (event.type) {
      case 'session.output_audio.delta':
        // The hot path.
        if (typeof event.delta === 'string' && event.delta.length > 0) this.outputAudio(event.delta);
        return;
      case 'session.output_transcript.delta':
        if (typeof event.delta === 'string') this.outputTranscript(event.delta);
        return;
      case 'session.input_transcript.delta':
        if (typeof event.delta === 'string') this.inputTranscript(event.delta);
        return;
      case 'session.delegation.created':
        return this.delegated(event, malformed);
      case 'response.event':
        return this.backendEvent(event, malformed);
      case 'session.usage.updated':
        return this.usage(event.usage);
      case 'session.commentary.appended':
      case 'session.thinking.appended':
      case 'session.instructions.appended':
      case 'session.updated':
        if (event.client_event_id) this.acknowledged(event.client_event_id);
        return;
      case 'error':
        return this.error(event.error, malformed);
    }
  }

  /** The session's final count (session.closed), reported even while closing. */
  usage(usage: SessionUsage | undefined): void {
    const seconds = usage?.seconds;
    // Cumulative per session: bill the increase only.
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= this.seconds) return;
    const billed = Math.round((seconds - this.seconds) * 1000) / 1000;
    this.seconds = seconds;
    this.listener.onUsage({ id: this.id('seconds'), model: this.options.model, status: 'completed', usage: { ...NO_TOKENS, billedSeconds: billed } });
  }

  // ---- from the call ----

  /** Hot path: a caller frame on its way to the service; the energy check sees it first. */
  callerAudio(base64: string): void {
    const change = this.speech.frame(base64);
    if (change === SPEECH_STARTED) {
      this.vadSpeaking = true;
      // First the barge-in (the call cuts what is on the phone), then the model's finished turn ends.
      if (!this.transcriptSpeaking) this.listener.onSpeechStarted();
      this.endQuietTurn();
    } else if (change === SPEECH_STOPPED) {
      this.vadSpeaking = false;
      if (!this.transcriptSpeaking) this.listener.onSpeechStopped();
    }
  }

  /**
   * Asks the model to speak. With instructions (a greeting, an operator's instruction) it is
   * commentary the model acts on; without, it continues the backend after tool outputs
   * (response.create), or, with none pending, asks the model to carry on.
   */
  request(request: ResponseRequest): void {
    const eventId = `req_${request.ref}`;
    let kind: PendingRequest['kind'];
    if (!request.instructions && this.options.delegation === 'responses' && this.outputsSent) {
      this.outputsSent = false;
      kind = 'response';
      this.send({ type: 'response.create', event_id: eventId });
    } else {
      kind = 'commentary';
      // A bare text is not enough: GPT-Live acts on commentary worded as an instruction.
      const content = request.instructions ? `Speak to the caller now. ${request.instructions}` : CONTINUE_INSTRUCTION;
      this.send({ type: 'session.commentary.append', event_id: eventId, delegation_id: null, content: content.slice(0, MAX_APPEND_CHARS) });
    }
    const timer = setTimeout(() => this.requestFailed(eventId, 'timed out'), REQUEST_ACK_TIMEOUT_MS);
    this.requests.set(eventId, { ref: request.ref, kind, timer });
  }

  /** A function output: to the backend when it asked for it, else (a call from an earlier session) as context. */
  toolResult(callId: string, output: string): void {
    if (this.awaitingOutput.delete(callId)) {
      this.outputsSent = true;
      this.send({ type: 'response.item.create', item: { type: 'function_call_output', call_id: callId, output } });
      return;
    }
    this.send({ type: 'session.thinking.append', delegation_id: null, content: `Result of an earlier tool call: ${output}`.slice(0, MAX_APPEND_CHARS) });
  }

  /** Context this session does not have yet, as one silent note (GPT-Live takes no items after start). */
  context(items: readonly ContextItem[]): void {
    const fresh = items.filter((item) => !this.known.has(item.id));
    if (fresh.length === 0) return;
    for (const item of fresh) this.known.add(item.id);
    const content = contextNote(fresh);
    if (content) this.send({ type: 'session.thinking.append', delegation_id: null, content });
  }

  /**
   * The caller interrupted `itemId` after hearing `audioEndMs` of it. No wire event exists: the
   * heard text is worked out from where each transcript delta arrived in the audio, and what
   * still comes of the turn is the model's in-flight audio, which the call drops.
   */
  cut(itemId: string, audioEndMs: number): void {
    const turn = this.assistant?.itemId === itemId ? this.assistant : this.ended.find((t) => t.itemId === itemId);
    if (!turn) return;
    turn.heard = heardText(turn, audioEndMs);
    this.listener.onItemHeard(itemId, turn.heard);
    if (this.activity && turn === this.assistant) this.activity.cut = true;
    if (turn === this.assistant) this.rearmGap();
  }

  /** The session is over: no timer, nothing more to the listener (but final usage, see usage()). */
  close(): void {
    this.closed = true;
    if (this.gapTimer) clearTimeout(this.gapTimer);
    if (this.speechExpected) clearTimeout(this.speechExpected);
    for (const request of this.requests.values()) clearTimeout(request.timer);
    this.requests.clear();
    this.gapTimer = this.speechExpected = null;
  }

  // ---- streams ----

  private outputAudio(base64: string): void {
    const now = performance.now();
    const turn = this.assistant ?? this.openAssistantTurn(now);
    turn.lastAt = now;
    turn.audioMs += base64Bytes(base64) / 8;
    this.listener.onAudio(turn.itemId, turn.turnId, base64);
  }

  private outputTranscript(delta: string): void {
    const now = performance.now();
    const turn = this.assistant ?? this.openAssistantTurn(now);
    turn.lastAt = now;
    if (turn.text.length >= MAX_TEXT) return;
    turn.text += delta;
    turn.marks.push(turn.audioMs, turn.text.length);
    // What comes after an interruption was never heard: the dashboard and the log keep what was.
    if (turn.heard === null) this.listener.onTranscriptDelta('assistant', turn.itemId, delta);
  }

  private inputTranscript(delta: string): void {
    const now = performance.now();
    if (!this.user) this.endQuietTurn();
    const turn = this.user ?? this.openUserTurn(now);
    turn.lastAt = now;
    if (turn.text.length < MAX_TEXT) {
      turn.text += delta;
      this.listener.onTranscriptDelta('user', turn.itemId, delta);
    }
    // The caller talks over the model and the energy check missed it (a quiet line): barge in now.
    if (!this.vadSpeaking && !this.transcriptSpeaking && this.assistant !== null) {
      this.transcriptSpeaking = true;
      this.listener.onSpeechStarted();
    }
    this.armGap();
  }

  private openAssistantTurn(now: number): AssistantTurn {
    // The model answering ends the caller's turn.
    if (this.user) this.closeUserTurn();
    const n = ++this.counter;
    const turn: AssistantTurn = {
      itemId: `${this.options.idPrefix}_item${n}`,
      turnId: `${this.options.idPrefix}_turn${n}`,
      text: '',
      audioMs: 0,
      lastAt: now,
      marks: [],
      heard: null,
    };
    this.assistant = turn;
    this.listener.onConversationItem({ type: 'message', id: turn.itemId, role: 'assistant', text: '' });
    // The speech we were waiting for has begun: from here the turn keeps the response open.
    this.clearSpeechExpected();
    this.update();
    this.armGap();
    return turn;
  }

  private closeAssistantTurn(): void {
    const turn = this.assistant!;
    this.assistant = null;
    this.ended.push(turn);
    if (this.ended.length > ENDED_TURNS_KEPT) this.ended.shift();
    this.listener.onTranscriptDone('assistant', turn.itemId, turn.heard ?? turn.text);
    this.update();
  }

  private openUserTurn(now: number): UserTurn {
    const turn: UserTurn = { itemId: `${this.options.idPrefix}_item${++this.counter}`, text: '', lastAt: now };
    this.user = turn;
    this.listener.onConversationItem({ type: 'message', id: turn.itemId, role: 'user', text: '' });
    return turn;
  }

  private closeUserTurn(): void {
    const turn = this.user!;
    this.user = null;
    this.listener.onTranscriptDone('user', turn.itemId, turn.text);
    if (this.transcriptSpeaking) {
      this.transcriptSpeaking = false;
      if (!this.vadSpeaking) this.listener.onSpeechStopped();
    }
  }

  /**
   * The caller starts a turn while the model's turn is open but its output has stopped: the model
   * had finished, and its reply will be a new turn. (While output still flows it is talking over
   * the caller: the turn stays, so the call keeps dropping what it says after a barge-in.)
   */
  private endQuietTurn(): void {
    const turn = this.assistant;
    if (turn && turn.heard === null && performance.now() - turn.lastAt >= CUT_TURN_GAP_MS) {
      this.closeAssistantTurn();
      this.rearmGap();
    }
  }

  // ---- turn ends: one timer, re-armed only when it fires ----

  private armGap(): void {
    if (this.gapTimer || this.closed) return;
    const deadline = Math.min(
      this.assistant ? this.assistant.lastAt + (this.assistant.heard === null ? ASSISTANT_TURN_GAP_MS : CUT_TURN_GAP_MS) : Infinity,
      this.user ? this.user.lastAt + USER_TURN_GAP_MS : Infinity,
    );
    if (deadline === Infinity) return;
    this.gapTimer = setTimeout(() => this.gapCheck(), Math.max(0, deadline - performance.now()));
  }

  private rearmGap(): void {
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = null;
    this.armGap();
  }

  private gapCheck(): void {
    this.gapTimer = null;
    const now = performance.now();
    const assistant = this.assistant;
    if (assistant && now - assistant.lastAt >= (assistant.heard === null ? ASSISTANT_TURN_GAP_MS : CUT_TURN_GAP_MS)) this.closeAssistantTurn();
    if (this.user && now - this.user.lastAt >= USER_TURN_GAP_MS) this.closeUserTurn();
    this.armGap();
  }

  // ---- the response the call core sees ----

  /** The one place the merged activity starts and ends. */
  private update(): void {
    if (this.closed) return;
    const open = this.assistant !== null || this.backend.size > 0 || this.speechExpected !== null;
    if (open && !this.activity) {
      this.activity = { responseId: this.id('resp'), cut: false };
      this.listener.onResponseStarted(this.activity.responseId);
    } else if (!open && this.activity) {
      const { responseId, cut } = this.activity;
      this.activity = null;
      this.listener.onResponseDone({ responseId, status: cut ? 'cancelled' : 'completed', usage: null });
    }
  }

  private expectSpeech(): void {
    this.clearSpeechExpected();
    this.speechExpected = setTimeout(() => {
      this.speechExpected = null;
      this.update();
    }, SPEECH_EXPECTED_TIMEOUT_MS);
    this.update();
  }

  private clearSpeechExpected(): void {
    if (this.speechExpected) clearTimeout(this.speechExpected);
    this.speechExpected = null;
  }

  private acknowledged(eventId: string): void {
    const request = this.requests.get(eventId);
    if (!request) return;
    clearTimeout(request.timer);
    this.requests.delete(eventId);
    // Commentary is accepted: the model will speak. A response.create's effect is its backend response.
    if (request.kind === 'commentary') this.expectSpeech();
  }

  /**
   * A request that will have no effect (refused, or never acknowledged). The call core waits for
   * a started/done pair after each request: when nothing is in progress to give it one, a
   * synthetic pair closes the loop, so owed requests and end_call's hang-up never stall.
   */
  private requestFailed(eventId: string, why: string): void {
    const request = this.requests.get(eventId);
    if (!request) return;
    clearTimeout(request.timer);
    this.requests.delete(eventId);
    if (why === 'timed out')
      this.listener.onError({ message: `GPT-Live did not acknowledge a request to speak within ${REQUEST_ACK_TIMEOUT_MS} ms`, fatal: false });
    if (this.activity || this.closed) return;
    const responseId = this.id('resp');
    this.listener.onResponseStarted(responseId);
    this.listener.onResponseDone({ responseId, status: 'failed', usage: null });
  }

  // ---- delegation ----

  private delegated(event: DelegationCreatedEvent, malformed: (why: string) => void): void {
    const delegation = event.delegation as DelegationCreatedEvent['delegation'] | undefined;
    if (!delegation || typeof delegation.id !== 'string') return malformed('session.delegation.created without a delegation id');
    // The model acting on what the caller said ends the caller's turn, as an answer does.
    if (this.user) this.closeUserTurn();
    if (delegation.target === 'client') {
      // Client delegation: the task text is not in the event, and this server has no agent of its own to run it.
      this.send({ type: 'session.thinking.append', delegation_id: delegation.id, content: CLIENT_DELEGATION_NOTE });
      return;
    }
    if (delegation.target === 'responses' && typeof delegation.response_id === 'string' && !this.backend.has(delegation.response_id)) {
      this.backend.set(delegation.response_id, { message: false });
      this.update();
    }
  }

  /** The backend's Responses stream, wrapped in response.event: lifecycle, function calls, text, usage. */
  private backendEvent(event: ResponseEvent, malformed: (why: string) => void): void {
    const inner = event.event as unknown as ResponseStreamEvent | undefined;
    if (!inner || typeof inner.type !== 'string') return malformed('response.event without a nested event');
    switch (inner.type) {
      case 'response.created': {
        const id = inner.response?.id;
        if (typeof id !== 'string') return malformed('response.created without a response id');
        this.backendAcknowledges(event.client_event_id);
        if (!this.backend.has(id)) this.backend.set(id, { message: false });
        return this.update();
      }
      case 'response.output_item.done': {
        const item = inner.item;
        if (item?.type === 'function_call') {
          if (typeof item.call_id !== 'string' || typeof item.name !== 'string') return malformed('a function call without call_id or name');
          this.awaitingOutput.add(item.call_id);
          this.listener.onToolCall({ callId: item.call_id, name: item.name, arguments: typeof item.arguments === 'string' ? item.arguments : '' });
        } else if (item?.type === 'message') this.backendSpoke();
        return;
      }
      case 'response.output_text.delta':
        return this.backendSpoke();
      case 'response.completed':
      case 'response.failed':
      case 'response.incomplete': {
        const response = inner.response;
        const id = response?.id;
        if (typeof id !== 'string') return malformed(`${inner.type} without a response id`);
        if (response.usage) {
          const model = typeof response.model === 'string' && response.model ? response.model : this.options.responsesModel;
          this.listener.onUsage({ id, model, status: response.status ?? inner.type.slice('response.'.length), usage: backendUsage(response.usage) });
        }
        const entry = this.backend.get(id);
        this.backend.delete(id);
        // Backend text is spoken by the model next: the response stays open until it has been.
        if (entry?.message && inner.type === 'response.completed') this.expectSpeech();
        else this.update();
        return;
      }
      case 'error':
        this.listener.onError({ message: String(inner.message ?? 'backend error').slice(0, 500), code: inner.code ?? undefined, fatal: false });
        return;
    }
  }

  private backendSpoke(): void {
    for (const entry of this.backend.values()) entry.message = true;
  }

  /** A backend response answers our response.create: by its client_event_id, or the oldest one waiting. */
  private backendAcknowledges(clientEventId: string | undefined): void {
    let eventId = clientEventId && this.requests.get(clientEventId)?.kind === 'response' ? clientEventId : undefined;
    if (!eventId) for (const [id, request] of this.requests) if (request.kind === 'response') eventId ??= id;
    if (!eventId) return;
    clearTimeout(this.requests.get(eventId)!.timer);
    this.requests.delete(eventId);
  }

  private error(error: { type?: string; code?: string; message?: string; client_event_id?: string } | undefined, malformed: (why: string) => void): void {
    if (!error || typeof error !== 'object') return malformed('error without an error object');
    const message = String(error.message ?? 'unknown error').slice(0, 500);
    this.listener.onError({ message, code: error.code ?? error.type, fatal: isFatalErrorEvent(error) });
    if (error.client_event_id) this.requestFailed(error.client_event_id, 'refused');
  }

  private id(kind: string): string {
    return `${this.options.idPrefix}_${kind}${++this.counter}`;
  }
}

const NO_TOKENS: ResponseUsage = { inputTokens: 0, outputTokens: 0, totalTokens: 0, inputAudioTokens: 0, outputAudioTokens: 0, cachedTokens: 0 };

function backendUsage(usage: ResponsesApiUsage): ResponseUsage {
  return {
    inputTokens: usage.input_tokens ?? 0,
    outputTokens: usage.output_tokens ?? 0,
    totalTokens: usage.total_tokens ?? 0,
    inputAudioTokens: 0,
    outputAudioTokens: 0,
    cachedTokens: usage.input_tokens_details?.cached_tokens ?? 0,
  };
}

/** Decoded size of base64, without decoding it. */
function base64Bytes(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return (base64.length >> 2) * 3 - padding;
}

/** The text whose transcript had arrived before the caller stopped hearing the turn, ending on a word. */
function heardText(turn: AssistantTurn, audioEndMs: number): string {
  let chars = 0;
  const marks = turn.marks;
  for (let i = 0; i < marks.length; i += 2) {
    if (marks[i] >= audioEndMs) break;
    chars = marks[i + 1];
  }
  if (chars >= turn.text.length) return turn.text;
  const text = turn.text.slice(0, chars);
  const space = text.lastIndexOf(' ');
  return space > 0 && /\S/.test(turn.text[chars] ?? '') ? text.slice(0, space) : text;
}
