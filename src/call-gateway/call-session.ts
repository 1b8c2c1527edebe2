import type {
  RealtimeConversationItemFunctionCall,
  RealtimeServerEvent,
  ResponseAudioDeltaEvent,
  ResponseDoneEvent,
} from 'openai/resources/realtime/realtime';
import WebSocket from 'ws';
import type { AppConfig } from '../config/app-config';
import type { RealtimeConnection } from '../openai/realtime-connection';
import type { ToolRegistry, ToolResult } from '../tools/tool-registry.service';
import type { CallEndReason, CallEventBody, CallEventBus } from './call-events';
import { CallLogger } from './call-logger';
import type { CallRegistry } from './call-registry.service';
import { PlaybackTracker } from './playback-tracker';
import {
  base64ByteLength,
  parseTwilioMessage,
  type TwilioDtmf,
  type TwilioParseError,
  type TwilioStart,
} from './twilio-messages';

export interface CallSessionDeps {
  config: AppConfig;
  events: CallEventBus;
  tools: ToolRegistry;
  registry: CallRegistry;
}

/** WebSocket close codes we use on the Twilio socket. */
export const CloseCode = {
  normal: 1000,
  protocolError: 1008,
  modelUnavailable: 1011,
  tryAgainLater: 1013,
} as const;

/** Too many invalid frames from one socket means it is not Twilio (or Twilio is broken): hang up. */
const MAX_BAD_FRAMES = 100;
/** Sockets buffering more than this are not keeping up with real-time audio. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** If goodbye marks never come back, hang up anyway. */
const HANGUP_GRACE_MS = 20_000;

type State = 'awaiting-start' | 'live' | 'ended';

/**
 * One phone call: the Twilio media socket on one side, one Realtime connection on the other.
 * A plain class (made by CallSessionFactory), so every call has its own state and nothing is shared.
 */
export class CallSession {
  private readonly logger: CallLogger;
  private state: State = 'awaiting-start';
  callSid = '';
  streamSid = '';
  from: string | null = null;
  to: string | null = null;
  direction: string | null = null;
  readonly startedAt = Date.now();
  lastMediaAt = Date.now();
  framesIn = 0;
  framesOut = 0;
  badFrames = 0;
  lateDeltasDropped = 0;
  /** Milliseconds from the media socket's opening to the first audio sent to the caller; set once per call. */
  firstAudioMs: number | null = null;
  endReason: CallEndReason | null = null;

  private model: RealtimeConnection | null = null;
  private readonly tracker = new PlaybackTracker();
  private readonly abort = new AbortController();
  private mediaPrefix = '';
  private markPrefix = '';
  private clearMessage = '';
  private startTimer: NodeJS.Timeout | undefined;
  private hangupTimer: NodeJS.Timeout | undefined;
  private readonly badFrameKinds = new Set<string>();

  // Response state, for barge-in, tool calls and end_call.
  private responseId: string | null = null;
  private responseActive = false;
  private awaitingResponse = false;
  private responseHadAudio = false;
  private interruptedItemId: string | null = null;
  private interruptedResponseId: string | null = null;
  private readonly toolCalls: Promise<{ callId: string; result: ToolResult }>[] = [];
  private readonly toolCallIds = new Set<string>();
  private toolsRunning = 0;
  private hangupRequested = false;
  private modelConfigured = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly deps: CallSessionDeps,
  ) {
    this.logger = new CallLogger('CallSession', this);
    socket.on('message', (data: Buffer, isBinary: boolean) => this.onTwilioFrame(data, isBinary));
    socket.on('close', () => this.end('twilio-disconnected'));
    socket.on('error', (err) => this.logger.warn(`Twilio socket error: ${err.message}`));
    this.startTimer = setTimeout(() => this.protocolError('no start message'), deps.config.STREAM_START_TIMEOUT_MS);
  }

  get isLive(): boolean {
    return this.state === 'live';
  }

  get isEnded(): boolean {
    return this.state === 'ended';
  }

  get modelOpen(): boolean {
    return this.model?.isOpen ?? false;
  }

  // ---- Twilio → us --------------------------------------------------------------------------

  private onTwilioFrame(data: Buffer, isBinary: boolean): void {
    if (isBinary) return this.badFrame('invalid-shape');
    const msg = parseTwilioMessage(data.toString());
    if (typeof msg === 'string') return this.badFrame(msg);
    switch (msg.event) {
      case 'media':
        // The hot path: one parse above, one write here.
        if (this.state !== 'live' || msg.streamSid !== this.streamSid) return this.badFrame('media-outside-stream');
        this.framesIn++;
        this.lastMediaAt = Date.now();
        this.model!.appendAudio(msg.media.payload);
        if ((this.framesIn & 63) === 0 && this.model!.bufferedAmount > MAX_BUFFERED_BYTES) this.end('backpressure');
        return;
      case 'mark':
        if (this.tracker.markEchoed(msg.mark.name, performance.now())) this.maybeHangUp();
        return;
      case 'start':
        return this.onStart(msg);
      case 'dtmf':
        return this.onDtmf(msg);
      case 'stop':
        return this.end('caller-hung-up');
      case 'connected':
        return;
    }
  }

  private onStart(msg: TwilioStart): void {
    if (this.state !== 'awaiting-start') return this.badFrame('duplicate-start');
    clearTimeout(this.startTimer);
    const { start } = msg;
    const params = start.customParameters ?? {};
    this.callSid = start.callSid || params.callSid || '';
    this.streamSid = start.streamSid;
    this.from = params.from ?? null;
    this.to = params.to ?? null;
    this.direction = params.direction ?? null;
    if (!this.callSid) return this.protocolError('start without callSid');

    const admission = this.deps.registry.admit(this);
    if (admission !== 'ok') {
      this.state = 'ended';
      this.logger.warn(`refusing stream for ${this.callSid}: ${admission}`);
      this.socket.close(CloseCode.tryAgainLater, admission);
      return;
    }
    this.state = 'live';
    const sid = JSON.stringify(this.streamSid);
    this.mediaPrefix = '{"event":"media","streamSid":' + sid + ',"media":{"payload":';
    this.markPrefix = '{"event":"mark","streamSid":' + sid + ',"mark":{"name":';
    this.clearMessage = '{"event":"clear","streamSid":' + sid + '}';
    this.publish({
      type: 'call.started',
      streamSid: this.streamSid,
      from: this.from,
      to: this.to,
      direction: this.direction,
      startedAt: new Date(this.startedAt).toISOString(),
    });
    this.logger.log(`call ${this.callSid} started (stream ${this.streamSid})`);

    const reserved = this.deps.registry.takeReservation(this.callSid);
    let model = reserved;
    if (!model) {
      try {
        model = this.deps.registry.dial(this.callSid);
      } catch (err) {
        this.logger.error(`cannot dial the model: ${(err as Error).message}`);
        this.end('model-unavailable');
        return;
      }
    }
    this.model = model;
    model.attach({ onEvent: (event) => this.onModelEvent(event), onClose: (code, reason) => this.onModelClosed(code, reason) });
    if (this.state !== 'live') return; // the pre-dialled socket had already failed
    const greeting = this.deps.config.AGENT_GREETING;
    if (greeting) this.requestResponse(greeting);
  }

  private onDtmf(msg: TwilioDtmf): void {
    if (this.state !== 'live') return this.badFrame('dtmf-before-start');
    const digit = msg.dtmf.digit;
    this.model!.send({
      type: 'conversation.item.create',
      item: {
        type: 'message',
        role: 'user',
        content: [{ type: 'input_text', text: `[The caller pressed the "${digit}" key on the phone keypad.]` }],
      },
    });
    this.publish({ type: 'dtmf', digit });
  }

  private badFrame(kind: TwilioParseError | string): void {
    this.badFrames++;
    if (!this.badFrameKinds.has(kind)) {
      // Logged once per kind per call: a flood of bad frames must not become a flood of log lines.
      this.badFrameKinds.add(kind);
      this.logger.warn(`dropped invalid Twilio frame (${kind}) on ${this.callSid || 'unstarted stream'}`);
    }
    if (this.badFrames >= MAX_BAD_FRAMES) this.protocolError(`too many invalid frames (${this.badFrames})`);
  }

  private protocolError(why: string): void {
    if (this.state === 'ended') return;
    this.logger.warn(`closing Twilio socket: ${why}`);
    if (this.state === 'awaiting-start') {
      this.state = 'ended';
      clearTimeout(this.startTimer);
      this.socket.close(CloseCode.protocolError, why.slice(0, 120));
      return;
    }
    this.end('protocol-error');
  }

  // ---- OpenAI → us --------------------------------------------------------------------------

  private onModelEvent(event: RealtimeServerEvent): void {
    if (this.state !== 'live') return;
    switch (event.type) {
      case 'response.output_audio.delta':
        return this.forwardAudio(event);
      case 'input_audio_buffer.speech_started':
        return this.bargeIn();
      case 'response.created':
        this.responseId = event.response.id ?? null;
        this.responseActive = true;
        this.awaitingResponse = false;
        this.responseHadAudio = false;
        return;
      case 'response.output_item.done':
        if (event.item.type === 'function_call') this.startToolCall(event.item);
        return;
      case 'response.done':
        return void this.onResponseDone(event);
      case 'response.output_audio_transcript.delta':
        return this.publish({ type: 'transcript.delta', role: 'assistant', itemId: event.item_id, delta: event.delta });
      case 'response.output_audio_transcript.done':
        return this.publish({ type: 'transcript.done', role: 'assistant', itemId: event.item_id, text: event.transcript });
      case 'conversation.item.input_audio_transcription.delta':
        return this.publish({ type: 'transcript.delta', role: 'user', itemId: event.item_id, delta: event.delta ?? '' });
      case 'conversation.item.input_audio_transcription.completed':
        return this.publish({ type: 'transcript.done', role: 'user', itemId: event.item_id, text: event.transcript });
      case 'session.updated':
        if (!this.modelConfigured) {
          this.modelConfigured = true;
          this.publish({ type: 'model.status', status: 'connected', connectMs: this.model?.connectMs ?? undefined });
        }
        return;
      case 'error':
        this.logger.warn(`model error on ${this.callSid}: ${event.error.type} ${event.error.code ?? ''} ${event.error.message}`);
        return this.publish({ type: 'error', source: 'model', message: event.error.message, code: event.error.code ?? event.error.type });
    }
  }

  private forwardAudio(event: ResponseAudioDeltaEvent): void {
    if (event.item_id === this.interruptedItemId || event.response_id === this.interruptedResponseId) {
      // Late audio of a response the caller interrupted: never play it.
      this.lateDeltasDropped++;
      return;
    }
    const delta = event.delta;
    if (typeof delta !== 'string' || delta.length === 0) return;
    const mark = this.tracker.audioSent(event.item_id, base64ByteLength(delta), performance.now());
    this.responseHadAudio = true;
    if (this.framesOut++ === 0) this.firstAudioMs = Date.now() - this.startedAt;
    this.sendToTwilio(this.mediaPrefix + JSON.stringify(delta) + '}}');
    this.sendToTwilio(this.markPrefix + JSON.stringify(mark) + '}}');
  }

  /** The caller started talking: stop playback at once and cut the item to what they heard. */
  private bargeIn(): void {
    const cut = this.tracker.interrupt(performance.now());
    if (!cut) return;
    this.sendToTwilio(this.clearMessage);
    this.interruptedItemId = cut.itemId;
    if (this.responseActive) this.interruptedResponseId = this.responseId;
    this.model!.send({ type: 'conversation.item.truncate', item_id: cut.itemId, content_index: 0, audio_end_ms: cut.audioEndMs });
    this.publish({ type: 'barge_in', itemId: cut.itemId, audioEndMs: cut.audioEndMs, sentMs: Math.round(cut.sentMs) });
  }

  private startToolCall(item: RealtimeConversationItemFunctionCall): void {
    const callId = item.call_id;
    if (!callId || this.toolCallIds.has(callId)) return;
    this.toolCallIds.add(callId);
    const name = item.name;
    const args = item.arguments ?? '';
    this.publish({ type: 'function_call.started', callId, name, arguments: args });
    const run = this.deps.tools
      .execute(name, args, {
        callSid: this.callSid,
        signal: this.abort.signal,
        requestHangup: () => this.requestHangup(),
      })
      .then((result) => {
        this.publish({ type: 'function_call.finished', callId, name, output: result.output, durationMs: result.durationMs, error: result.error });
        return { callId, result };
      });
    this.toolCalls.push(run);
  }

  private async onResponseDone(event: ResponseDoneEvent): Promise<void> {
    const response = event.response;
    this.responseActive = false;
    if (response.usage) this.publish({ type: 'usage', responseId: response.id ?? '', status: response.status ?? 'unknown', usage: response.usage });
    for (const item of response.output ?? []) {
      if (item.type === 'function_call') this.startToolCall(item);
    }
    if (this.toolCalls.length === 0) return this.maybeHangUp();

    const calls = this.toolCalls.splice(0);
    const hadAudio = this.responseHadAudio;
    this.toolsRunning++;
    const results = await Promise.all(calls);
    this.toolsRunning--;
    if (this.state !== 'live') return;
    for (const { callId, result } of results) {
      this.model!.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: callId, output: result.output } });
    }
    // end_call after a spoken goodbye: nothing more to say, hang up when it has played.
    if (this.hangupRequested && hadAudio) return this.maybeHangUp();
    this.requestResponse();
  }

  private requestResponse(instructions?: string): void {
    this.awaitingResponse = true;
    this.model!.send(instructions ? { type: 'response.create', response: { instructions } } : { type: 'response.create' });
  }

  private onModelClosed(code: number, reason: string): void {
    if (this.state !== 'live') return;
    this.logger.warn(`model connection for ${this.callSid} closed (${code} ${reason})`);
    this.publish({ type: 'model.status', status: this.modelConfigured ? 'closed' : 'failed', detail: `${code} ${reason}`.trim() });
    this.end('model-unavailable');
  }

  // ---- end_call -----------------------------------------------------------------------------

  private requestHangup(): void {
    if (this.hangupRequested) return;
    this.hangupRequested = true;
    this.hangupTimer = setTimeout(() => this.end('agent-ended'), HANGUP_GRACE_MS);
  }

  /** Hang up once the goodbye is over: no response running or due, no tool running, every mark echoed. */
  private maybeHangUp(): void {
    if (!this.hangupRequested || this.state !== 'live') return;
    if (this.responseActive || this.awaitingResponse || this.toolsRunning > 0) return;
    if (this.tracker.pendingMarks > 0) return;
    this.end('agent-ended');
  }

  // ---- plumbing -----------------------------------------------------------------------------

  private sendToTwilio(message: string): void {
    const socket = this.socket;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) return this.end('backpressure');
    socket.send(message);
  }

  private publish(body: CallEventBody): void {
    this.deps.events.publish(this.callSid, body);
  }

  /** Ends the call and releases everything it holds. Safe to call more than once. */
  end(reason: CallEndReason): void {
    if (this.state === 'ended') return;
    const wasLive = this.state === 'live';
    this.state = 'ended';
    this.endReason = reason;
    clearTimeout(this.startTimer);
    clearTimeout(this.hangupTimer);
    this.abort.abort();
    this.model?.close(1000, 'call ended');
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      const code = reason === 'model-unavailable' ? CloseCode.modelUnavailable : reason === 'protocol-error' ? CloseCode.protocolError : CloseCode.normal;
      this.socket.close(code, reason);
    }
    if (!wasLive) return;
    this.deps.registry.release(this);
    const durationMs = Date.now() - this.startedAt;
    this.publish({ type: 'call.ended', reason, durationMs, framesIn: this.framesIn, framesOut: this.framesOut, badFrames: this.badFrames, lateDeltasDropped: this.lateDeltasDropped, firstAudioMs: this.firstAudioMs });
    this.logger.log(`call ${this.callSid} ended: ${reason} after ${Math.round(durationMs / 1000)} s (${this.framesIn} frames in, ${this.framesOut} out)`);
  }
}
