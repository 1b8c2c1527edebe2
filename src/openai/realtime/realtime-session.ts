import { Logger } from '@nestjs/common';
import type { ConversationItem, RealtimeClientEvent, RealtimeResponseUsage, RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import WebSocket, { type RawData } from 'ws';
import type { AppConfig } from '../../config/app-config';
import { isFatalErrorEvent, REALTIME_API, type ModelFailure } from '../model-failure';
import type { AgentSettings } from '../session-config.service';
import type { ContextItem, ResponseRequest, ResponseUsage, SessionSpec, ToolSchema, VoiceSession, VoiceSessionListener } from '../voice-engine';
import { parseWireEvent } from '../wire-event';
import { realtimeLiveUpdate, realtimeSessionUpdate } from './realtime-session-config';

/** Messages queued while the socket is still connecting (configuration, pre-dial context). */
const MAX_QUEUED = 500;
/** Events kept for a listener that has not attached yet (a pre-dialled session waits for its stream). */
const MAX_EARLY_EVENTS = 100;
/** No legitimate Realtime event is anywhere near this; a bigger frame is refused by ws before it is parsed. */
export const REALTIME_MAX_PAYLOAD = 1024 * 1024;

/**
 * `conversation.item.retrieved` carries the item's kept audio as well as its transcript: base64
 * μ-law, ~10.7 KB per second heard. Past this much heard audio the answer would not fit in
 * REALTIME_MAX_PAYLOAD (with a quarter left for the transcript and the JSON) and the refused frame
 * would cost a reconnect, so a longer cut is not asked back (≈ 73 s).
 */
export const RETRIEVE_MAX_HEARD_MS = Math.floor((REALTIME_MAX_PAYLOAD * 0.75) / ((8 * 4) / 3));
/** Response requests remembered so a refusal (which names the event_id) finds its request. */
const MAX_REQUESTS_TRACKED = 32;

export interface RealtimeSessionOptions {
  url: string;
  apiKey: string;
  handshakeTimeoutMs: number;
}

/**
 * One WebSocket to the OpenAI Realtime API (GA) for one call, speaking the VoiceSession seam.
 * It can be opened before anyone listens (pre-dial): events that arrive before `attach` are kept
 * and replayed, and messages sent while connecting are queued (bounded) behind the configuration.
 */
export class RealtimeSession implements VoiceSession {
  readonly engine = 'realtime' as const;
  readonly model: string;
  readonly api = REALTIME_API;
  readonly dialedAt = performance.now();
  /** The GA interface does not announce its limit: MODEL_SESSION_MAX_S is the link's guide. */
  readonly expiresAt = null;
  readonly rolloverLeadMs = null;
  private readonly logger = new Logger('RealtimeSession');
  private readonly socket: WebSocket;
  private listener: VoiceSessionListener | null = null;
  private early: RealtimeServerEvent[] = [];
  private queue: string[] = [];
  private openedAt = 0;
  private closeInfo: ModelFailure | null = null;
  private lastError: { type?: string; code?: string | null } | undefined;
  private isReady = false;
  private awaitingPong = false;
  /** The service refuses a new voice once it has produced audio. */
  private audioProduced = false;
  private readonly requests = new Map<string, number>();
  private dropped = 0;
  private malformed = 0;

  constructor(
    private readonly spec: SessionSpec,
    config: AppConfig,
    options: RealtimeSessionOptions,
  ) {
    this.model = config.OPENAI_MODEL;
    const url = new URL(options.url);
    url.searchParams.set('model', this.model);
    this.socket = new WebSocket(url, {
      headers: { Authorization: `Bearer ${options.apiKey}` },
      handshakeTimeout: options.handshakeTimeoutMs,
      perMessageDeflate: false,
      maxPayload: REALTIME_MAX_PAYLOAD,
    });
    this.bindSocket();
    // Configuration is the first thing the service sees.
    this.send(realtimeSessionUpdate(config, spec.settings, spec.tools));
  }

  get ready(): boolean {
    return this.isReady;
  }

  get closed(): boolean {
    return this.closeInfo !== null;
  }

  get connectMs(): number | null {
    return this.openedAt ? Math.round(this.openedAt - this.dialedAt) : null;
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  attach(listener: VoiceSessionListener): void {
    this.listener = listener;
    const early = this.early;
    this.early = [];
    for (const event of early) {
      if (this.listener !== listener) return; // a handler closed the session and detached
      this.dispatch(event, listener);
    }
    if (this.closeInfo) listener.onClosed(this.closeInfo);
  }

  appendAudio(base64: string): void {
    // Base64 from the Twilio parser is already validated, so it can be spliced in as is.
    this.sendRaw('{"type":"input_audio_buffer.append","audio":"' + base64 + '"}');
  }

  requestResponse(request: ResponseRequest): void {
    const eventId = `req_${request.ref}`;
    this.requests.set(eventId, request.ref);
    if (this.requests.size > MAX_REQUESTS_TRACKED) this.requests.delete(this.requests.keys().next().value!);
    const event: RealtimeClientEvent = request.instructions
      ? { type: 'response.create', event_id: eventId, response: { instructions: request.instructions } }
      : { type: 'response.create', event_id: eventId };
    this.send(event);
  }

  truncate(itemId: string, audioEndMs: number): void {
    this.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: audioEndMs });
    // The service deletes the unheard part of the transcript; ask for what is left, for replays
    // (unless the answer, audio included, would not fit in a frame: the replay's estimate stays).
    if (audioEndMs <= RETRIEVE_MAX_HEARD_MS) this.send({ type: 'conversation.item.retrieve', item_id: itemId });
  }

  sendToolResult(callId: string, output: string): void {
    this.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: callId, output } });
  }

  addContext(items: readonly ContextItem[]): void {
    for (const item of items) this.send({ type: 'conversation.item.create', item: toRealtimeItem(item) });
  }

  reconfigure(patch: Partial<AgentSettings>, tools: ToolSchema[] | undefined): string | null {
    if (patch.voice !== undefined && patch.voice !== this.spec.settings.voice && this.audioProduced) {
      return 'the voice cannot change once the assistant has spoken';
    }
    this.send(realtimeLiveUpdate(patch, tools));
    return null;
  }

  heartbeat(): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) return true; // not open yet: the confirmation timeout watches that
    if (this.awaitingPong) return false;
    this.awaitingPong = true;
    this.socket.ping();
    return true;
  }

  abandon(reason: string): void {
    if (this.closeInfo) return;
    this.socket.terminate();
    this.finish(1006, reason);
  }

  /** Closes at once: usage arrives with each response.done, so there is nothing to wait for. */
  close(done?: () => void): void {
    if (!this.closeInfo) {
      if (this.socket.readyState === WebSocket.OPEN) this.socket.close(1000, 'call ended');
      else this.socket.terminate();
      this.finish(1000, 'closed by us', undefined, false);
    }
    done?.();
  }

  // ---- socket ----

  private bindSocket(): void {
    const socket = this.socket;
    socket.once('open', () => {
      this.openedAt = performance.now();
      const queued = this.queue;
      this.queue = [];
      for (const message of queued) socket.send(message);
    });
    socket.on('message', (data: RawData, isBinary: boolean) => {
      try {
        this.receive(data, isBinary);
      } catch (err) {
        this.listener?.onFault(err);
      }
    });
    socket.on('pong', () => (this.awaitingPong = false));
    socket.on('unexpected-response', (_req, res) => {
      // Read the status for the log, never the body (it can echo request details).
      res.resume();
      socket.terminate();
      this.finish(1006, `HTTP ${res.statusCode} from the Realtime API`, res.statusCode);
    });
    socket.on('error', (err) => this.finish(1006, err.message));
    socket.on('close', (code, reason) => this.finish(code, reason.toString()));
  }

  private send(event: RealtimeClientEvent): void {
    this.sendRaw(JSON.stringify(event));
  }

  private sendRaw(message: string): void {
    if (this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(message);
      return;
    }
    if (!this.closeInfo && this.queue.length < MAX_QUEUED) this.queue.push(message);
    else this.dropped++;
  }

  private receive(data: RawData, isBinary: boolean): void {
    const event = parseWireEvent(data, isBinary);
    if (event === null) return this.malformedEvent('not a JSON event');
    const typed = event as RealtimeServerEvent;
    if (typed.type === 'error' && typeof typed.error === 'object' && typed.error !== null) this.lastError = typed.error;
    const listener = this.listener;
    if (listener) this.dispatch(typed, listener);
    else if (this.early.length < MAX_EARLY_EVENTS) this.early.push(typed);
  }

  /** Maps one Realtime event to the seam. A malformed event is counted and skipped, never fatal. */
  private dispatch(event: RealtimeServerEvent, listener: VoiceSessionListener): void {
    switch (event.type) {
      case 'response.output_audio.delta':
        // The hot path.
        if (typeof event.delta !== 'string' || event.delta.length === 0) return;
        this.audioProduced = true;
        return listener.onAudio(event.item_id, event.response_id, event.delta);
      case 'session.updated':
        if (this.isReady) return;
        this.isReady = true;
        return listener.onReady();
      case 'input_audio_buffer.speech_started':
        return listener.onSpeechStarted();
      case 'input_audio_buffer.speech_stopped':
        return listener.onSpeechStopped();
      case 'response.created':
        if (!event.response || typeof event.response.id !== 'string') return this.malformedEvent('response.created without a response id');
        return listener.onResponseStarted(event.response.id);
      case 'response.done': {
        const response = event.response as typeof event.response | null;
        if (!response || typeof response.id !== 'string') return this.malformedEvent('response.done without a response');
        for (const item of Array.isArray(response.output) ? response.output : []) this.toolCallItem(item, listener);
        return listener.onResponseDone({
          responseId: response.id,
          status: response.status ?? 'unknown',
          usage: response.usage ? toUsage(response.usage) : null,
        });
      }
      case 'response.output_item.done':
        return this.toolCallItem(event.item, listener);
      case 'response.output_audio_transcript.delta':
        if (typeof event.delta === 'string') listener.onTranscriptDelta('assistant', event.item_id, event.delta);
        return;
      case 'response.output_audio_transcript.done':
        if (typeof event.transcript === 'string') listener.onTranscriptDone('assistant', event.item_id, event.transcript);
        return;
      case 'conversation.item.input_audio_transcription.delta':
        return listener.onTranscriptDelta('user', event.item_id, typeof event.delta === 'string' ? event.delta : '');
      case 'conversation.item.input_audio_transcription.completed':
        if (typeof event.transcript === 'string') listener.onTranscriptDone('user', event.item_id, event.transcript);
        return;
      case 'conversation.item.added':
      case 'conversation.item.done': {
        const item = event.item ? fromRealtimeItem(event.item) : null;
        if (item) listener.onConversationItem(item);
        return;
      }
      case 'conversation.item.retrieved': {
        const item = event.item;
        if (item?.type === 'message' && item.role === 'assistant' && item.id) listener.onItemHeard(item.id, messageText(item.content));
        return;
      }
      case 'error':
        return this.onErrorEvent(event.error, listener);
    }
  }

  private toolCallItem(item: ConversationItem | undefined, listener: VoiceSessionListener): void {
    if (item?.type !== 'function_call' || typeof item.call_id !== 'string' || typeof item.name !== 'string') return;
    listener.onToolCall({ callId: item.call_id, name: item.name, arguments: typeof item.arguments === 'string' ? item.arguments : '' });
  }

  private onErrorEvent(
    error: { type?: string; code?: string | null; message?: string; event_id?: string | null } | undefined,
    listener: VoiceSessionListener,
  ): void {
    if (!error || typeof error !== 'object') return this.malformedEvent('error without an error object');
    const ref = error.event_id ? this.requests.get(error.event_id) : undefined;
    if (error.code === 'conversation_already_has_active_response' && ref !== undefined) {
      this.requests.delete(error.event_id!);
      return listener.onRequestRefused(ref);
    }
    listener.onError({ message: String(error.message ?? 'unknown error').slice(0, 500), code: error.code ?? error.type, fatal: isFatalErrorEvent(error) });
  }

  private malformedEvent(why: string): void {
    // Logged once per session: a service (or a proxy) sending garbage must not flood the log.
    if (this.malformed++ === 0) this.logger.warn({ callSid: this.spec.callSid, why }, 'ignored a malformed Realtime event');
  }

  private finish(code: number, reason: string, httpStatus?: number, notify = true): void {
    if (this.closeInfo) return;
    this.closeInfo = { code, reason, httpStatus, lastError: this.lastError, opened: this.openedAt > 0 };
    if (httpStatus !== undefined)
      this.logger.warn({ callSid: this.spec.callSid, status: httpStatus }, `the Realtime API refused the connection (HTTP ${httpStatus})`);
    else if (notify && code !== 1000) this.logger.debug({ callSid: this.spec.callSid, code, reason }, 'Realtime socket closed');
    this.queue = [];
    this.early = [];
    if (this.dropped > 0 || this.malformed > 0) {
      this.logger.warn(
        { callSid: this.spec.callSid, notSent: this.dropped, malformed: this.malformed },
        'Realtime session closed with messages not sent or malformed events ignored',
      );
    }
    const listener = this.listener;
    if (notify && listener) listener.onClosed(this.closeInfo);
    this.listener = null;
  }
}

function toUsage(usage: RealtimeResponseUsage): ResponseUsage {
  return {
    inputTokens: usage.input_tokens ?? 0,
    outputTokens: usage.output_tokens ?? 0,
    totalTokens: usage.total_tokens ?? 0,
    inputAudioTokens: usage.input_token_details?.audio_tokens ?? 0,
    outputAudioTokens: usage.output_token_details?.audio_tokens ?? 0,
    cachedTokens: usage.input_token_details?.cached_tokens ?? 0,
    ...(usage.input_token_details?.cached_tokens_details && {
      cachedAudioTokens: usage.input_token_details.cached_tokens_details.audio_tokens ?? 0,
      cachedTextTokens: usage.input_token_details.cached_tokens_details.text_tokens ?? 0,
    }),
  };
}

function messageText(content: unknown): string {
  let text = '';
  if (!Array.isArray(content)) return text;
  for (const part of content as { text?: unknown; transcript?: unknown }[]) {
    if (typeof part?.text === 'string') text += part.text;
    else if (typeof part?.transcript === 'string') text += part.transcript;
  }
  return text;
}

function fromRealtimeItem(item: ConversationItem): ContextItem | null {
  const id = item.id;
  if (typeof id !== 'string') return null;
  switch (item.type) {
    case 'message':
      if (item.role !== 'user' && item.role !== 'assistant') return null;
      return { type: 'message', id, role: item.role, text: messageText(item.content) };
    case 'function_call':
      return { type: 'function_call', id, callId: item.call_id ?? '', name: item.name ?? '', arguments: item.arguments ?? '' };
    case 'function_call_output':
      return { type: 'function_call_output', id, callId: item.call_id, output: item.output };
    default:
      return null;
  }
}

function toRealtimeItem(item: ContextItem): ConversationItem {
  switch (item.type) {
    case 'message':
      return item.role === 'user'
        ? { id: item.id, type: 'message', role: 'user', content: [{ type: 'input_text', text: item.text }] }
        : { id: item.id, type: 'message', role: 'assistant', content: [{ type: 'output_text', text: item.text }] };
    case 'function_call':
      return { id: item.id, type: 'function_call', call_id: item.callId, name: item.name, arguments: item.arguments };
    case 'function_call_output':
      return { id: item.id, type: 'function_call_output', call_id: item.callId, output: item.output };
  }
}
