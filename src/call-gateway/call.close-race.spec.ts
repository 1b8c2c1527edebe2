// Races at the end of a call: ending inside barge-in or reconnect handling must leave no
// connection, no timer and no "internal error" behind, and nothing is published after call.ended.
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type WebSocket from 'ws';
import { FakeSession } from '../../test/support/fake-voice-session';
import { loadAppConfig } from '../config/app-config';
import type { ModelDialer } from '../openai/model-dialer.service';
import { SessionConfigService } from '../openai/session-config.service';
import { ToolRegistry } from '../tools/tool-registry.service';
import { Call } from './call';
import { type CallEvent, CallEventBus } from './call-events';
import { CallRegistry } from './call-registry.service';
import { MAX_BUFFERED_BYTES } from './media-stream';

/** The Twilio side of the socket, as the Call sees it: frames in, messages out. */
class FakeTwilioSocket extends EventEmitter {
  readyState = 1; // OPEN
  bufferedAmount = 0;
  readonly sent: any[] = [];
  closedWith: number | null = null;
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(code: number): void {
    if (this.closedWith !== null) return;
    this.closedWith = code;
    this.readyState = 3;
    this.emit('close', code, Buffer.from(''));
  }
  frame(message: object): void {
    this.emit('message', Buffer.from(JSON.stringify(message)), false);
  }
}

const CALL_SID = 'CA' + 'a'.repeat(32);
const STREAM_SID = 'MZ' + 'b'.repeat(32);

function setup(opts: { holdsClose?: boolean } = {}) {
  const config = loadAppConfig({ OPENAI_API_KEY: 'sk-test-0123456789', ALLOW_UNRESERVED_STREAMS: 'true', MODEL_RECONNECT_BASE_DELAY_MS: '100' });
  const events = new CallEventBus();
  const published: CallEvent[] = [];
  events.subscribe((e) => published.push(e));
  const tools = new ToolRegistry([], config);
  const sessionConfig = new SessionConfigService(config);
  const dialed: FakeSession[] = [];
  const dialer = {
    dial: () => {
      const session = new FakeSession();
      session.holdsClose = opts.holdsClose ?? false;
      dialed.push(session);
      return session;
    },
    engineFor: () => ({ name: 'realtime', model: 'gpt-realtime-2.1' }),
  } as unknown as ModelDialer;
  const registry = new CallRegistry(config, dialer, sessionConfig, tools, events);
  const socket = new FakeTwilioSocket();
  const call = new Call(socket as unknown as WebSocket, { config, events, tools, registry, sessionConfig, dialer });
  socket.frame({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  socket.frame({ event: 'start', sequenceNumber: '1', streamSid: STREAM_SID, start: { streamSid: STREAM_SID, callSid: CALL_SID, customParameters: {} } });
  const model = dialed[0];
  model.confirm();
  return { call, socket, model, dialed, published, registry };
}

describe('a call that ends mid-handling', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('ends cleanly on backpressure while clearing for a barge-in: no truncate to a closed link, no timer, no internal error', () => {
    const { call, socket, model, published, registry } = setup();
    model.listener!.onResponseStarted('resp_1');
    model.listener!.onAudio('item_1', 'resp_1', Buffer.alloc(8000).toString('base64')); // 1 s on the phone
    socket.bufferedAmount = MAX_BUFFERED_BYTES + 1; // Twilio stops reading just now
    model.listener!.onSpeechStarted();
    expect(call.endReason).toBe('backpressure');
    expect(model.sent.filter((s) => s[0] === 'truncate')).toEqual([]);
    expect(model.closedByUs).toBe(true);
    expect(socket.closedWith).toBe(1000);
    expect(vi.getTimerCount()).toBe(0);
    expect(registry.activeCount).toBe(0);
    const ended = published.filter((e) => e.type === 'call.ended');
    expect(ended).toHaveLength(1);
    expect(published.at(-1)).toBe(ended[0]);
    expect(published.some((e) => e.type === 'barge_in')).toBe(false);
  });

  it('ends cleanly during a reconnect: the retry never dials, no timer is left', () => {
    const { call, socket, model, dialed } = setup();
    model.lose();
    expect(vi.getTimerCount()).toBeGreaterThan(0); // the retry is scheduled
    socket.frame({ event: 'stop', sequenceNumber: '9', streamSid: STREAM_SID, stop: { callSid: CALL_SID } });
    expect(call.endReason).toBe('caller-hung-up');
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(dialed).toHaveLength(1);
  });

  it('ends cleanly while a new session is being dialled: that session is closed too', () => {
    const { call, socket, model, dialed } = setup();
    model.lose();
    vi.advanceTimersByTime(200);
    expect(dialed).toHaveLength(2);
    socket.close(1006);
    expect(call.endReason).toBe('twilio-disconnected');
    expect(dialed[1].closedByUs).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('publishes nothing after call.ended, whatever the model still sends', () => {
    const { call, model, published } = setup();
    const listener = model.listener!;
    call.end('operator');
    const count = published.length;
    expect(published.at(-1)).toMatchObject({ type: 'call.ended', reason: 'operator' });
    listener.onTranscriptDone('assistant', 'item_1', 'late text');
    listener.onAudio('item_1', 'resp_1', 'AAAA');
    listener.onError({ message: 'late', fatal: false });
    call.end('internal-error');
    expect(published).toHaveLength(count);
    expect(call.endReason).toBe('operator');
  });

  it('ends one call, not the process, when a handler throws', () => {
    const { call, model, published } = setup();
    model.listener!.onFault(new Error('a bug'));
    expect(call.endReason).toBe('internal-error');
    expect(published.at(-1)).toMatchObject({ type: 'call.ended', reason: 'internal-error' });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('waits for the model’s last word before call.ended (GPT-Live’s final usage), and lets go of everything else at once', () => {
    const { call, socket, model, published, registry } = setup({ holdsClose: true });
    const listener = model.listener!;
    socket.frame({ event: 'stop', sequenceNumber: '9', streamSid: STREAM_SID, stop: { callSid: CALL_SID } });
    expect(call.endReason).toBe('caller-hung-up');
    // Twilio and the registry are released; the model is asked to close and has not answered yet.
    expect(socket.closedWith).toBe(1000);
    expect(registry.activeCount).toBe(0);
    expect(model.closedByUs).toBe(true);
    expect(published.some((e) => e.type === 'call.ended')).toBe(false);
    // Its final count belongs to the call; then the call ends, once.
    const usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0, inputAudioTokens: 0, outputAudioTokens: 0, cachedTokens: 0, billedSeconds: 1.25 };
    listener.onUsage({ id: 'seconds_9', model: 'gpt-live-1.1', status: 'completed', usage });
    call.end('operator');
    model.pendingClose!();
    expect(published.slice(-2)).toMatchObject([
      { type: 'usage', responseId: 'seconds_9', model: 'gpt-live-1.1', billedSeconds: 1.25 },
      { type: 'call.ended', reason: 'caller-hung-up' },
    ]);
    listener.onUsage({ id: 'seconds_10', model: 'gpt-live-1.1', status: 'completed', usage });
    expect(published.at(-1)).toMatchObject({ type: 'call.ended' });
    expect(published.filter((e) => e.type === 'call.ended')).toHaveLength(1);
  });
});
