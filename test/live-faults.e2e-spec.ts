// GPT-Live faults over real sockets: a dropped or dead connection comes back with the
// conversation as start-up history, a session's expiry is a rollover at a pause (or, when it
// happens anyway, a loss like any other), a refused configuration or a safety stop ends the call
// with the apology, and every second of session ends up in usage, metrics and the dashboard.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, vi } from 'vitest';
import type { FakeLiveConnection, FakeLiveServer, FakeLiveServerOptions } from '../emulator/fake-live-server';
import type { TwilioCallSimulator } from '../emulator/twilio-call-simulator';
import { expect, test, type LiveCall } from './support/fixture';
import { LogsClient } from './support/logs-client';
import { scrapeUntil, valueOf } from './support/metrics-client';
import { chunks, markOf, postTwiml, type TestApp, testAudio } from './support/test-app';

/** 600 ms of line silence: what a phone sends between words (it ends the caller's turn for the speech check). */
const SILENCE = Buffer.alloc(160 * 30, 0xff);

/**
 * One turn: the caller talks and stops (as a phone line sends it, silence included), is transcribed
 * as `userText`, and the model answers with 200 ms of audio that plays out.
 */
async function turn(call: TwilioCallSimulator, model: FakeLiveConnection, logs: LogsClient, userText: string, answerText: string, seed: number): Promise<void> {
  const before = model.appendedAudio().length;
  const said = Buffer.concat([testAudio(800, seed), SILENCE]);
  await call.sendAudio(said, { paced: false });
  await model.waitForAppendedBytes(before + said.length);
  model.hearCaller(userText);
  await say(call, model, logs, answerText, seed + 1);
}

/** The model says `text` (200 ms of audio), the phone plays all of it, and the server sees the turn end. */
async function say(call: TwilioCallSimulator, model: FakeLiveConnection, logs: LogsClient, answerText: string, seed: number): Promise<void> {
  const audio = chunks(testAudio(1600, seed), 800);
  await model.speak({ chunks: audio, transcript: answerText });
  await vi.waitFor(() => expect(call.echoedMarks.filter((m) => !m.cleared && markOf({ mark: m }).endsWith(':200')).length).toBeGreaterThan(0), {
    timeout: 3000,
    interval: 5,
  });
  call.echoedMarks.length = 0;
  await logs.waitFor('transcript.done', (e) => e.role === 'assistant' && e.text === answerText);
}

/** The text history of a session.start, as role: text lines. */
function historyOf(model: FakeLiveConnection): string[] {
  return (model.start?.input ?? []).map((item) => `${item.role}: ${item.content[0].text}`);
}

type Started = LiveCall & { logs: LogsClient; live: FakeLiveServer; app: TestApp };

const it = test.extend<{ start: (env?: Record<string, string>, liveOptions?: FakeLiveServerOptions) => Promise<Started> }>({
  start: async ({ startLive, startLiveApp, placeLiveCall }, use) => {
    const clients: LogsClient[] = [];
    await use(async (env = {}, liveOptions = {}) => {
      const live = await startLive(liveOptions);
      const app = await startLiveApp({ OPENAI_LIVE_URL: live.url, ...env });
      const logs = await LogsClient.connect(app);
      clients.push(logs);
      return { ...(await placeLiveCall(app, { live })), logs, live, app };
    });
    for (const logs of clients) logs.close();
  },
});

describe('GPT-Live connection faults', () => {
  it('reconnects after a drop mid-call: the conversation as history in session.start, the gap audio after session.started', async ({ start }) => {
    const { call, model, logs, live } = await start({ AGENT_GREETING: 'Greet the caller.' });
    await model.waitFor('session.commentary.append');
    await say(call, model, logs, 'Hello, how can I help?', 5);
    await turn(call, model, logs, 'What time do you open?', 'We open at nine.', 10);

    live.refuseNext(1, 503); // the first retry fails: a real gap
    model.drop();
    expect(await logs.waitFor('model.status', (e) => e.status === 'reconnecting')).toMatchObject({ attempt: 1 });
    const gap = testAudio(160 * 10, 20);
    for (const frame of chunks(gap, 160)) call.sendMedia(frame);

    const next = await live.waitForConnection(1);
    await next.waitForAppendedBytes(gap.length);
    expect(await logs.waitFor('model.status', (e) => e.status === 'connected' && e.reconnectMs !== undefined)).toMatchObject({
      heldFrames: 10,
      droppedFrames: 0,
    });
    // Same configuration; the conversation so far, then a note that the call resumed.
    expect({ ...next.start, input: undefined }).toEqual({ ...model.start, input: undefined });
    expect(historyOf(next)).toEqual([
      'assistant: Hello, how can I help?',
      'user: What time do you open?',
      'assistant: We open at nine.',
      expect.stringMatching(/^developer: The conversation above already happened/),
    ]);
    expect(next.appendedAudio().equals(gap)).toBe(true);
    // The greeting is not asked for again (at most, the model is told to finish what it was saying).
    const commentary = next.received.filter((e) => e.type === 'session.commentary.append').map((e) => (e as { content: string }).content);
    expect(commentary.filter((c) => /Greet the caller/.test(c))).toEqual([]);
    expect(next.errors).toEqual([]);
    await turn(call, next, logs, 'And on Sundays?', 'Closed on Sundays.', 30);
    expect(call.closed).toBe(false);
    call.sendStop();
  });

  it('replays only what the caller heard of an answer cut by a drop, and asks the model to carry on', async ({ start }) => {
    const { call, model, live } = await start();
    const text = 'One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty.';
    const speaking = model.speak({ chunks: chunks(testAudio(16000, 40), 800), transcript: text, paceMs: 100 });
    await vi.waitFor(() => expect(call.playedMs()).toBeGreaterThan(500), { timeout: 3000, interval: 5 });
    model.drop();
    await speaking;
    const next = await live.waitForConnection(1);
    const carryOn = await next.waitFor('session.commentary.append');
    expect(carryOn.content).toMatch(/connection dropped/);
    const said = historyOf(next)
      .find((line) => line.startsWith('assistant: '))!
      .slice('assistant: '.length);
    expect(text.startsWith(said)).toBe(true);
    expect(said.length).toBeLessThan(text.length * 0.6);
    expect(next.errors).toEqual([]);
    call.sendStop();
  });

  it('notices a dead path (no pong) and reconnects', async ({ start }) => {
    const { call, model, logs, live } = await start({ MODEL_PING_INTERVAL_MS: '200' });
    model.freeze();
    expect(await logs.waitFor('model.status', (e) => e.status === 'reconnecting')).toMatchObject({ detail: expect.stringMatching(/1006/) });
    const next = await live.waitForConnection(1);
    await next.waitForStarted();
    await turn(call, next, logs, 'Hello?', 'Still here.', 50);
    call.sendStop();
  });

  it('treats session.closed {reason: "expired"} as a loss: a new session with the conversation', async ({ start }) => {
    const { call, model, logs, live } = await start();
    await turn(call, model, logs, 'Book a table.', 'For when?', 60);
    model.closeSession('expired');
    expect(await logs.waitFor('model.status', (e) => e.status === 'reconnecting')).toMatchObject({ detail: expect.stringMatching(/expired/) });
    const next = await live.waitForConnection(1);
    await next.waitForStarted();
    expect(historyOf(next).slice(0, 2)).toEqual(['user: Book a table.', 'assistant: For when?']);
    await turn(call, next, logs, 'Tonight.', 'Done.', 62);
    expect(call.closed).toBe(false);
    call.sendStop();
  });

  it('does not retry a safety stop (reason "content"): the call ends with the apology', async ({ start }) => {
    const { call, model, logs, live, app, callSid } = await start();
    model.closeSession('content');
    expect((await call.waitForClose()).code).toBe(1011);
    expect(await logs.waitFor('call.ended')).toMatchObject({ reason: 'model-unavailable' });
    expect(live.connections).toHaveLength(1);
    expect((await postTwiml(app, { CallSid: callSid }, { path: '/twiml/stream-ended' })).body).toContain('<Say>Sorry, the assistant is not available');
  });

  it('does not retry a refused configuration, and names the variable to fix', async ({ startLiveApp, placeLiveCall, live }) => {
    const app = await startLiveApp({ OPENAI_LIVE_MODEL: 'gpt-realtime-2.1' });
    const logs = await LogsClient.connect(app);
    const { call } = await placeLiveCall(app, { waitForStart: false });
    expect((await call.waitForClose()).code).toBe(1011);
    const failed = await logs.waitFor('model.status', (e) => e.status === 'failed');
    expect(failed.problem).toEqual({
      kind: 'model',
      message: 'GPT-Live does not know this model or URL (model_not_found): check OPENAI_LIVE_MODEL and OPENAI_LIVE_URL',
    });
    expect(live.connections).toHaveLength(1);
    logs.close();
  });
});

describe('GPT-Live session expiry', () => {
  it('rolls over to a fresh session before expires_at, at a pause, with the conversation, and closes the old one', async ({ start }) => {
    // A 3 s session: the next one is prepared 0.6 s before expires_at and used at the first pause.
    const { call, model, logs, live } = await start({}, { sessionSeconds: 3 });
    const expiresAt = model.session!.expires_at * 1000;
    await turn(call, model, logs, 'Book a table for two.', 'For what time?', 90);
    const next = await live.waitForConnection(1, 5000);
    await next.waitForStarted();
    expect(historyOf(next).slice(0, 2)).toEqual(['user: Book a table for two.', 'assistant: For what time?']);
    // The old session is closed by us (close_requested), before the service would have expired it.
    await model.waitForClose(5000);
    expect(model.closedReason).toBe('close_requested');
    expect(Date.now()).toBeLessThan(expiresAt + 500);
    expect(await logs.waitFor('model.status', (e) => e.detail === 'session rollover')).toMatchObject({ status: 'connected' });
    expect(logs.events.some((e) => e.type === 'model.status' && e.status === 'reconnecting')).toBe(false);
    await turn(call, next, logs, 'At eight.', 'Booked for eight.', 92);
    expect(next.errors).toEqual([]);
    expect(call.closed).toBe(false);
    call.sendStop();
  });
});

describe('GPT-Live usage and cost', () => {
  it('bills every second of session: increments in usage events, priced per second, the final count before call.ended, metrics by engine', async ({
    start,
  }) => {
    const { call, model, logs, app } = await start({}, { usageIntervalMs: 200 });
    await turn(call, model, logs, 'Hi', 'Hello.', 100);
    await logs.waitFor('usage', (e) => (e.billedSeconds ?? 0) > 0);
    call.sendStop();
    const ended = await logs.waitFor('call.ended');
    const usage = logs.events.filter((e) => e.type === 'usage');
    // Every report before call.ended, for the Live model, on the live engine.
    expect(usage.every((e) => logs.events.indexOf(e) < logs.events.indexOf(ended))).toBe(true);
    expect(usage.every((e) => e.model === 'gpt-live-1.1' && e.engine === 'live' && e.totalTokens === 0)).toBe(true);
    const billed = usage.reduce((sum, e) => sum + e.billedSeconds, 0);
    // The increments add up to the session's final cumulative count (session.closed).
    expect(model.closedReason).toBe('close_requested');
    expect(billed).toBeCloseTo(model.seconds, 3);
    expect(new Set(usage.map((e) => e.responseId)).size).toBe(usage.length);
    // Each report is priced at GPT-Live's $0.05 a minute, and the call's total follows.
    const costs = logs.events.filter((e) => e.type === 'cost');
    expect(costs.map((e) => e.responseId)).toEqual(usage.map((e) => e.responseId));
    for (const [i, cost] of costs.entries()) expect(cost.usd).toBeCloseTo((usage[i].billedSeconds / 60) * 0.05, 9);
    expect(costs.at(-1)!.totalUsd).toBeCloseTo((billed / 60) * 0.05, 9);
    await scrapeUntil(app, (s) => {
      expect(valueOf(s, 'voice_agent_model_seconds_total', { engine: 'live' })).toBeCloseTo(billed, 1);
      expect(valueOf(s, 'voice_agent_model_cost_usd_total', { engine: 'live' })).toBeCloseTo((billed / 60) * 0.05, 6);
      expect(valueOf(s, 'voice_agent_model_cost_usd_total', { engine: 'realtime' })).toBe(0);
    });
  });

  it('reports the backend’s tokens for its own model: the default one priced, another unpriced unless PRICES_FILE prices it', async ({ start }) => {
    const byDefault = await start({}, { usageIntervalMs: 0 });
    byDefault.model.delegate([{ name: 'get_weather_from_coords', arguments: '{"latitude":1,"longitude":2}' }]);
    // The default backend (gpt-5.4-mini) is in the built-in table: $0.75 uncached in, $0.075 cached, $4.50 out per 1M.
    const used = await byDefault.logs.waitFor('usage', (e) => e.model === 'gpt-5.4-mini');
    const defaultCost = await byDefault.logs.waitFor('cost', (e) => e.responseId === used.responseId);
    const expected = ((used.inputTokens - used.cachedTokens) * 0.75 + used.cachedTokens * 0.075 + used.outputTokens * 4.5) / 1e6;
    expect(expected).toBeGreaterThan(0);
    expect(defaultCost.usd).toBeCloseTo(expected, 12);
    byDefault.call.sendStop();

    const unpriced = await start({ LIVE_RESPONSES_MODEL: 'gpt-5.9-preview' }, { usageIntervalMs: 0 });
    unpriced.model.delegate([{ name: 'get_weather_from_coords', arguments: '{"latitude":1,"longitude":2}' }]);
    const backend = await unpriced.logs.waitFor('usage', (e) => e.model === 'gpt-5.9-preview');
    expect(backend).toMatchObject({ engine: 'live', inputTokens: 900, cachedTokens: 600, outputTokens: 60, totalTokens: 960 });
    expect(backend).not.toHaveProperty('billedSeconds');
    // Never a guess: a model the price table does not know makes the call's cost unknown.
    expect(await unpriced.logs.waitFor('cost', (e) => e.responseId === backend.responseId)).toMatchObject({ usd: null, totalUsd: null });
    await scrapeUntil(unpriced.app, (s) => expect(valueOf(s, 'voice_agent_model_usage_unpriced_total', { engine: 'live' })).toBe(1));
    unpriced.call.sendStop();

    // With the backend model priced (PRICES_FILE replaces the built-in price), the call's cost is its seconds plus the backend's tokens.
    const dir = mkdtempSync(join(tmpdir(), 'prices-'));
    const pricesFile = join(dir, 'prices.json');
    const backendPrices = { textInput: 1, cachedTextInput: 0.1, audioInput: 0, cachedAudioInput: 0, textOutput: 4, audioOutput: 0 };
    writeFileSync(pricesFile, JSON.stringify({ 'gpt-5.4-mini': backendPrices }));
    try {
      // Seconds reported while the call runs too, so the total does not hang on the final count alone.
      const priced = await start({ PRICES_FILE: pricesFile }, { usageIntervalMs: 100 });
      priced.model.delegate([{ name: 'get_weather_from_coords', arguments: '{"latitude":1,"longitude":2}' }]);
      const tokens = await priced.logs.waitFor('cost', (e) => e.model === 'gpt-5.4-mini');
      // 300 uncached + 600 cached input, 60 output, USD per 1M.
      expect(tokens.usd).toBeCloseTo((300 * 1 + 600 * 0.1 + 60 * 4) / 1e6, 12);
      await priced.logs.waitFor('usage', (e) => (e.billedSeconds ?? 0) > 0);
      priced.call.sendStop();
      await priced.logs.waitFor('call.ended');
      const seconds = priced.logs.events.filter((e) => e.type === 'usage' && e.billedSeconds).reduce((sum, e) => sum + e.billedSeconds, 0);
      expect(seconds).toBeGreaterThan(0);
      const total = priced.logs.events.filter((e) => e.type === 'cost').at(-1)!.totalUsd;
      expect(total).toBeCloseTo(tokens.usd + (seconds / 60) * 0.05, 9);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
