import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallEventBody } from '../call-gateway/call-events';
import { MAX_LOSSES_PER_WINDOW, ModelLink, type ModelLinkListener, type ModelLinkOptions, ROLLOVER_PAUSE_MS, STABLE_MS } from './model-link';
import { FakeSession } from '../../test/support/fake-voice-session';
import type { ContextItem, SessionSpec } from './voice-engine';

const OPTIONS: ModelLinkOptions = {
  maxAttempts: 6,
  baseDelayMs: 200,
  maxDelayMs: 5000,
  maxHeldFrames: 5,
  sessionMaxMs: 60 * 60_000,
  confirmTimeoutMs: 6000,
  pingIntervalMs: 3000,
};

function setup(options: Partial<ModelLinkOptions> = {}, quiet = () => true, customise: (session: FakeSession) => void = () => undefined) {
  const dialed: FakeSession[] = [];
  const statuses: Extract<CallEventBody, { type: 'model.status' }>[] = [];
  const calls = { open: 0, lost: 0, failed: [] as string[], faults: [] as unknown[] };
  const usage: string[] = [];
  const listener: ModelLinkListener = {
    onAudio: () => undefined,
    onTranscriptDelta: () => undefined,
    onTranscriptDone: () => undefined,
    onSpeechStarted: () => undefined,
    onSpeechStopped: () => undefined,
    onResponseStarted: () => undefined,
    onResponseDone: () => undefined,
    onUsage: (report) => usage.push(report.id),
    onToolCall: () => undefined,
    onRequestRefused: () => undefined,
    onError: () => undefined,
    onStatus: (s) => statuses.push(s),
    onOpen: () => calls.open++,
    onLost: () => calls.lost++,
    onFailed: (problem) => calls.failed.push(problem.message),
    onBackpressure: () => undefined,
    isQuiet: quiet,
    onFault: (err) => calls.faults.push(err),
  };
  const spec: SessionSpec = {
    callSid: 'CA1',
    settings: { engine: 'realtime', instructions: 'x', voice: 'marin', turnDetection: { type: 'server_vad' }, enabledTools: null },
    tools: [],
  };
  const dial = (dialSpec: SessionSpec) => {
    const session = new FakeSession();
    customise(session);
    dialed.push(session);
    specs.push(dialSpec);
    return session;
  };
  const specs: SessionSpec[] = [];
  const link = new ModelLink(spec, dial, { ...OPTIONS, ...options }, listener);
  return { link, dialed, statuses, calls, usage, specs, current: () => dialed.at(-1)! };
}

describe('ModelLink', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('holds caller audio until the session is confirmed, then sends context, held audio and opens, in that order', () => {
    const { link, current, calls } = setup();
    link.start();
    link.addUserText('[pressed 1]');
    link.appendAudio('AAAA');
    link.appendAudio('BBBB');
    expect(current().sent).toEqual([]);
    current().confirm();
    expect(current().sent.map((s) => s[0])).toEqual(['context', 'audio', 'audio']);
    expect((current().sent[0][1] as ContextItem[])[0]).toMatchObject({ role: 'user', text: '[pressed 1]' });
    expect(calls.open).toBe(1);
    link.appendAudio('CCCC');
    expect(current().sent.at(-1)).toEqual(['audio', 'CCCC']);
  });

  it('adopts a pre-dialled session that is already confirmed', () => {
    const { link, dialed, calls } = setup();
    const predialled = new FakeSession();
    predialled.ready = true;
    link.start(predialled);
    predialled.listener!.onReady(); // what attach replays for an early session.updated
    expect(dialed).toHaveLength(0);
    expect(link.kind).toBe('open');
    expect(calls.open).toBe(1);
  });

  it('reconnects after a loss with backoff, restores the conversation, and reports held and dropped frames', () => {
    const { link, dialed, statuses, calls } = setup();
    link.start();
    dialed[0].confirm();
    dialed[0].listener!.onConversationItem({ type: 'message', id: 'u1', role: 'user', text: 'Hi' });
    dialed[0].lose();
    expect(calls.lost).toBe(1);
    expect(link.kind).toBe('reconnecting');
    for (let i = 0; i < 7; i++) link.appendAudio(`F${i}`); // 5 fit
    vi.advanceTimersByTime(200);
    expect(dialed).toHaveLength(2);
    dialed[1].confirm();
    expect(dialed[1].sent[0]).toEqual(['context', [{ type: 'message', id: 'u1', role: 'user', text: 'Hi' }]]);
    expect(dialed[1].sent.slice(1).map((s) => s[1])).toEqual(['F2', 'F3', 'F4', 'F5', 'F6']);
    expect(statuses.at(-1)).toMatchObject({ status: 'connected', heldFrames: 5, droppedFrames: 2, attempt: 1 });
    expect(link.reconnectCount).toBe(1);
  });

  it('counts attempts until a session is confirmed and stays up: an endpoint that accepts then closes is not retried forever', () => {
    const { link, dialed, statuses, calls } = setup();
    link.start();
    dialed[0].confirm();
    for (let i = 0; i < 20 && calls.failed.length === 0; i++) {
      // Each new socket opens and is closed at once (or after confirming, within seconds).
      const session = dialed.at(-1)!;
      if (i % 2 === 1) session.confirm();
      vi.advanceTimersByTime(1000);
      session.lose({ code: 1006, reason: 'closed by peer' });
      vi.advanceTimersByTime(5000);
    }
    expect(calls.failed).toHaveLength(1);
    expect(calls.failed[0]).toMatch(/^gave up after 6 attempts/);
    const attempts = statuses.filter((s) => s.status === 'reconnecting').map((s) => s.attempt);
    expect(attempts).toEqual([1, 2, 3, 4, 5, 6]);
    expect(dialed).toHaveLength(7);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('starts counting again after a session stayed up, but caps losses per window', () => {
    const { link, dialed, calls } = setup();
    link.start();
    dialed[0].confirm();
    for (let i = 0; i < MAX_LOSSES_PER_WINDOW; i++) {
      vi.advanceTimersByTime(STABLE_MS);
      dialed.at(-1)!.lose();
      expect(calls.failed).toEqual([]);
      vi.advanceTimersByTime(200);
      dialed.at(-1)!.confirm();
    }
    vi.advanceTimersByTime(STABLE_MS);
    dialed.at(-1)!.lose();
    expect(calls.failed).toHaveLength(1);
    expect(calls.failed[0]).toMatch(/lost 11 times in 10 minutes/);
  });

  it('gives up at once on a refused key, naming it', () => {
    const { link, dialed, calls, statuses } = setup();
    link.start();
    dialed[0].lose({ code: 1006, reason: '', httpStatus: 401, opened: false });
    expect(calls.failed).toEqual(['the Realtime API refused the key (401): check OPENAI_API_KEY']);
    expect(statuses.at(-1)).toMatchObject({ status: 'failed', detail: 'HTTP 401', problem: { kind: 'auth' } });
    expect(dialed).toHaveLength(1);
    expect(link.alive).toBe(false);
  });

  it('gives up on a fatal error event', () => {
    const { link, dialed, calls } = setup();
    link.start();
    dialed[0].confirm();
    dialed[0].listener!.onError({ message: 'Incorrect API key provided.', code: 'invalid_api_key', fatal: true });
    expect(calls.failed).toEqual(['the Realtime API refused the key (401): check OPENAI_API_KEY']);
    expect(dialed[0].closedByUs).toBe(true);
  });

  it('treats a session that never confirms its configuration as failed, and dials again', () => {
    const { link, dialed } = setup({ confirmTimeoutMs: 2000 });
    link.start();
    vi.advanceTimersByTime(1999);
    expect(dialed[0].closed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(dialed[0].closed).toBe(true);
    expect(link.kind).toBe('reconnecting');
    vi.advanceTimersByTime(200);
    expect(dialed).toHaveLength(2);
  });

  it('notices a half-open connection (no pong) within two ping intervals and reconnects with the conversation', () => {
    const { link, dialed, calls } = setup();
    link.start();
    dialed[0].confirm();
    dialed[0].listener!.onConversationItem({ type: 'message', id: 'u1', role: 'user', text: 'Still there?' });
    vi.advanceTimersByTime(3000); // a ping, answered
    dialed[0].answersPings = false; // the path dies silently
    vi.advanceTimersByTime(3000); // a ping, unanswered
    expect(dialed[0].closed).toBe(false);
    vi.advanceTimersByTime(3000); // still no answer: dead
    expect(dialed[0].closed).toBe(true);
    expect(calls.lost).toBe(1);
    vi.advanceTimersByTime(200);
    dialed[1].confirm();
    expect(dialed[1].sent[0]).toEqual(['context', [{ type: 'message', id: 'u1', role: 'user', text: 'Still there?' }]]);
    expect(calls.open).toBe(2);
  });

  it('does nothing after close: no timer left, no dial, audio and commands ignored (end during reconnect)', () => {
    const { link, dialed } = setup();
    link.start();
    dialed[0].confirm();
    dialed[0].lose();
    expect(link.kind).toBe('reconnecting');
    link.close();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(dialed).toHaveLength(1);
    link.appendAudio('AAAA');
    link.sendToolResult('c1', '{}');
    link.addUserText('x');
    expect(link.requestResponse({ ref: 1 })).toBe(false);
    link.close();
  });

  it('closes the session it is dialling when closed mid-handshake', () => {
    const { link, dialed } = setup();
    link.start();
    link.close();
    expect(dialed[0].closedByUs).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('ModelLink rollover', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('prepares a fresh session before the limit and switches to it at a pause, with the conversation', () => {
    let quiet = false;
    const { link, dialed, statuses } = setup({ sessionMaxMs: 10_000 }, () => quiet);
    link.start();
    dialed[0].confirm();
    dialed[0].listener!.onConversationItem({ type: 'message', id: 'u1', role: 'user', text: 'Hi' });
    vi.advanceTimersByTime(8000); // 20 % before the limit
    expect(dialed).toHaveLength(2);
    dialed[1].confirm();
    vi.advanceTimersByTime(500); // not quiet: still on the old session
    link.appendAudio('AAAA');
    expect(dialed[0].sent.at(-1)).toEqual(['audio', 'AAAA']);
    quiet = true;
    vi.advanceTimersByTime(100);
    expect(dialed[0].closedByUs).toBe(true);
    expect(dialed[1].sent[0]).toEqual(['context', [{ type: 'message', id: 'u1', role: 'user', text: 'Hi' }]]);
    link.appendAudio('BBBB');
    expect(dialed[1].sent.at(-1)).toEqual(['audio', 'BBBB']);
    expect(statuses.at(-1)).toMatchObject({ status: 'connected', detail: 'session rollover' });
  });

  it('does not storm a service that refuses new sessions: backoff, then a pause after a few failures', () => {
    const { link, dialed } = setup({ sessionMaxMs: 10_000 });
    link.start();
    dialed[0].confirm();
    vi.advanceTimersByTime(8000);
    const refuseWhileDialled = () => {
      const session = dialed.at(-1)!;
      if (session !== dialed[0] && !session.closed) session.lose({ code: 1006, reason: '', httpStatus: 503, opened: false });
    };
    const before = dialed.length;
    for (let t = 0; t < 2000; t += 10) {
      refuseWhileDialled();
      vi.advanceTimersByTime(10);
    }
    expect(dialed.length - before).toBeLessThanOrEqual(3);
    // After three refusals it stops asking for a while.
    const paused = dialed.length;
    for (let t = 0; t < ROLLOVER_PAUSE_MS - 3000; t += 100) {
      refuseWhileDialled();
      vi.advanceTimersByTime(100);
    }
    expect(dialed.length).toBe(paused);
    expect(link.kind).toBe('open'); // the call goes on on its current session
  });

  it('fails a standby that never confirms its configuration, and prepares another after a backoff', () => {
    const { link, dialed } = setup({ sessionMaxMs: 10_000 }, () => false);
    link.start();
    dialed[0].confirm();
    vi.advanceTimersByTime(8000);
    expect(dialed).toHaveLength(2);
    vi.advanceTimersByTime(OPTIONS.confirmTimeoutMs);
    expect(dialed[1].closed).toBe(true);
    vi.advanceTimersByTime(OPTIONS.baseDelayMs * 2);
    expect(dialed).toHaveLength(3); // a new standby, after the backoff
    dialed[2].confirm();
    vi.advanceTimersByTime(OPTIONS.confirmTimeoutMs * 2);
    expect(dialed[2].closed).toBe(false); // a confirmed standby waits for a pause, however long
    expect(link.kind).toBe('open');
    expect(dialed[0].closed).toBe(false);
  });

  it('uses the prepared session when the current one drops during the rollover', () => {
    const { link, dialed, calls } = setup({ sessionMaxMs: 10_000 }, () => false);
    link.start();
    dialed[0].confirm();
    vi.advanceTimersByTime(8000);
    dialed[1].confirm();
    dialed[0].lose({ code: 1000, reason: 'session expired' });
    vi.advanceTimersByTime(200);
    expect(dialed).toHaveLength(2); // no third dial: the standby becomes the session
    expect(link.kind).toBe('open');
    expect(calls.open).toBe(2);
  });

  it('takes the end from the session when it says (GPT-Live’s expires_at), preparing the next one its own lead before', () => {
    const { link, dialed } = setup(
      { sessionMaxMs: 60 * 60_000 },
      () => true,
      (session) => {
        session.expiresAt = Date.now() + 200_000;
        session.rolloverLeadMs = 30_000;
      },
    );
    link.start();
    dialed[0].confirm();
    vi.advanceTimersByTime(169_999);
    expect(dialed).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(dialed).toHaveLength(2); // 30 s before expires_at (not at the configured hour, nor 20 % of it early)
  });
});

describe('ModelLink and engines that say more', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('gives each new session the conversation as it is when it starts', () => {
    const { link, dialed, specs } = setup();
    link.start();
    dialed[0].confirm();
    dialed[0].listener!.onConversationItem({ type: 'message', id: 'u1', role: 'user', text: 'Hi' });
    dialed[0].lose();
    vi.advanceTimersByTime(200);
    expect(specs[1].context?.()).toEqual([{ type: 'message', id: 'u1', role: 'user', text: 'Hi' }]);
  });

  it('closes every session and reports done once the slowest has said its last word; usage of any session still arrives', () => {
    const { link, dialed, usage } = setup(
      { sessionMaxMs: 10_000 },
      () => false,
      (session) => (session.holdsClose = true),
    );
    link.start();
    dialed[0].confirm();
    vi.advanceTimersByTime(8000);
    dialed[1].confirm(); // a standby, waiting for a pause
    const report = (session: FakeSession, id: string) =>
      session.listener!.onUsage({
        id,
        model: 'm',
        status: 'completed',
        usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0, inputAudioTokens: 0, outputAudioTokens: 0, cachedTokens: 0 },
      });
    report(dialed[1], 'standby');
    let done = 0;
    link.close(() => done++);
    expect(dialed.every((s) => s.closedByUs)).toBe(true);
    report(dialed[0], 'final');
    dialed[0].pendingClose!();
    expect(done).toBe(0);
    dialed[1].pendingClose!();
    expect(done).toBe(1);
    expect(usage).toEqual(['standby', 'final']);
    link.close(() => done++); // already closed: at once
    expect(done).toBe(2);
  });

  it('never changes the engine of a running call', () => {
    const { link, dialed } = setup();
    link.start();
    dialed[0].confirm();
    expect(link.reconfigure({ engine: 'live' }, undefined)).toMatch(/voice engine cannot change during a call/);
    expect(link.reconfigure({ engine: 'realtime', instructions: 'y' }, undefined)).toBeNull();
    expect(link.settings.instructions).toBe('y');
  });

  it('names the failing engine’s variables in the problem', () => {
    const { link, dialed, calls } = setup(
      {},
      () => true,
      (session) => {
        session.api = { name: 'GPT-Live', urlVar: 'OPENAI_LIVE_URL', modelVar: 'OPENAI_LIVE_MODEL' };
      },
    );
    link.start();
    dialed[0].lose({ code: 1006, reason: '', httpStatus: 404, opened: false });
    expect(calls.failed).toEqual(['GPT-Live does not know this model or URL (404): check OPENAI_LIVE_MODEL and OPENAI_LIVE_URL']);
  });
});
