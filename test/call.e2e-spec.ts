import { describe, vi } from 'vitest';
import { TwilioCallSimulator } from '../emulator/twilio-call-simulator';
import { expect, it } from './support/fixture';
import { chunks, getJson, markOf, postTwiml, streamHeaders, testAudio } from './support/test-app';

describe('a call', () => {
  it('configures the model with GA session.update and relays audio both ways, in order, with marks', async ({ startApp, placeCall }) => {
    const app = await startApp({ OPENAI_VOICE: 'cedar', AGENT_INSTRUCTIONS: 'Be a test agent.' });
    const { call, model } = await placeCall(app);

    const update = model.received.find((e) => e.type === 'session.update');
    expect(update).toMatchObject({
      type: 'session.update',
      session: {
        type: 'realtime',
        model: 'gpt-realtime-2.1',
        output_modalities: ['audio'],
        instructions: 'Be a test agent.',
        audio: {
          input: {
            format: { type: 'audio/pcmu' },
            turn_detection: { type: 'server_vad', threshold: 0.5, create_response: true, interrupt_response: true },
            transcription: { model: 'gpt-4o-transcribe' },
          },
          output: { format: { type: 'audio/pcmu' }, voice: 'cedar' },
        },
      },
    });
    expect(model.session.audio.output.voice).toBe('cedar'); // the fake accepted it as GA
    expect(model.errors).toEqual([]);
    const tools = (update as { session: { tools: { name: string }[] } }).session.tools;
    expect(tools.map((t) => t.name)).toEqual(['get_weather_from_coords', 'end_call']);

    // Caller → model: every frame, in order, byte for byte (1 s of paced audio).
    const spoken = testAudio(8000, 1);
    await call.sendAudio(spoken, { paced: true });
    await model.waitForAppendedBytes(spoken.length);
    expect(model.appendedAudio().equals(spoken)).toBe(true);
    expect(model.appendCount()).toBe(50);

    // Model → caller: every chunk, in order, each followed by a mark named with the item's cumulative ms.
    const answer = chunks(testAudio(4800, 2), 960); // 5 chunks of 120 ms
    const { itemId } = await model.audioResponse({ chunks: answer, transcript: 'Hello from the model' });
    await call.waitFor('mark', (m) => markOf(m) === `${itemId}:600`);
    expect(call.receivedAudio().equals(Buffer.concat(answer))).toBe(true);
    const outbound = call.received.filter((m) => m.event === 'media' || m.event === 'mark');
    expect(outbound.map((m) => (m.event === 'mark' ? markOf(m) : 'media'))).toEqual([120, 240, 360, 480, 600].flatMap((ms) => ['media', `${itemId}:${ms}`]));
    expect(outbound.every((m) => m.streamSid === call.streamSid)).toBe(true);
    expect(call.protocolErrors).toEqual([]);

    // Hang-up: the model connection closes with the call.
    call.sendStop();
    const closed = await model.waitForClose();
    expect(closed.code).toBe(1000);
    await call.waitForClose();
  });

  it('marks small chunks at most every 100 ms, and the end of the answer once the response is done', async ({ startApp, placeCall }) => {
    const app = await startApp();
    const { call, model } = await placeCall(app);
    const answer = chunks(testAudio(1120, 3), 160); // 7 chunks of 20 ms, as the service often sends them
    const { itemId } = await model.audioResponse({ chunks: answer, transcript: 'Short answer' });
    await call.waitFor('mark', (m) => markOf(m) === `${itemId}:140`);
    const outbound = call.received.filter((m) => m.event === 'media' || m.event === 'mark');
    const media = (n: number) => Array.from({ length: n }, () => 'media');
    expect(outbound.map((m) => (m.event === 'mark' ? markOf(m) : 'media'))).toEqual([...media(5), `${itemId}:100`, ...media(2), `${itemId}:140`]);
    expect(call.receivedAudio().equals(Buffer.concat(answer))).toBe(true);
    call.sendStop();
  });

  it('sends reasoning effort and parallel_tool_calls only when configured, and the service accepts them', async ({ startApp, placeCall }) => {
    const plain = await placeCall(await startApp());
    const session = (m: typeof plain.model) => (m.received.find((e) => e.type === 'session.update') as unknown as { session: Record<string, unknown> }).session;
    expect(session(plain.model)).not.toHaveProperty('reasoning');
    expect(session(plain.model)).not.toHaveProperty('parallel_tool_calls');
    plain.call.sendStop();
    const tuned = await placeCall(await startApp({ OPENAI_REASONING_EFFORT: 'low', OPENAI_PARALLEL_TOOL_CALLS: 'false' }));
    expect(session(tuned.model)).toMatchObject({ model: 'gpt-realtime-2.1', reasoning: { effort: 'low' }, parallel_tool_calls: false });
    expect(tuned.model.errors).toEqual([]);
    expect(tuned.model.session).toMatchObject({ reasoning: { effort: 'low' }, parallel_tool_calls: false });
    tuned.call.sendStop();
  });

  it('lets the AI speak first when AGENT_GREETING is set', async ({ startApp, placeCall }) => {
    const app = await startApp({ AGENT_GREETING: 'Greet the caller and offer help.' });
    const { call, model } = await placeCall(app);
    const create = await model.waitFor('response.create');
    expect(create.response?.instructions).toBe('Greet the caller and offer help.');
    // The greeting is asked for after the session is configured.
    const order = model.received.map((e) => e.type);
    expect(order.indexOf('session.update')).toBeLessThan(order.indexOf('response.create'));
    const greeting = chunks(testAudio(3200, 3), 800);
    const { itemId } = await model.audioResponse({ chunks: greeting, transcript: 'Hi! How can I help?' });
    await call.waitFor('mark', (m) => markOf(m) === `${itemId}:400`);
    expect(call.receivedAudio().equals(Buffer.concat(greeting))).toBe(true);
    call.sendStop();
  });

  it('does not ask for a greeting when AGENT_GREETING is empty', async ({ startApp, placeCall }) => {
    const app = await startApp();
    const { call, model } = await placeCall(app);
    call.sendDtmf('1'); // a later event as a sync point
    await model.waitFor('conversation.item.create');
    expect(model.received.some((e) => e.type === 'response.create')).toBe(false);
    call.sendStop();
  });

  it('barge-in: clears playback and truncates at what the caller actually heard, dropping late deltas', async ({ startApp, placeCall }) => {
    const app = await startApp();
    const { call, model } = await placeCall(app);
    // 3 s of audio arrives at once (far ahead of playback), as the real API often does.
    const answer = chunks(testAudio(24000, 4), 1600);
    const response = model.audioResponse({ chunks: answer, paceMs: 0, lateDeltas: 3 });
    await vi.waitFor(() => expect(call.playedMs()).toBeGreaterThanOrEqual(900), { timeout: 3000, interval: 5 });
    // The fake keeps the response open so late deltas can follow the interruption.
    const sentBefore = call.receivedAudio().length;
    model.speechStarted();
    const truncate = await model.waitFor('conversation.item.truncate');
    await call.waitFor('clear');
    const heardAtClear = call.clears[0].atPlayedMs;
    expect(truncate.content_index).toBe(0);
    expect(Math.abs(truncate.audio_end_ms - heardAtClear)).toBeLessThanOrEqual(40);
    expect(truncate.audio_end_ms).toBeLessThan(3000);
    await response;
    // The fake accepted the truncation (within the item's audio).
    expect(model.errors).toEqual([]);
    expect(model.truncations).toEqual([{ itemId: truncate.item_id, audioEndMs: truncate.audio_end_ms }]);
    // Nothing more was played after the clear, and no late audio was sent to the caller.
    call.sendDtmf('5');
    await model.waitFor('conversation.item.create');
    expect(call.receivedAudio().length).toBe(sentBefore);
    expect(call.playedMs()).toBeLessThan(heardAtClear + 40);
    expect(call.protocolErrors).toEqual([]);
    call.sendStop();
  });

  it('does not truncate an answer that has finished playing', async ({ startApp, placeCall }) => {
    const app = await startApp();
    const { call, model } = await placeCall(app);
    const { itemId } = await model.audioResponse({ chunks: [testAudio(800, 5)] }); // 100 ms
    await vi.waitFor(() => expect(call.echoedMarks.map((m) => markOf({ mark: m }))).toContain(`${itemId}:100`), { timeout: 2000, interval: 5 });
    model.speechStarted();
    call.sendDtmf('9');
    await model.waitFor('conversation.item.create');
    expect(model.received.some((e) => e.type === 'conversation.item.truncate')).toBe(false);
    expect(call.received.some((m) => m.event === 'clear')).toBe(false);
    call.sendStop();
  });

  it('end_call hangs up after the goodbye has played', async ({ startApp, placeCall }) => {
    const app = await startApp();
    const { call, model, callSid: sid } = await placeCall(app);
    const { callIds } = model.functionCallResponse([{ name: 'end_call', arguments: '{"reason":"caller said bye"}' }]);
    const output = await model.waitFor('conversation.item.create');
    expect(output.item).toMatchObject({ type: 'function_call_output', call_id: callIds[0] });
    await model.waitFor('response.create');
    // 530 ms in 20 ms chunks: marks go out every 100 ms, so the last 30 ms are covered only by the
    // mark sent when the response is done — the hang-up must wait for that one.
    const goodbye = chunks(testAudio(4240, 6), 160);
    await model.audioResponse({ chunks: goodbye, transcript: 'Goodbye!' });
    expect(call.closed).toBe(false); // not before it played
    const closed = await call.waitForClose(3000);
    expect(closed.code).toBe(1000);
    expect(call.playedMs()).toBeGreaterThanOrEqual(530);
    expect(call.heardAudio().equals(Buffer.concat(goodbye))).toBe(true);
    await model.waitForClose();
    // When the stream ends, Twilio asks what next: a clean hang-up, no apology.
    const next = await postTwiml(app, { CallSid: sid }, { path: '/twiml/stream-ended' });
    expect(next.body).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>');
  });

  it('turns a keypress into a conversation item', async ({ startApp, placeCall }) => {
    const app = await startApp();
    const { call, model } = await placeCall(app);
    call.sendDtmf('7');
    const item = await model.waitFor('conversation.item.create');
    expect(item.item).toMatchObject({ type: 'message', role: 'user', content: [{ type: 'input_text' }] });
    expect((item.item as { content: { text: string }[] }).content[0].text).toContain('"7" key');
    call.sendStop();
  });

  it('ends the stream (so TwiML speaks the fallback) when the model cannot be reached again mid-call', async ({ realtime, startApp, placeCall }) => {
    const app = await startApp({ MODEL_RECONNECT_MAX_ATTEMPTS: '2', MODEL_RECONNECT_BASE_DELAY_MS: '20' });
    const { call, model, callSid: sid } = await placeCall(app);
    call.sendMedia(testAudio(160, 7));
    await model.waitForAppendedBytes(160);
    realtime.refuseNext(5, 503);
    model.drop();
    const closed = await call.waitForClose();
    expect(closed.code).toBe(1011);
    expect(realtime.refused).toBe(2);
    const next = await postTwiml(app, { CallSid: sid }, { path: '/twiml/stream-ended' });
    expect(next.body).toMatch(/<Say>Sorry, the assistant is not available[^<]*<\/Say><Hangup\/>/);
    const health = await getJson(`${app.httpUrl}/health`);
    expect(health.details.calls.active).toBe(0);
  });

  it('ends the stream when the model cannot be reached at all', async ({ startRealtime, startApp }) => {
    const refusing = await startRealtime({ requireApiKey: 'sk-some-other-key-000' });
    const app = await startApp({ OPENAI_REALTIME_URL: refusing.url, ALLOW_UNRESERVED_STREAMS: 'true' });
    const call = await TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, { headers: streamHeaders(app) });
    const closed = await call.waitForClose();
    expect(closed.code).toBe(1011);
  });
});
