import { describe, vi } from 'vitest';
import type { FakeRealtimeConnection, FakeRealtimeServer, FakeRealtimeServerOptions } from '../emulator/fake-realtime-server';
import type { TwilioCallSimulator } from '../emulator/twilio-call-simulator';
import { expect, test, type PlacedCall } from './support/fixture';
import { LogsClient } from './support/logs-client';
import { chunks, getJson, markOf, postTwiml, type TestApp, testAudio } from './support/test-app';

/** One conversational turn: the caller speaks (transcribed), the model answers with audio that plays out. */
async function turn(call: TwilioCallSimulator, model: FakeRealtimeConnection, userText: string, answerText: string, seed: number) {
  const userItem = model.speechStarted();
  await call.sendAudio(testAudio(1600, seed), { paced: false });
  model.speechStopped(userItem);
  model.userTranscript(userItem, userText);
  const answer = [testAudio(800, seed + 1)];
  const { itemId } = await model.audioResponse({ chunks: answer, transcript: answerText });
  // Played out: Twilio echoed the last mark.
  await vi.waitFor(() => expect(call.echoedMarks.map((m) => markOf({ mark: m }))).toContain(`${itemId}:100`), { timeout: 2000, interval: 5 });
  return itemId;
}

const sessionOf = (model: FakeRealtimeConnection) => model.received.find((e) => e.type === 'session.update');

type Started = PlacedCall & { logs: LogsClient; fake: FakeRealtimeServer; app: TestApp };

/** An emulator (with these fault options), the app on it with a dashboard, and one call placed. */
const it = test.extend<{ start: (env?: Record<string, string>, fakeOptions?: FakeRealtimeServerOptions) => Promise<Started> }>({
  start: async ({ startRealtime, startApp, placeCall }, use) => {
    const clients: LogsClient[] = [];
    await use(async (env = {}, fakeOptions = {}) => {
      const fake = await startRealtime(fakeOptions);
      const app = await startApp({ OPENAI_REALTIME_URL: fake.url, ...env });
      const logs = await LogsClient.connect(app);
      clients.push(logs);
      const placed = await placeCall(app, { realtime: fake });
      return { ...placed, logs, fake, app };
    });
    for (const logs of clients) logs.close();
  },
});

describe('model connection faults', () => {
  it('reconnects after a drop mid-call: same config, conversation replayed, gap audio delivered, call goes on', async ({ start }) => {
    const { call, model, logs, fake, app } = await start();
    await turn(call, model, 'What time do you open?', 'We open at nine.', 10);

    fake.refuseNext(1, 503); // the first retry fails: a real gap
    model.drop();
    expect(await logs.waitFor('model.status', (e) => e.status === 'reconnecting')).toMatchObject({ attempt: 1 });
    const gap = testAudio(160 * 10, 20);
    for (const frame of chunks(gap, 160)) call.sendMedia(frame);

    const next = await fake.waitForConnection(1);
    await next.waitForAppendedBytes(gap.length);
    const restored = await logs.waitFor('model.status', (e) => e.status === 'connected' && e.reconnectMs !== undefined);
    expect(restored).toMatchObject({ attempt: 2, heldFrames: 10, droppedFrames: 0 });
    expect(restored.reconnectMs).toBeGreaterThan(0);

    // Same configuration, then the conversation, then what the caller said meanwhile.
    expect(sessionOf(next)).toEqual(sessionOf(model));
    const types = next.received.map((e) => e.type);
    expect(types[0]).toBe('session.update');
    const replayed = next.received.filter((e) => e.type === 'conversation.item.create').map((e) => (e as { item: unknown }).item);
    expect(replayed).toEqual([
      expect.objectContaining({ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'What time do you open?' }] }),
      expect.objectContaining({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'We open at nine.' }] }),
    ]);
    expect(types.lastIndexOf('conversation.item.create')).toBeLessThan(types.indexOf('input_audio_buffer.append'));
    expect(next.appendedAudio().equals(gap)).toBe(true);
    expect(next.errors).toEqual([]);

    // The call never dropped, and a later utterance is answered.
    expect(call.closed).toBe(false);
    await turn(call, next, 'And on Sundays?', 'Closed on Sundays.', 30);
    expect(call.protocolErrors).toEqual([]);
    expect(await getJson(`${app.httpUrl}/`)).toMatchObject({ activeCalls: 1 });
    call.sendStop();
    await next.waitForClose();
  });

  it('keeps playing an answer cut short by a model drop, replays what was said, and asks the model to go on', async ({ start }) => {
    const { call, model, fake } = await start();
    const text = 'One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty.';
    const audio = chunks(testAudio(16000, 40), 800); // 2 s of audio in real time
    const answer = model.audioResponse({ chunks: audio, transcript: text, paceMs: 100 });
    await vi.waitFor(() => expect(call.playedMs()).toBeGreaterThan(500), { timeout: 3000, interval: 5 });
    model.drop();
    await answer;
    const sent = call.receivedAudio();
    expect(sent.length).toBeLessThan(16000);
    const next = await fake.waitForConnection(1);
    // The new session gets what was said of the answer, not all of it, and then a request to go on.
    const create = await next.waitFor('response.create');
    const replayed = next.received.filter((e) => e.type === 'conversation.item.create').map((e) => (e as { item: any }).item);
    const assistant = replayed.find((item) => item.role === 'assistant');
    const said: string = assistant.content[0].text;
    expect(said.length).toBeGreaterThan(0);
    expect(text.startsWith(said)).toBe(true);
    expect(said.length).toBeLessThan(text.length * 0.6);
    expect(next.received.indexOf(create)).toBeGreaterThan(next.received.findLastIndex((e) => e.type === 'conversation.item.create'));
    expect(next.errors).toEqual([]);
    // Audio already on the phone was not thrown away: the caller hears all of it, then the rest.
    expect(call.received.some((m) => m.event === 'clear')).toBe(false);
    await vi.waitFor(() => expect(call.playbackRemainingMs()).toBe(0), { timeout: 3000, interval: 10 });
    expect(call.heardAudio().equals(sent)).toBe(true);
    // Exactly one response comes back; the call goes on.
    await next.audioResponse({ chunks: [testAudio(800, 41)], transcript: 'As I was saying.' });
    expect(next.received.filter((e) => e.type === 'response.create')).toHaveLength(1);
    await turn(call, next, 'Hello?', 'Sorry, I am back.', 50);
    expect(next.received.filter((e) => e.type === 'response.create')).toHaveLength(1);
    call.sendStop();
  });

  it('retries a refused connection with backoff until it succeeds', async ({ start }) => {
    const { call, model, logs, fake } = await start({ MODEL_RECONNECT_BASE_DELAY_MS: '20' });
    fake.refuseNext(3, 502);
    model.drop();
    const next = await fake.waitForConnection(1);
    expect(fake.refused).toBe(3);
    const attempts = [];
    for (let i = 1; i <= 4; i++) attempts.push((await logs.waitFor('model.status', (e) => e.status === 'reconnecting')).attempt);
    expect(attempts).toEqual([1, 2, 3, 4]);
    expect(await logs.waitFor('model.status', (e) => e.status === 'connected' && e.reconnectMs !== undefined)).toMatchObject({ attempt: 4 });
    await next.waitFor('session.update');
    await turn(call, next, 'Still there?', 'Yes.', 60);
    call.sendStop();
  });

  it('keeps the call up through a slow handshake, holding caller audio (bounded) until the model is back', async ({ start }) => {
    const { call, model, logs, fake } = await start({ RECONNECT_AUDIO_BUFFER_MS: '200' }, { handshakeDelayMs: 600 });
    model.drop();
    const gap = testAudio(160 * 25, 70); // 500 ms; only the last 200 ms fit
    await call.sendAudio(gap, { paced: true });
    const next = await fake.waitForConnection(1);
    const restored = await logs.waitFor('model.status', (e) => e.status === 'connected' && e.reconnectMs !== undefined);
    expect(restored.heldFrames + restored.droppedFrames).toBeGreaterThanOrEqual(10);
    expect(restored.heldFrames).toBeLessThanOrEqual(10);
    // What arrived is the newest audio, in order.
    await next.waitForAppendedBytes(restored.heldFrames * 160);
    const tail = gap.subarray(gap.length - next.appendedAudio().length);
    expect(next.appendedAudio().subarray(0, tail.length).equals(tail)).toBe(true);
    expect(call.closed).toBe(false);
    call.sendStop();
  });

  it('treats a server_error followed by a close as transient', async ({ start }) => {
    const { call, model, fake } = await start();
    model.error({ type: 'server_error', message: 'The server had an error.' });
    model.close(1011, 'internal error');
    const next = await fake.waitForConnection(1);
    await turn(call, next, 'Hi', 'Hello again.', 80);
    call.sendStop();
  });

  it('recovers a pre-dialled connection that dropped before the stream started, greeting included', async ({ realtime: fake, startApp, placeCall }) => {
    const app = await startApp({ AGENT_GREETING: 'Greet the caller.' });
    const { call } = await placeCall(app, {
      // The pre-dialled connection is configured, then drops before the stream opens.
      beforeStream: async (first) => {
        first.drop();
        await first.waitForClose();
      },
    });
    const next = await fake.waitForConnection(1);
    const greeting = await next.waitFor('response.create');
    expect(greeting.response?.instructions).toBe('Greet the caller.');
    const types = next.received.map((e) => e.type);
    expect(types.indexOf('session.update')).toBeLessThan(types.indexOf('response.create'));
    await turn(call, next, 'Hello?', 'Hi there.', 85);
    expect(call.closed).toBe(false);
    call.sendStop();
  });

  it('does not retry a fatal error event: the call ends with the spoken apology', async ({ start }) => {
    const { call, model, fake, app, callSid: sid, logs } = await start();
    model.error({ type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' });
    expect((await call.waitForClose()).code).toBe(1011);
    expect(await logs.waitFor('model.status', (e) => e.status === 'failed')).toMatchObject({
      detail: 'invalid_api_key',
      problem: { kind: 'auth', message: 'the Realtime API refused the key (401): check OPENAI_API_KEY' },
    });
    expect(await logs.waitFor('call.ended')).toMatchObject({
      reason: 'model-unavailable',
      detail: 'the Realtime API refused the key (401): check OPENAI_API_KEY',
    });
    await model.waitForClose();
    expect(fake.connections).toHaveLength(1);
    const next = await postTwiml(app, { CallSid: sid }, { path: '/twiml/stream-ended' });
    expect(next.body).toContain('<Say>Sorry, the assistant is not available');
  });

  it('does not retry when the service refuses the key on reconnect (HTTP 401)', async ({ start }) => {
    const { call, model, fake, logs } = await start();
    fake.refuseNext(1, 401);
    model.drop();
    expect((await call.waitForClose()).code).toBe(1011);
    expect(await logs.waitFor('model.status', (e) => e.status === 'failed')).toMatchObject({ detail: 'HTTP 401' });
    expect(fake.refused).toBe(1);
    expect(fake.connections).toHaveLength(1);
  });
});

describe('session rollover', () => {
  it('moves to a fresh session before the limit, between turns, with the conversation replayed', async ({ realtime: fake, startApp, placeCall }) => {
    // Limit 3 s: the next session is prepared at 2.4 s and used at the first pause after that.
    const app = await startApp({ MODEL_SESSION_MAX_S: '3' });
    const logs = await LogsClient.connect(app);
    const { call, model } = await placeCall(app);
    await turn(call, model, 'Book a table for two.', 'For what time?', 90);

    // The caller is mid-sentence when the next session is ready: no switch until they finish.
    const userItem = model.speechStarted();
    const next = await fake.waitForConnection(1, 5000);
    await next.waitFor('session.update');
    await call.sendAudio(testAudio(8 * 400, 91), { paced: true });
    expect(model.closed).toBe(false);
    expect(next.received.some((e) => e.type === 'conversation.item.create')).toBe(false);
    model.speechStopped(userItem);
    model.userTranscript(userItem, 'At eight.');

    expect((await model.waitForClose()).code).toBe(1000);
    expect(await logs.waitFor('model.status', (e) => e.detail === 'session rollover')).toMatchObject({ status: 'connected' });
    expect(sessionOf(next)).toEqual(sessionOf(model));
    const replayed = next.received.filter((e) => e.type === 'conversation.item.create').map((e) => JSON.stringify(e));
    expect(replayed.join()).toContain('Book a table for two.');
    expect(replayed.join()).toContain('For what time?');
    expect(replayed.join()).toContain('At eight.');
    expect(next.errors).toEqual([]);
    // The conversation continues on the new session.
    await turn(call, next, 'Thanks', 'Booked for eight.', 92);
    expect(call.closed).toBe(false);
    call.sendStop();
  });
});
