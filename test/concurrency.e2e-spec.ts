import { describe } from 'vitest';
import { newCallSid } from '../emulator/phone';
import { TwilioCallSimulator } from '../emulator/twilio-call-simulator';
import { expect, it } from './support/fixture';
import { LogsClient } from './support/logs-client';
import { chunks, getJson, markOf, postTwiml, streamHeaders, testAudio, twimlParameters } from './support/test-app';

describe('many calls at once', () => {
  it('keeps three concurrent calls apart: audio and events never cross', async ({ startApp, placeCall }) => {
    const app = await startApp();
    const logs = await LogsClient.connect(app);
    const calls = [];
    for (let i = 0; i < 3; i++) calls.push(await placeCall(app));

    // Everyone talks at the same time, and every model answers at the same time.
    const spoken = calls.map((_, i) => testAudio(4000, 100 + i));
    const answers = calls.map((_, i) => chunks(testAudio(2400, 200 + i), 480));
    const itemIds = await Promise.all(
      calls.map(async ({ call, model }, i) => {
        const [, response] = await Promise.all([
          call.sendAudio(spoken[i], { paced: true }),
          model.audioResponse({ chunks: answers[i], paceMs: 20, transcript: `answer ${i}` }),
        ]);
        return response.itemId;
      }),
    );
    for (const [i, { call, model }] of calls.entries()) {
      await model.waitForAppendedBytes(spoken[i].length);
      expect(model.appendedAudio().equals(spoken[i])).toBe(true);
      await call.waitFor('mark', (m) => markOf(m) === `${itemIds[i]}:300`);
      expect(call.receivedAudio().equals(Buffer.concat(answers[i]))).toBe(true);
      expect(call.received.filter((m) => m.event === 'media').every((m) => m.streamSid === call.streamSid)).toBe(true);
      expect(call.protocolErrors).toEqual([]);
    }
    expect(await getJson(`${app.httpUrl}/`)).toMatchObject({ activeCalls: 3 });

    for (const { call } of calls) call.sendStop();
    for (const { model } of calls) await model.waitForClose();
    for (const { callSid } of calls) await logs.waitFor('call.ended', (e) => e.callSid === callSid);
    // Each call's events carry its own callSid, and each assistant transcript went to its own call.
    for (const [i, { callSid: sid }] of calls.entries()) {
      const own = logs.events.filter((e) => e.callSid === sid);
      expect(own.map((e) => e.type)).toEqual(expect.arrayContaining(['call.started', 'model.status', 'transcript.done', 'call.ended']));
      const transcript = own.find((e) => e.type === 'transcript.done' && e.role === 'assistant');
      expect(transcript?.text).toBe(`answer ${i}`);
      expect(own.every((e) => e.v === 1 && typeof e.ts === 'string')).toBe(true);
    }
    logs.close();
    expect(await getJson(`${app.httpUrl}/`)).toMatchObject({ activeCalls: 0 });
  });
});

describe('bad input on /ws/call', () => {
  it('drops bad frames, closes abusive sockets with 1008, and never disturbs another call', async ({ startApp, placeCall }) => {
    const app = await startApp();
    const good = await placeCall(app);

    // A socket that sends garbage before `start`: every frame is dropped, nothing is dialled.
    const noStart = await TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, { sendStart: false, headers: streamHeaders(app) });
    noStart.sendRaw('{not json');
    noStart.sendRaw('{"event":"hello"}');
    noStart.sendRaw(Buffer.from([1, 2, 3]));
    noStart.sendMedia(testAudio(160, 1)); // media before start
    noStart.sendRaw(JSON.stringify({ event: 'start', start: { callSid: 42 } })); // invalid start
    // An abusive stream of invalid frames gets the socket closed with a policy-violation code.
    for (let i = 0; i < 120; i++) noStart.sendRaw('[]');
    expect((await noStart.waitForClose()).code).toBe(1008);

    // A started call that receives bad frames in between good ones keeps working.
    const bad = await placeCall(app);
    const frame = testAudio(160, 2);
    bad.call.sendMedia(frame);
    bad.call.sendRaw(JSON.stringify({ event: 'media', streamSid: bad.call.streamSid, media: { payload: 'not base64!!' } }));
    bad.call.sendRaw(JSON.stringify({ event: 'media', streamSid: bad.call.streamSid, media: { payload: 'A'.repeat(20_000) } }));
    bad.call.sendRaw(JSON.stringify({ event: 'media', streamSid: 'MZsomeoneelse', media: { payload: frame.toString('base64') } }));
    bad.call.sendRaw('{"event":"media"}');
    bad.call.sendRaw('null');
    bad.call.sendMedia(frame);
    await bad.model.waitForAppendedBytes(320);
    expect(bad.model.appendedAudio().equals(Buffer.concat([frame, frame]))).toBe(true);
    expect(bad.model.errors).toEqual([]); // nothing invalid was forwarded to the model
    expect(bad.call.closed).toBe(false);

    // An oversized frame is refused by the socket itself (1009), not parsed.
    bad.call.sendRaw('x'.repeat(200_000));
    expect((await bad.call.waitForClose()).code).toBe(1009);
    await bad.model.waitForClose();

    // The good call never noticed.
    const audio = testAudio(1600, 3);
    await good.call.sendAudio(audio, { paced: false });
    await good.model.waitForAppendedBytes(1600);
    expect(good.model.appendedAudio().equals(audio)).toBe(true);
    const { itemId } = await good.model.audioResponse({ chunks: [testAudio(800, 4)] });
    await good.call.waitFor('mark', (m) => markOf(m) === `${itemId}:100`);
    expect((await fetch(`${app.httpUrl}/health`)).status).toBe(200);
    good.call.sendStop();
  });

  it('refuses a second stream for a call that is already streaming', async ({ startApp, placeCall }) => {
    const app = await startApp({ ALLOW_UNRESERVED_STREAMS: 'true' });
    const first = await placeCall(app);
    const sid = first.callSid;
    const second = await TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, { callSid: sid, customParameters: { callSid: sid }, headers: streamHeaders(app) });
    expect((await second.waitForClose()).code).toBe(1013);
    first.call.sendMedia(testAudio(160, 9));
    await first.model.waitForAppendedBytes(160);
    first.call.sendStop();
  });

  it('closes a socket that never sends start', async ({ realtime, startApp }) => {
    const app = await startApp({ STREAM_START_TIMEOUT_MS: '300' });
    const silent = await TwilioCallSimulator.connect(`${app.wsUrl}/call`, { sendStart: false, headers: streamHeaders(app, '/call') });
    expect((await silent.waitForClose()).code).toBe(1008);
    expect(realtime.connections).toHaveLength(0);
  });

  it('accepts the legacy /call path', async ({ realtime, startApp }) => {
    const app = await startApp();
    const sid = newCallSid();
    const twiml = await postTwiml(app, { CallSid: sid });
    const call = await TwilioCallSimulator.connect(`${app.wsUrl}/call`, {
      callSid: sid,
      customParameters: twimlParameters(twiml.body),
      headers: streamHeaders(app, '/call'),
    });
    const model = await realtime.waitForConnection(0);
    call.sendMedia(testAudio(160, 5));
    await model.waitForAppendedBytes(160);
    call.sendStop();
  });
});
