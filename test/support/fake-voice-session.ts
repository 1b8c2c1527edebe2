// A voice session the test drives: the far side of the engine seam (the network peer, not our
// code), for unit tests of the model link and the call.
import { REALTIME_API, type ModelFailure } from '../../src/openai/model-failure';
import type { ContextItem, ResponseRequest, VoiceSession, VoiceSessionListener } from '../../src/openai/voice-engine';

export class FakeSession implements VoiceSession {
  readonly engine = 'realtime' as const;
  readonly model = 'gpt-realtime-2.1';
  api = REALTIME_API;
  readonly dialedAt = performance.now();
  /** Set to play an engine that says when its session ends (GPT-Live's expires_at). */
  expiresAt: number | null = null;
  rolloverLeadMs: number | null = null;
  readonly connectMs = 5;
  ready = false;
  closed = false;
  bufferedAmount = 0;
  answersPings = true;
  listener: VoiceSessionListener | null = null;
  readonly sent: (['audio', string] | ['context', ContextItem[]] | ['request', ResponseRequest] | ['tool', string] | ['truncate', string])[] = [];
  closedByUs = false;

  attach(listener: VoiceSessionListener): void {
    this.listener = listener;
  }
  /** The service confirmed the configuration. */
  confirm(): void {
    this.ready = true;
    this.listener?.onReady();
  }
  /** The connection went away (or was refused). */
  lose(failure: Partial<ModelFailure> = {}): void {
    this.closed = true;
    const listener = this.listener;
    this.listener = null;
    listener?.onClosed({ code: 1006, reason: 'dropped', opened: true, ...failure });
  }
  appendAudio(base64: string): void {
    this.sent.push(['audio', base64]);
  }
  requestResponse(request: ResponseRequest): void {
    this.sent.push(['request', request]);
  }
  truncate(itemId: string, audioEndMs: number): void {
    this.sent.push(['truncate', `${itemId}@${audioEndMs}`]);
  }
  sendToolResult(callId: string): void {
    this.sent.push(['tool', callId]);
  }
  addContext(items: readonly ContextItem[]): void {
    this.sent.push(['context', [...items]]);
  }
  reconfigure(): string | null {
    return null;
  }
  private awaitingPong = false;
  /** As a real socket: false when the previous ping was never answered. */
  heartbeat(): boolean {
    if (this.awaitingPong) return false;
    this.awaitingPong = !this.answersPings;
    return true;
  }
  abandon(reason: string): void {
    this.lose({ code: 1006, reason });
  }
  /** Set to play an engine whose close waits for the service's last word: close() then keeps `done` here. */
  holdsClose = false;
  pendingClose: (() => void) | null = null;
  close(done?: () => void): void {
    this.closed = true;
    this.closedByUs = true;
    if (this.holdsClose) {
      this.pendingClose = done ?? null;
      return;
    }
    this.listener = null;
    done?.();
  }
}

/** A listener that records every event of the seam as [name, ...args], in order (engine unit tests). */
export function recordingListener(): { listener: VoiceSessionListener; calls: [string, ...unknown[]][] } {
  const calls: [string, ...unknown[]][] = [];
  const record =
    (name: string) =>
    (...args: unknown[]) =>
      void calls.push([name, ...args]);
  const listener: VoiceSessionListener = {
    onReady: record('ready'),
    onAudio: record('audio'),
    onTranscriptDelta: record('delta'),
    onTranscriptDone: record('done'),
    onConversationItem: record('item'),
    onItemHeard: record('heard'),
    onSpeechStarted: record('speechStarted'),
    onSpeechStopped: record('speechStopped'),
    onResponseStarted: record('started'),
    onResponseDone: record('responseDone'),
    onUsage: record('usage'),
    onToolCall: record('toolCall'),
    onRequestRefused: record('refused'),
    onError: record('error'),
    onClosed: record('closed'),
    onFault: record('fault'),
  };
  return { listener, calls };
}
