// What a model endpoint can do wrong that a socket close does not reveal: a path that dies
// silently, an endpoint that accepts and then hangs up forever, sessions that are never
// confirmed, malformed and oversized events. Each must end in a live model again, or in the
// spoken apology — never in silence, never in a storm of reconnects.
import { describe, vi } from 'vitest';
import type { FakeRealtimeConnection } from '../emulator/fake-realtime-server';
import { OperatorDesk } from '../src/tools/operator-desk.service';
import { expect, it } from './support/fixture';
import { LogCapture } from './support/log-capture';
import { LogsClient } from './support/logs-client';
import { chunks, markOf, testAudio } from './support/test-app';

// nestjs-pino keeps the first app's logger for the whole process (its stream and its level), so
// every app of this file writes its warnings here, whichever test runs first.
const logLines = new LogCapture();
const LOGGED = { LOG_LEVEL: 'warn' };

/** The tool names a model connection was configured with. */
const offered = (model: FakeRealtimeConnection): string[] =>
  (model.received.find((e) => e.type === 'session.update') as { session: { tools: { name: string }[] } }).session.tools.map((t) => t.name);

describe('a dead path to the model', () => {
  it('notices a connection that stopped answering (no close, no error) and has the caller talking to a live model within 15 s', async ({
    startRealtime,
    startApp,
    placeCall,
  }) => {
    const fake = await startRealtime();
    const app = await startApp({ ...LOGGED, OPENAI_REALTIME_URL: fake.url }, [], { logs: logLines }); // default heartbeat settings
    const logs = await LogsClient.connect(app);
    const { call, model } = await placeCall(app, { realtime: fake });
    const user = model.speechStarted();
    await call.sendAudio(testAudio(1600, 1), { paced: false });
    model.speechStopped(user);
    model.userTranscript(user, 'Is anyone there?');
    await vi.waitFor(() => expect(model.pings).toBeGreaterThan(0), { timeout: 5000, interval: 50 }); // heartbeats flow

    model.freeze(); // the network path dies silently: nothing in, nothing out, no close
    const died = performance.now();
    const next = await fake.waitForConnection(1, 15_000);
    await next.waitFor('session.update');
    // The conversation comes back, then the caller's audio flows to the new session.
    const context = await next.waitFor('conversation.item.create');
    expect(context.item).toMatchObject({ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Is anyone there?' }] });
    call.sendMedia(testAudio(160, 2));
    await next.waitForAppendedBytes(160);
    expect(performance.now() - died).toBeLessThan(15_000);
    expect(await logs.waitFor('model.status', (e) => e.status === 'reconnecting')).toMatchObject({ detail: expect.stringMatching(/ping/) });
    expect(call.closed).toBe(false);
    // The model answers again.
    const { itemId } = await next.audioResponse({ chunks: [testAudio(800, 3)] });
    await call.waitFor('mark', (m) => markOf(m) === `${itemId}:100`);
    call.sendStop();
  }, 25_000);
});

describe('an endpoint that misbehaves', () => {
  it('does not reconnect forever to an endpoint that accepts and then closes: attempts count up, then the apology', async ({
    startRealtime,
    startApp,
    placeCall,
  }) => {
    const fake = await startRealtime({ onConnection: (c) => (fake.connections.length > 1 ? c.close(1011, 'bye') : undefined) });
    const app = await startApp({ ...LOGGED, OPENAI_REALTIME_URL: fake.url, MODEL_RECONNECT_BASE_DELAY_MS: '20', MODEL_RECONNECT_MAX_DELAY_MS: '200' }, [], {
      logs: logLines,
    });
    const logs = await LogsClient.connect(app);
    const { call, model, callSid } = await placeCall(app, { realtime: fake });
    model.close(1011, 'bye');
    expect((await call.waitForClose(10_000)).code).toBe(1011);
    const attempts = logs.events.filter((e) => e.type === 'model.status' && e.status === 'reconnecting').map((e) => e.attempt);
    expect(attempts).toEqual([1, 2, 3, 4, 5, 6]);
    expect(fake.connections).toHaveLength(7); // the first, then six attempts: no more
    const failed = await logs.waitFor('model.status', (e) => e.status === 'failed');
    expect(failed.problem.message).toMatch(/^gave up after 6 attempts/);
    expect(await logs.waitFor('call.ended')).toMatchObject({ callSid, reason: 'model-unavailable', detail: expect.stringMatching(/gave up after 6 attempts/) });
    // Nothing dials after the call ended.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(fake.connections).toHaveLength(7);
  });

  it('treats a session never confirmed as a failed connection: reconnect, then the apology (not an hour of silence)', async ({
    startRealtime,
    startApp,
    placeCall,
  }) => {
    // Every session after the first is accepted and then says nothing at all.
    const fake = await startRealtime({ onConnection: (c) => (fake.connections.length > 1 ? c.freeze() : undefined) });
    const app = await startApp(
      {
        ...LOGGED,
        OPENAI_REALTIME_URL: fake.url,
        MODEL_CONFIRM_TIMEOUT_MS: '500',
        MODEL_RECONNECT_MAX_ATTEMPTS: '2',
        MODEL_RECONNECT_BASE_DELAY_MS: '20',
      },
      [],
      { logs: logLines },
    );
    const logs = await LogsClient.connect(app);
    const { call, model } = await placeCall(app, { realtime: fake });
    model.drop();
    expect((await call.waitForClose(10_000)).code).toBe(1011);
    expect(fake.connections).toHaveLength(3);
    const reconnecting = logs.events.filter((e) => e.type === 'model.status' && e.status === 'reconnecting');
    expect(reconnecting.map((e) => e.detail)).toEqual([expect.stringMatching(/^1006/), expect.stringMatching(/not confirmed within 500 ms/)]);
  });

  it('tolerates malformed events (counted, logged once) and a response.done without a response', async ({ startApp, placeCall }) => {
    const app = await startApp(LOGGED, [], { logs: logLines });
    const { call, model, callSid } = await placeCall(app);
    model.send({ type: 'response.done', event_id: 'e1', response: null });
    model.send({ type: 'response.created', event_id: 'e2' });
    model.send({ nonsense: true });
    model.send({ type: 'error', event_id: 'e3' });
    // The call goes on: audio both ways.
    call.sendMedia(testAudio(160, 4));
    await model.waitForAppendedBytes(160);
    const { itemId } = await model.audioResponse({ chunks: [testAudio(800, 5)] });
    await call.waitFor('mark', (m) => markOf(m) === `${itemId}:100`);
    expect(call.closed).toBe(false);
    call.sendStop();
    // Four malformed events: one warning when the first arrived, and the count when the session closed.
    const closed = await logLines.waitFor('session closed', (r) => r.callSid === callSid && r.msg.startsWith('Realtime session closed'));
    expect(closed).toMatchObject({ level: 'warn', malformed: 4 });
    const warned = logLines.records.filter((r) => r.callSid === callSid && r.msg === 'ignored a malformed Realtime event');
    expect(warned).toHaveLength(1);
  });

  it('refuses a model event over 1 MB before parsing it, and reconnects; dashboards never get it', async ({ startRealtime, startApp, placeCall }) => {
    const fake = await startRealtime();
    const app = await startApp({ ...LOGGED, OPENAI_REALTIME_URL: fake.url }, [], { logs: logLines });
    const logs = await LogsClient.connect(app);
    const { call, model } = await placeCall(app, { realtime: fake });
    const huge = 'x'.repeat(2 * 1024 * 1024);
    model.send({
      type: 'response.output_audio_transcript.delta',
      event_id: 'e',
      response_id: 'r',
      item_id: 'i',
      output_index: 0,
      content_index: 0,
      delta: huge,
    });
    expect((await model.waitForClose()).code).toBe(1009);
    const next = await fake.waitForConnection(1);
    await next.waitFor('session.update');
    call.sendMedia(testAudio(160, 6));
    await next.waitForAppendedBytes(160);
    expect(logs.events.some((e) => e.type === 'transcript.delta')).toBe(false);
    // The longest text an event may carry reaches dashboards capped.
    next.send({
      type: 'response.output_audio_transcript.delta',
      event_id: 'e2',
      response_id: 'r',
      item_id: 'i2',
      output_index: 0,
      content_index: 0,
      delta: 'y'.repeat(100_000),
    });
    const delta = await logs.waitFor('transcript.delta');
    expect(delta.delta.length).toBe(4000);
    // So do a function call's arguments (a made-up tool: its error output echoes nothing of them).
    next.functionCallResponse([{ name: 'no_such_tool', arguments: `{"q":"${'z'.repeat(100_000)}"}` }]);
    expect((await logs.waitFor('function_call.started')).arguments.length).toBe(4000);
    expect((await next.waitFor('conversation.item.create')).item).toMatchObject({ type: 'function_call_output' });
    call.sendStop();
  });
});

describe('the call keeps what it was given', () => {
  it('offers the same tools after a reconnect, whether or not a dashboard opened meanwhile', async ({ startRealtime, startApp, placeCall }) => {
    const fake = await startRealtime();
    const app = await startApp({ ...LOGGED, OPENAI_REALTIME_URL: fake.url }, [], { logs: logLines });
    const { call, model } = await placeCall(app, { realtime: fake }); // no dashboard: no ask_operator
    const tools = (m: typeof model) =>
      (m.received.find((e) => e.type === 'session.update') as { session: { tools: { name: string }[] } }).session.tools.map((t) => t.name);
    expect(tools(model)).toEqual(['get_weather_from_coords', 'end_call']);
    const logs = await LogsClient.connect(app); // an operator opens the dashboard mid-call
    await logs.waitFor('snapshot');
    model.drop();
    const next = await fake.waitForConnection(1);
    await next.waitFor('session.update');
    expect(tools(next)).toEqual(['get_weather_from_coords', 'end_call']);
    // And the model cannot use a tool this call was not offered.
    const { callIds } = next.functionCallResponse([{ name: 'ask_operator', arguments: '{"question":"?"}' }]);
    const output = await next.waitFor('conversation.item.create', (e) => e.item.type === 'function_call_output');
    expect(output.item).toMatchObject({ call_id: callIds[0], output: JSON.stringify({ error: 'Tool "ask_operator" is not available in this call' }) });
    call.sendStop();
  });

  it('measures first audio from the stream start, and each answer from the end of the caller’s speech', async ({ startApp, placeCall }) => {
    const app = await startApp(LOGGED, [], { logs: logLines });
    const logs = await LogsClient.connect(app);
    const { call, model } = await placeCall(app);
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await model.audioResponse({ chunks: chunks(testAudio(1600, 7), 800) });
    const first = await logs.waitFor('latency', (e) => e.kind === 'first_audio');
    expect(first.ms).toBeGreaterThanOrEqual(190);
    expect(first.ms).toBeLessThanOrEqual(performance.now() - started + 50);
    const user = model.speechStarted();
    model.speechStopped(user);
    await new Promise((resolve) => setTimeout(resolve, 150));
    await model.audioResponse({ chunks: [testAudio(800, 8)] });
    const answer = await logs.waitFor('latency', (e) => e.kind === 'answer');
    expect(answer.ms).toBeGreaterThanOrEqual(140);
    call.sendStop();
    expect(await logs.waitFor('call.ended')).toMatchObject({ firstAudioMs: first.ms, framesOut: 15 });
  });

  it('measures first audio from the stream’s start, not from the socket opening before it', async ({ startApp, placeCall }) => {
    const app = await startApp(LOGGED, [], { logs: logLines });
    const logs = await LogsClient.connect(app);
    const { call, model } = await placeCall(app, { simulator: { sendStart: false } });
    // Twilio has opened the socket; its `start` comes later (a slow leg, a busy edge). That wait is not the agent's.
    await new Promise((resolve) => setTimeout(resolve, 600));
    call.sendStart();
    const started = performance.now();
    await logs.waitFor('call.started');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await model.audioResponse({ chunks: [testAudio(800, 9)] });
    const first = await logs.waitFor('latency', (e) => e.kind === 'first_audio');
    expect(first.ms).toBeGreaterThanOrEqual(190);
    expect(first.ms).toBeLessThanOrEqual(performance.now() - started + 50); // from the socket it would be 600 ms more
    call.sendStop();
  });

  it('keeps offering ask_operator after a reconnect when the dashboard watching at the start has closed', async ({ startRealtime, startApp, placeCall }) => {
    const fake = await startRealtime();
    const app = await startApp({ ...LOGGED, OPENAI_REALTIME_URL: fake.url }, [], { logs: logLines });
    const dashboard = await LogsClient.connect(app); // an operator watches as the call comes in
    await dashboard.waitFor('snapshot');
    const { call, model } = await placeCall(app, { realtime: fake });
    expect(offered(model)).toEqual(['get_weather_from_coords', 'end_call', 'ask_operator']);
    dashboard.close(); // and leaves mid-call
    await vi.waitFor(() => expect(app.app.get(OperatorDesk).isWatched).toBe(false));
    model.drop();
    const next = await fake.waitForConnection(1);
    await next.waitFor('session.update');
    expect(offered(next)).toEqual(['get_weather_from_coords', 'end_call', 'ask_operator']);
    // Still this call's tool: asked now, it fails at once for want of an operator, not as a tool the call lacks.
    const { callIds } = next.functionCallResponse([{ name: 'ask_operator', arguments: '{"question":"?"}' }]);
    const output = await next.waitFor('conversation.item.create', (e) => e.item.type === 'function_call_output');
    expect(output.item).toMatchObject({ call_id: callIds[0], output: JSON.stringify({ error: 'No operator is watching right now' }) });
    call.sendStop();
  });
});
