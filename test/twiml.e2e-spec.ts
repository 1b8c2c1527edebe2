import twilio from 'twilio';
import { describe } from 'vitest';
import { newCallSid } from '../emulator/phone';
import { TwilioCallSimulator } from '../emulator/twilio-call-simulator';
import { expect, it } from './support/fixture';
import { getJson, postTwiml, streamHeaders, TEST_API_KEY, TEST_AUTH_TOKEN, TEST_PUBLIC_URL, twilioSignature, twimlParameters } from './support/test-app';

const AUTH_TOKEN = TEST_AUTH_TOKEN;

describe('voice webhook /twiml', () => {
  it('answers with TwiML that connects the call to the stream derived from PUBLIC_URL, with parameters', async ({ startApp }) => {
    const app = await startApp();
    const sid = newCallSid();
    const res = await postTwiml(app, { CallSid: sid, From: '+15551230000', To: '+15559870000', Direction: 'inbound', CallStatus: 'ringing' });
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/text\/xml/);
    expect(res.body).toContain(`<Connect action="${TEST_PUBLIC_URL}/twiml/stream-ended" method="POST">`);
    expect(res.body).toContain('<Stream url="wss://voice.example.test/ws/call">');
    expect(res.body).toContain(`<Parameter name="callSid" value="${sid}"/>`);
    expect(res.body).toContain('<Parameter name="from" value="+15551230000"/>');
    expect(res.body).toContain('<Parameter name="to" value="+15559870000"/>');
    expect(twimlParameters(res.body).streamToken).toMatch(/^[A-Za-z0-9_-]{24}$/);
    // A spoken fallback and hang-up follow the stream.
    expect(res.body).toMatch(/<\/Connect><Say>Sorry, the assistant is not available[^<]*<\/Say><Hangup\/><\/Response>$/);
  });

  it('also answers GET with query parameters', async ({ startApp }) => {
    const app = await startApp();
    const pathAndQuery = `/twiml?CallSid=${newCallSid()}&From=%2B1555`;
    const res = await fetch(`${app.httpUrl}${pathAndQuery}`, { headers: { 'x-twilio-signature': twilioSignature(app, pathAndQuery)! } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<Parameter name="from" value="+1555"/>');
  });

  it('pre-dials the model when the webhook answers, and the stream adopts that connection', async ({ startRealtime, startApp }) => {
    const fake = await startRealtime({ requireApiKey: TEST_API_KEY });
    const app = await startApp({ OPENAI_REALTIME_URL: fake.url });
    const sid = newCallSid();
    const twiml = await postTwiml(app, { CallSid: sid, From: '+1555', To: '+1666' });
    // The connection is open and configured before any stream exists.
    const model = await fake.waitForConnection(0);
    expect(model.headers.authorization).toBe(`Bearer ${TEST_API_KEY}`);
    expect(model.model).toBe('gpt-realtime-2.1');
    await model.waitFor('session.update');

    const call = await TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, {
      callSid: sid,
      customParameters: twimlParameters(twiml.body),
      headers: streamHeaders(app),
    });
    call.sendMedia(Buffer.alloc(160, 0x7f));
    await model.waitForAppendedBytes(160);
    expect(fake.connections).toHaveLength(1);
    expect(model.received.filter((e) => e.type === 'session.update')).toHaveLength(1);
    call.sendStop();
    await model.waitForClose();
  });

  it('dials on start when no webhook pre-dialled the call (ALLOW_UNRESERVED_STREAMS)', async ({ realtime, startApp }) => {
    const app = await startApp({ ALLOW_UNRESERVED_STREAMS: 'true' });
    const call = await TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, { headers: streamHeaders(app) });
    const model = await realtime.waitForConnection(0);
    await model.waitFor('session.update');
    call.sendMedia(Buffer.alloc(160, 1));
    await model.waitForAppendedBytes(160);
    call.sendStop();
    await model.waitForClose();
  });

  it('closes a pre-dialled connection that no stream adopts', async ({ realtime, startApp }) => {
    const app = await startApp({ PREDIAL_TIMEOUT_MS: '1000' });
    await postTwiml(app, { CallSid: newCallSid() });
    const model = await realtime.waitForConnection(0);
    const closed = await model.waitForClose(4000);
    expect(closed.code).toBe(1000);
    const health = await getJson(`${app.httpUrl}/health`);
    expect(health.details.calls).toMatchObject({ active: 0, reserved: 0 });
  });

  it('answers with a busy message and no stream at capacity', async ({ realtime: fake, startApp }) => {
    const app = await startApp({ MAX_CONCURRENT_CALLS: '1' });
    expect((await postTwiml(app, { CallSid: newCallSid() })).body).toContain('<Connect');
    const busy = await postTwiml(app, { CallSid: newCallSid() });
    expect(busy.status).toBe(200);
    expect(busy.body).not.toContain('<Connect');
    expect(busy.body).toMatch(/<Say>Sorry, all our lines are busy[^<]*<\/Say><Hangup\/>/);
    // Only the admitted call was pre-dialled.
    await fake.waitForConnection(0);
    expect(fake.connections).toHaveLength(1);
    const health = await fetch(`${app.httpUrl}/health`);
    expect(health.status).toBe(503);
  });

  it('tells the caller the service is unavailable when not configured', async ({ startApp }) => {
    const app = await startApp({ OPENAI_API_KEY: '' });
    const res = await postTwiml(app, { CallSid: newCallSid() });
    expect(res.status).toBe(200);
    expect(res.body).not.toContain('<Connect');
    expect(res.body).toContain('<Hangup/>');
    const health = await fetch(`${app.httpUrl}/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as any).error.config.missing).toEqual(['OPENAI_API_KEY']);
  });

  describe('with TWILIO_AUTH_TOKEN set', () => {
    const params = { CallSid: 'CA00000000000000000000000000000001', From: '+15551230000', To: '+15559870000', AccountSid: 'AC1' };
    const sign = (url: string, p: Record<string, string>) => twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, p);

    it('accepts a valid signature over the public URL and params', async ({ startApp }) => {
      const app = await startApp({ TWILIO_AUTH_TOKEN: AUTH_TOKEN });
      const res = await postTwiml(app, params, { signature: sign(`${TEST_PUBLIC_URL}/twiml`, params) });
      expect(res.status).toBe(200);
      expect(res.body).toContain('<Stream');
    });

    it.for<[string, string | undefined]>([
      ['missing', undefined],
      ['invalid', 'bm90LWEtc2lnbmF0dXJl'],
      ['signed for another URL', 'other'],
    ])('rejects a %s signature with 403 and does not dial', async ([, signature], { realtime: fake, startApp }) => {
      const app = await startApp({ TWILIO_AUTH_TOKEN: AUTH_TOKEN });
      const sig = (signature === 'other' ? sign(`http://127.0.0.1/twiml`, params) : signature) ?? false;
      const res = await postTwiml(app, params, { signature: sig });
      expect(res.status).toBe(403);
      expect(res.body).not.toContain(AUTH_TOKEN);
      // The stream-ended webhook is protected the same way.
      expect((await postTwiml(app, params, { path: '/twiml/stream-ended', signature: sig })).status).toBe(403);
      expect(fake.connections).toHaveLength(0);
    });

    it('requires a valid signature on the media stream upgrade (403 before the upgrade)', async ({ realtime: fake, startApp }) => {
      const app = await startApp({ TWILIO_AUTH_TOKEN: AUTH_TOKEN, ALLOW_UNRESERVED_STREAMS: 'true' });
      await expect(TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`)).rejects.toThrow(/403/);
      await expect(
        TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, { headers: { 'x-twilio-signature': sign('wss://voice.example.test/ws/call?x=1', {}) } }),
      ).rejects.toThrow(/403/);
      const call = await TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, {
        headers: { 'x-twilio-signature': sign('wss://voice.example.test/ws/call', {}) },
      });
      const model = await fake.waitForConnection(0);
      call.sendMedia(Buffer.alloc(160, 2));
      await model.waitForAppendedBytes(160);
      call.sendStop();
    });
  });
});

describe('HTTP endpoints', () => {
  it('serves status, public URL, tools, health and Swagger docs', async ({ startApp }) => {
    const app = await startApp();
    const status = await getJson(`${app.httpUrl}/`);
    expect(status).toMatchObject({ status: 'ok', activeCalls: 0, capacity: 100, missingConfig: [], problems: [] });

    const urls = await getJson(`${app.httpUrl}/public-url`);
    expect(urls).toEqual({
      publicUrl: TEST_PUBLIC_URL,
      webhookUrl: `${TEST_PUBLIC_URL}/twiml`,
      streamUrl: 'wss://voice.example.test/ws/call',
    });

    const tools = await getJson(`${app.httpUrl}/tools`);
    expect(tools.map((t: { name: string }) => t.name)).toEqual(['get_weather_from_coords', 'end_call', 'ask_operator']);
    expect(tools[0]).toMatchObject({ type: 'function', parameters: { type: 'object', required: ['latitude', 'longitude'] } });

    const health = await fetch(`${app.httpUrl}/health`);
    expect(health.status).toBe(200);
    const body: any = await health.json();
    expect(body.status).toBe('ok');
    expect(body.details.calls).toEqual({ status: 'up', active: 0, reserved: 0, capacity: 100 });
    expect(body.details.heap.status).toBe('up');

    const docs = await fetch(`${app.httpUrl}/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger-ui');
    const spec = await getJson(`${app.httpUrl}/docs-json`);
    for (const path of ['/', '/public-url', '/twiml', '/twiml/stream-ended', '/tools', '/health']) expect(spec.paths).toHaveProperty([path]);
    expect(spec.paths['/twiml'].post.requestBody.content).toHaveProperty(['application/x-www-form-urlencoded']);
  });

  it('answers unknown routes with 404 and no stack trace', async ({ startApp }) => {
    const app = await startApp();
    const res = await fetch(`${app.httpUrl}/nope`);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toMatch(/at .*\.js:\d+/);
  });

  it('rejects an invalid webhook parameter with 400 naming the field', async ({ startApp }) => {
    const app = await startApp();
    const res = await postTwiml(app, { CallSid: '<script>' });
    expect(res.status).toBe(400);
    expect(res.body).toContain('CallSid');
  });
});
