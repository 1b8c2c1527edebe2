// LiveSession's own states (connecting → starting → started → closing → closed), with fake timers
// over a stand-in for `ws`'s WebSocket: the test plays the service and sees every message the
// session sends. What the conversation means (turns, responses, tools) is LiveConversation's spec.
import { Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { loadAppConfig } from '../../config/app-config';
import { recordingListener } from '../../../test/support/fake-voice-session';
import type { SessionSpec } from '../voice-engine';
import { CLOSE_WAIT_MS, LiveSession, MAX_QUEUED } from './live-session';

const { FakeSocket } = vi.hoisted(() => {
  type Handler = (...args: any[]) => void;
  /** The network peer: records what the session sends; the test accepts, delivers and closes as the service would. */
  class FakeSocket {
    static readonly CONNECTING = 0;
    static readonly OPEN = 1;
    static readonly CLOSING = 2;
    static readonly CLOSED = 3;
    static readonly instances: FakeSocket[] = [];
    readyState = FakeSocket.CONNECTING;
    bufferedAmount = 0;
    /** Every message sent, parsed, in order. */
    readonly sent: Record<string, any>[] = [];
    /** Every close() call. Like ws, the 'close' event comes later (closedByPeer plays it). */
    readonly closes: { code?: number; reason?: string }[] = [];
    terminated = 0;
    private readonly handlers = new Map<string, { fn: Handler; once: boolean }[]>();

    constructor() {
      FakeSocket.instances.push(this);
    }

    on(event: string, fn: Handler): this {
      this.handlers.set(event, [...(this.handlers.get(event) ?? []), { fn, once: false }]);
      return this;
    }

    once(event: string, fn: Handler): this {
      this.handlers.set(event, [...(this.handlers.get(event) ?? []), { fn, once: true }]);
      return this;
    }

    emit(event: string, ...args: unknown[]): void {
      const list = this.handlers.get(event) ?? [];
      this.handlers.set(
        event,
        list.filter((h) => !h.once),
      );
      for (const handler of list) handler.fn(...args);
    }

    send(data: string): void {
      if (this.readyState !== FakeSocket.OPEN) throw new Error('WebSocket is not open');
      this.sent.push(JSON.parse(data));
    }

    ping(): void {}

    close(code?: number, reason?: string): void {
      this.closes.push({ code, reason });
      if (this.readyState !== FakeSocket.CLOSED) this.readyState = FakeSocket.CLOSING;
    }

    terminate(): void {
      this.terminated++;
      if (this.readyState !== FakeSocket.CLOSED) this.readyState = FakeSocket.CLOSING;
    }

    // ---- the service's side ----

    accept(): void {
      this.readyState = FakeSocket.OPEN;
      this.emit('open');
    }

    deliver(event: Record<string, unknown>): void {
      this.emit('message', Buffer.from(JSON.stringify(event)), false);
    }

    closedByPeer(code = 1000, reason = ''): void {
      this.readyState = FakeSocket.CLOSED;
      this.emit('close', code, Buffer.from(reason));
    }
  }
  return { FakeSocket };
});
vi.mock('ws', () => ({ default: FakeSocket }));

type FakeSocket = InstanceType<typeof FakeSocket>;

const SPEC: SessionSpec = {
  callSid: 'CA0123',
  settings: { engine: 'live', instructions: 'Be brief.', voice: 'marin', turnDetection: { type: 'server_vad' }, enabledTools: null },
  tools: [{ type: 'function', name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: {} } }],
};

function setup(opts: { attach?: boolean } = {}) {
  const { listener, calls } = recordingListener();
  const session = new LiveSession({ ...SPEC }, loadAppConfig({}), { url: 'ws://127.0.0.1:1/v1/live/sessions', apiKey: 'sk-test', handshakeTimeoutMs: 1000 });
  const socket: FakeSocket = FakeSocket.instances.at(-1)!;
  if (opts.attach !== false) session.attach(listener);
  // The handshake takes a moment (fake performance.now() starts at 0, which would read as "never opened").
  const open = (): void => {
    vi.advanceTimersByTime(50);
    socket.accept();
  };
  const started = (): void => socket.deliver({ type: 'session.started', event_id: 'ev1', session: { id: 'live_1', expires_at: 4_000_000_000 } });
  const named = (name: string) => calls.filter((c) => c[0] === name);
  return { session, socket, listener, calls, named, open, started, types: () => socket.sent.map((m) => m.type as string) };
}

describe('LiveSession', () => {
  let warn: MockInstance<Logger['warn']>;
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.instances.length = 0;
    // Quiet, and inspectable: what the session logs is part of what it does.
    warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    vi.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('sends session.start first, queues commands until session.started (bounded, in order) and flushes them after', () => {
    const { session, socket, named, open, started, types } = setup();
    open();
    expect(types()).toEqual(['session.start']);

    // Between session.start and session.started: commands wait (each change is a backend update and an append).
    const changes = MAX_QUEUED / 2 + 10;
    for (let i = 1; i <= changes; i++) expect(session.reconfigure({ instructions: `Rule ${i}.` }, undefined)).toBeNull();
    session.appendAudio('AAAA'); // audio is not queued here: the link holds it until onReady
    expect(types()).toEqual(['session.start']);
    expect(named('ready')).toEqual([]);

    started();
    // The first MAX_QUEUED, in the order they were made; the rest were dropped (and counted).
    const flushed = socket.sent.slice(1);
    expect(flushed).toHaveLength(MAX_QUEUED);
    expect(flushed).toEqual(
      Array.from({ length: MAX_QUEUED / 2 }, (_, n) => [
        {
          type: 'session.update',
          event_id: `update_${n + 1}`,
          session: { delegation: { type: 'responses', responses: { instructions: `Rule ${n + 1}.` } } },
        },
        { type: 'session.instructions.append', delegation_id: null, content: expect.stringMatching(new RegExp(`\\nRule ${n + 1}\\.$`)) },
      ]).flat(),
    );
    expect(named('ready')).toHaveLength(1);

    // Once started, commands go out at once.
    session.reconfigure({ instructions: 'Rule last.' }, undefined);
    expect(socket.sent.slice(1 + MAX_QUEUED).map((m) => m.type)).toEqual(['session.update', 'session.instructions.append']);

    // What was not sent is reported once, when the session ends.
    session.close();
    socket.deliver({ type: 'session.closed', reason: 'close_requested', usage: { seconds: 1 } });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatchObject({ notSent: (changes - MAX_QUEUED / 2) * 2 + 1 });
  });

  it('close() sends session.close and waits for session.closed (its final usage reaches the listener), then closes the socket', () => {
    const { session, socket, named, open, started } = setup();
    open();
    started();
    const done = vi.fn();
    session.close(done);
    expect(socket.sent.at(-1)).toEqual({ type: 'session.close' });
    expect(session.closed).toBe(true);
    vi.advanceTimersByTime(CLOSE_WAIT_MS - 1);
    expect(socket.closes).toEqual([]);
    expect(done).not.toHaveBeenCalled();

    socket.deliver({ type: 'session.closed', reason: 'close_requested', usage: { seconds: 12.5 } });
    expect(socket.closes).toEqual([{ code: 1000, reason: 'call ended' }]);
    expect(done).toHaveBeenCalledTimes(1);
    expect(named('usage').map((c) => (c[1] as { usage: { billedSeconds: number } }).usage.billedSeconds)).toEqual([12.5]);
    // We asked: no onClosed, and nothing left to fire.
    expect(named('closed')).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
    socket.closedByPeer(1000, 'call ended');
    expect(named('closed')).toEqual([]);
  });

  it('close() closes the socket anyway after CLOSE_WAIT_MS without session.closed, and ignores what comes later', () => {
    const { session, socket, named, open, started } = setup();
    open();
    started();
    const done = vi.fn();
    session.close(done);
    vi.advanceTimersByTime(CLOSE_WAIT_MS - 1);
    expect(socket.closes).toEqual([]);
    expect(done).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(socket.closes).toEqual([{ code: 1000, reason: 'call ended' }]);
    expect(done).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);

    // A late session.closed and the socket's own close change nothing.
    socket.deliver({ type: 'session.closed', reason: 'close_requested', usage: { seconds: 3 } });
    socket.closedByPeer(1000, 'call ended');
    expect(named('usage')).toEqual([]);
    expect(named('closed')).toEqual([]);
    expect(done).toHaveBeenCalledTimes(1);
  });

  it('close() before session.started closes at once: there is no session to close and no usage to wait for', () => {
    const starting = setup();
    starting.open();
    const done = vi.fn();
    starting.session.close(done);
    expect(starting.types()).toEqual(['session.start']);
    expect(starting.socket.closes).toEqual([{ code: 1000, reason: 'call ended' }]);
    expect(done).toHaveBeenCalledTimes(1);

    // Still connecting: the socket is dropped (a close handshake cannot start).
    const connecting = setup();
    connecting.session.close(done);
    expect(connecting.socket.terminated).toBe(1);
    expect(connecting.socket.sent).toEqual([]);
    expect(done).toHaveBeenCalledTimes(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('close() is re-entrant: again while closing, from a listener callback, from its own callback, and after it closed', () => {
    const { session, socket, listener, open, started } = setup();
    open();
    started();
    const order: string[] = [];
    session.close(() => {
      order.push('first');
      // From its own callback: the session is closed by now, so this runs at once.
      session.close(() => order.push('inside first'));
    });
    session.close(() => order.push('second'));
    // The final usage arrives while closing, and the listener ends the session too (as the call does).
    listener.onUsage = () => session.close(() => order.push('from onUsage'));
    expect(socket.sent.filter((m) => m.type === 'session.close')).toHaveLength(1);

    socket.deliver({ type: 'session.closed', reason: 'close_requested', usage: { seconds: 2 } });
    expect(order).toEqual(['first', 'inside first', 'second', 'from onUsage']);
    session.close(() => order.push('after'));
    expect(order.at(-1)).toBe('after');
    expect(socket.sent.filter((m) => m.type === 'session.close')).toHaveLength(1);
    expect(socket.closes).toHaveLength(1);
    vi.advanceTimersByTime(CLOSE_WAIT_MS * 2);
    expect(order).toHaveLength(5);
  });

  describe('reports each error and each end once', () => {
    it('a socket error, then its close, then another error', () => {
      const { socket, named, open, started } = setup();
      open();
      started();
      socket.emit('error', new Error('read ECONNRESET'));
      socket.closedByPeer(1006);
      socket.emit('error', new Error('write EPIPE'));
      expect(named('closed')).toEqual([['closed', expect.objectContaining({ code: 1006, reason: 'read ECONNRESET', opened: true })]]);
      expect(named('error')).toEqual([]);
    });

    it('session.closed from the service, then the socket closing', () => {
      const { socket, named, open, started } = setup();
      open();
      started();
      socket.deliver({ type: 'session.closed', reason: 'expired', usage: { seconds: 30 } });
      expect(socket.closes).toEqual([{ code: 1000, reason: 'session closed' }]);
      socket.closedByPeer(1000, 'expired');
      expect(named('usage')).toHaveLength(1);
      expect(named('closed')).toEqual([['closed', expect.objectContaining({ code: 1000, reason: 'session closed by GPT-Live (expired)' })]]);
    });

    it('a refused session.start: one error, then one end that carries it', () => {
      const { socket, named, open } = setup();
      open();
      socket.deliver({ type: 'error', error: { type: 'invalid_request_error', code: 'unknown_parameter', message: "Unknown parameter: 'session.x'." } });
      expect(named('error')).toEqual([['error', expect.objectContaining({ code: 'unknown_parameter', fatal: true, configRefused: true })]]);
      socket.closedByPeer(1008, 'invalid session');
      socket.emit('error', new Error('late'));
      expect(named('error')).toHaveLength(1);
      expect(named('closed')).toEqual([['closed', expect.objectContaining({ code: 1008, lastError: expect.objectContaining({ code: 'unknown_parameter' }) })]]);
    });

    it('an HTTP refusal of the upgrade, then the error and close ws reports after it', () => {
      const { socket, named } = setup();
      socket.emit('unexpected-response', {}, { statusCode: 503, resume: vi.fn() });
      socket.emit('error', new Error('Unexpected server response: 503'));
      socket.closedByPeer(1006);
      expect(named('closed')).toEqual([['closed', expect.objectContaining({ code: 1006, httpStatus: 503, opened: false })]]);
      expect(warn).toHaveBeenCalledTimes(1); // "GPT-Live refused the connection (HTTP 503)"
    });

    it('abandon() (a dead socket), then the close it causes', () => {
      const { session, socket, named, open, started } = setup();
      open();
      started();
      session.abandon('no pong');
      session.abandon('no pong again');
      socket.closedByPeer(1006);
      expect(socket.terminated).toBe(1);
      expect(named('closed')).toEqual([['closed', expect.objectContaining({ code: 1006, reason: 'no pong' })]]);
    });

    it('a failure before anyone listened, reported once on attach', () => {
      const { session, socket, listener, named } = setup({ attach: false });
      socket.emit('error', new Error('connect ECONNREFUSED'));
      socket.closedByPeer(1006);
      session.attach(listener);
      expect(named('closed')).toEqual([['closed', expect.objectContaining({ reason: 'connect ECONNREFUSED', opened: false })]]);
    });
  });
});
