import { describe } from 'vitest';
import { expect, it } from './support/fixture';
import { LogsClient } from './support/logs-client';
import { getJson, testAudio } from './support/test-app';

describe('call lifecycle and the event stream', () => {
  it('publishes typed events for every significant step on /ws/logs (and /logs)', async ({ startApp, placeCall }) => {
    const app = await startApp();
    const logs = await LogsClient.connect(app);
    const legacy = await LogsClient.connect(app, '/logs');
    const { call, model, callSid: sid } = await placeCall(app);

    expect(await logs.waitFor('model.status', (e) => e.status === 'connecting')).toMatchObject({ v: 1, callSid: sid });
    expect(await logs.waitFor('call.started')).toMatchObject({
      callSid: sid,
      from: '+15551230000',
      to: '+15559870000',
      direction: 'inbound',
      streamSid: call.streamSid,
    });
    expect(await logs.waitFor('model.status', (e) => e.status === 'connected')).toMatchObject({ callSid: sid });

    const userItem = model.speechStarted();
    model.speechStopped(userItem);
    model.userTranscript(userItem, 'What is the weather in Paris?');
    expect(await logs.waitFor('transcript.done', (e) => e.role === 'user')).toMatchObject({ itemId: userItem, text: 'What is the weather in Paris?' });

    const { itemId } = await model.audioResponse({ chunks: [testAudio(8000, 1), testAudio(8000, 2)], transcript: 'Let me check that.' });
    expect(await logs.waitFor('transcript.delta', (e) => e.role === 'assistant')).toMatchObject({ itemId });
    expect(await logs.waitFor('transcript.done', (e) => e.role === 'assistant')).toMatchObject({ itemId, text: 'Let me check that.' });
    expect(await logs.waitFor('usage')).toMatchObject({ status: 'completed' });

    model.speechStarted(); // the 2 s answer is still playing: barge-in
    expect(await logs.waitFor('barge_in')).toMatchObject({ itemId, sentMs: 2000 });

    model.functionCallResponse([{ name: 'no_such_tool', arguments: '{}' }]);
    expect(await logs.waitFor('function_call.started')).toMatchObject({ name: 'no_such_tool', arguments: '{}' });
    const finished = await logs.waitFor('function_call.finished');
    expect(finished).toMatchObject({ name: 'no_such_tool', error: 'Unknown tool "no_such_tool"' });
    expect(typeof finished.durationMs).toBe('number');

    call.sendDtmf('#');
    expect(await logs.waitFor('dtmf')).toMatchObject({ digit: '#', callSid: sid });

    model.error({ type: 'invalid_request_error', code: 'bad_thing', message: 'Something was wrong' });
    expect(await logs.waitFor('error')).toMatchObject({ source: 'model', code: 'bad_thing', message: 'Something was wrong' });

    call.sendStop();
    const ended = await logs.waitFor('call.ended');
    expect(ended).toMatchObject({ callSid: sid, reason: 'caller-hung-up' });
    expect(ended.durationMs).toBeGreaterThan(0);
    await legacy.waitFor('call.ended');
    for (const event of logs.events) expect(event).toMatchObject({ v: 1, callSid: sid, ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    logs.close();
    legacy.close();
  });

  it('sweeps a call whose caller audio stopped', async ({ startApp, placeCall }) => {
    const app = await startApp({ MEDIA_IDLE_TIMEOUT_S: '1', SWEEP_INTERVAL_MS: '100' });
    const logs = await LogsClient.connect(app);
    const { call, model } = await placeCall(app);
    call.sendMedia(testAudio(160, 1));
    expect(await logs.waitFor('call.ended', () => true, 4000)).toMatchObject({ reason: 'media-timeout' });
    await call.waitForClose();
    await model.waitForClose();
    expect(await getJson(`${app.httpUrl}/`)).toMatchObject({ activeCalls: 0 });
  });

  it('sweeps a call past the maximum duration, even while audio flows', async ({ startApp, placeCall }) => {
    const app = await startApp({ MAX_CALL_DURATION_S: '1', SWEEP_INTERVAL_MS: '100' });
    const logs = await LogsClient.connect(app);
    const { call } = await placeCall(app);
    const talking = call.sendAudio(testAudio(8 * 3000, 2), { paced: true }).catch(() => undefined);
    expect(await logs.waitFor('call.ended', () => true, 4000)).toMatchObject({ reason: 'max-duration' });
    await call.waitForClose();
    await talking;
  });
});
