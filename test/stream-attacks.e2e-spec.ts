// Attacks on the call path itself: replayed webhooks, hostile media-stream sockets, mark floods,
// and a model asking for tools the call was not given. Each is performed, and must fail.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, vi } from 'vitest';
import { newCallSid } from '../emulator/phone';
import { TwilioCallSimulator } from '../emulator/twilio-call-simulator';
import { expect, it } from './support/fixture';
import { LogCapture } from './support/log-capture';
import { markOf, operatorHeaders, postTwiml, streamHeaders, testAudio, twimlParameters } from './support/test-app';

// nestjs-pino keeps one logger per process: every app of this file writes here.
const logs = new LogCapture();

describe('replayed webhooks', () => {
  it('answers a retry of the same webhook with the same reservation, and refuses a replay once the call was answered', async ({ startApp, realtime }) => {
    const app = await startApp({ LOG_LEVEL: 'debug' }, [], { logs });
    const params = { CallSid: newCallSid(), AccountSid: 'AC' + '0'.repeat(32), From: '+15551230000', To: '+15559870000' };
    const first = await postTwiml(app, params);
    const retry = await postTwiml(app, params); // Twilio retrying before any stream started
    expect(retry.status).toBe(200);
    expect(twimlParameters(retry.body).streamToken).toBe(twimlParameters(first.body).streamToken);
    const model = await realtime.waitForConnection(0);
    await model.waitFor('session.update');
    expect(realtime.connections).toHaveLength(1);

    const call = await TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, {
      callSid: params.CallSid,
      customParameters: twimlParameters(first.body),
      headers: streamHeaders(app),
    });
    call.sendMedia(testAudio(160, 1));
    await model.waitForAppendedBytes(160);
    call.sendStop();
    await model.waitForClose();

    // The captured, correctly signed webhook is replayed: no token, no model session.
    for (let i = 0; i < 3; i++) {
      const replay = await postTwiml(app, params);
      expect(replay.status).toBe(409);
      expect(replay.body).toContain('already answered');
      expect(replay.body).not.toContain('<Stream');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(realtime.connections).toHaveLength(1);
  });

  it('refuses a replay while the call is still live, too', async ({ startApp, placeCall, realtime }) => {
    const app = await startApp({ LOG_LEVEL: 'debug' }, [], { logs });
    const { call, callSid } = await placeCall(app);
    const replay = await postTwiml(app, { CallSid: callSid, From: '+15551230000' });
    expect(replay.status).toBe(409);
    expect(realtime.connections).toHaveLength(1);
    call.sendStop();
  });
});

describe('media-stream sockets before start', () => {
  it.for([
    ['a 60 KB callSid', { callSid: 'CA' + 'a'.repeat(60_000) }],
    ['a multi-line callSid', { callSid: 'CA0123\nlevel=error msg="forged"' }],
    ['a streamSid of the wrong shape', { streamSid: 'MZ-not-a-sid' }],
  ] as const)('closes a stream whose start has %s (1008), and the value never reaches a log', async ([, ids], { startApp }) => {
    const app = await startApp({ LOG_LEVEL: 'debug', ALLOW_UNRESERVED_STREAMS: 'true' }, [], { logs });
    const call = await TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, { ...ids, headers: streamHeaders(app) });
    expect((await call.waitForClose()).code).toBe(1008);
    // The refusal is logged (the capture sees warnings: every app of this file logs at debug), without the value.
    await expect.poll(() => logs.records.some((r) => r.level === 'warn' && r.msg.includes('protocol error') && /start/.test(r.why))).toBe(true);
    const text = logs.records.map((r) => JSON.stringify(r)).join('\n');
    expect(text).not.toContain('a'.repeat(100));
    expect(text).not.toContain('forged');
    expect(text).not.toContain('MZ-not-a-sid');
  });

  it('counts every kind of frame before start as invalid, and closes a socket that sends too many', async ({ startApp }) => {
    const app = await startApp({ LOG_LEVEL: 'debug' }, [], { logs });
    const call = await TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, { sendStart: false, headers: streamHeaders(app) });
    for (let i = 0; i < 40; i++) call.sendMedia(testAudio(160, i));
    for (let i = 0; i < 30; i++) call.sendRaw(JSON.stringify({ event: 'mark', streamSid: call.streamSid, mark: { name: `m${i}` } }));
    for (let i = 0; i < 30; i++) call.sendDtmf('1');
    expect((await call.waitForClose()).code).toBe(1008);
  });

  it('caps the sockets waiting for start: past the cap, upgrades get 503 until some leave', async ({ startApp, placeCall }) => {
    const app = await startApp({ LOG_LEVEL: 'debug', MAX_CONCURRENT_CALLS: '2' }, [], { logs });
    const idle: TwilioCallSimulator[] = [];
    for (let i = 0; i < 32; i++) idle.push(await TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, { sendStart: false, headers: streamHeaders(app) }));
    await expect(TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, { sendStart: false, headers: streamHeaders(app) })).rejects.toThrow(/503/);
    for (const socket of idle.splice(0, 4)) socket.close();
    await vi.waitFor(() => expect(idle.length).toBe(28));
    // Room again: a real call goes through.
    const { call, model } = await vi.waitFor(() => placeCall(app), { timeout: 3000, interval: 100 });
    call.sendMedia(testAudio(160, 1));
    await model.waitForAppendedBytes(160);
    call.sendStop();
    for (const socket of idle) socket.close();
  });
});

describe('a live stream that misbehaves', () => {
  it('shrugs off a flood of marks it never sent (each looked up in O(1)) and the call goes on', async ({ startApp, placeCall }) => {
    const app = await startApp({ LOG_LEVEL: 'debug' }, [], { logs });
    const { call, model } = await placeCall(app);
    // Audio far ahead of playback leaves marks pending; then 20 000 foreign marks arrive.
    const pending = model.audioResponse({ chunks: Array.from({ length: 200 }, (_, i) => testAudio(160, i)) });
    await pending;
    for (let i = 0; i < 20_000; i++) call.sendRaw(`{"event":"mark","streamSid":"${call.streamSid}","sequenceNumber":"1","mark":{"name":"x${i}"}}`);
    const live = await fetch(`${app.httpUrl}/health/live`);
    expect(live.status).toBe(200);
    model.speechStarted(); // a barge-in still works
    await call.waitFor('clear');
    const { itemId } = await model.audioResponse({ chunks: [testAudio(800, 5)] });
    await call.waitFor('mark', (m) => markOf(m) === `${itemId}:100`);
    expect(call.closed).toBe(false);
    call.sendStop();
  });
});

describe('tools a call was not given', () => {
  it('does not run a tool switched off for new calls when the model asks for it anyway', async ({ startApp, placeCall }) => {
    let weatherRequests = 0;
    const weather = createServer((_req, res) => {
      weatherRequests++;
      res.setHeader('content-type', 'application/json').end(JSON.stringify({ current: { temperature_2m: 20, wind_speed_10m: 5 } }));
    });
    await new Promise<void>((resolve) => weather.listen(0, '127.0.0.1', resolve));
    try {
      const app = await startApp({ LOG_LEVEL: 'debug', WEATHER_API_URL: `http://127.0.0.1:${(weather.address() as AddressInfo).port}/v1/forecast` }, [], {
        logs,
      });
      const saved = await fetch(`${app.httpUrl}/session-config`, {
        method: 'PUT',
        headers: { ...operatorHeaders(app), 'content-type': 'application/json' },
        body: JSON.stringify({ enabledTools: ['end_call'] }),
      });
      expect(saved.status).toBe(200);
      const { call, model } = await placeCall(app);
      const offered = (model.received.find((e) => e.type === 'session.update') as { session: { tools: { name: string }[] } }).session.tools;
      expect(offered.map((t) => t.name)).toEqual(['end_call']);
      const { callIds } = model.functionCallResponse([{ name: 'get_weather_from_coords', arguments: '{"latitude":48.85,"longitude":2.35}' }]);
      const output = await model.waitFor('conversation.item.create', (e) => e.item.type === 'function_call_output');
      expect(output.item).toMatchObject({
        call_id: callIds[0],
        output: JSON.stringify({ error: 'Tool "get_weather_from_coords" is not available in this call' }),
      });
      expect(weatherRequests).toBe(0);
      call.sendStop();
    } finally {
      await new Promise((resolve) => weather.close(resolve));
    }
  });
});
