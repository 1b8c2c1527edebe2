import { describe } from 'vitest';
import { newCallSid } from '../emulator/phone';
import { TwilioCallSimulator } from '../emulator/twilio-call-simulator';
import { type CallFixtures, expect, it } from './support/fixture';
import { markOf, postTwiml, streamHeaders, TEST_API_KEY, type TestApp, testAudio, twimlParameters } from './support/test-app';

describe('hostile input', () => {
  /** After each attack, a normal call must still work end to end. */
  async function normalCallWorks(placeCall: CallFixtures['placeCall'], app: TestApp, seed: number) {
    const { call, model } = await placeCall(app);
    const audio = testAudio(1600, seed);
    await call.sendAudio(audio, { paced: false });
    await model.waitForAppendedBytes(audio.length);
    const { itemId } = await model.audioResponse({ chunks: [testAudio(800, seed + 100)] });
    await call.waitFor('mark', (m) => markOf(m) === `${itemId}:100`);
    call.sendStop();
    await model.waitForClose();
  }

  describe('media streams need a reservation from /twiml', () => {
    type Params = Record<string, string>;
    it.for<[string, (params: Params, other: Params) => Params]>([
      ['no token at all', () => ({})],
      ['a wrong token', (p) => ({ ...p, streamToken: 'A'.repeat(24) })],
      ['a token of another call', (p, other) => ({ ...other, callSid: p.callSid })],
    ])('refuses a stream with %s (1008) and spends nothing', async ([, tamper], { realtime: fake, startApp, placeCall }) => {
      const app = await startApp();
      const sid = newCallSid();
      const params = twimlParameters((await postTwiml(app, { CallSid: sid })).body);
      const other = twimlParameters((await postTwiml(app, { CallSid: newCallSid() })).body);
      await fake.waitForConnection(1);
      const call = await TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, {
        callSid: sid,
        customParameters: tamper(params, other),
        headers: streamHeaders(app),
      });
      expect((await call.waitForClose()).code).toBe(1008);
      expect(fake.connections).toHaveLength(2); // only the two pre-dials: the stream dialled nothing
      await normalCallWorks(placeCall, app, 2);
    });

    it('accepts a token once only', async ({ realtime: fake, startApp, placeCall }) => {
      const app = await startApp({ ALLOW_UNRESERVED_STREAMS: 'false' });
      const sid = newCallSid();
      const params = twimlParameters((await postTwiml(app, { CallSid: sid })).body);
      const first = await TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, { callSid: sid, customParameters: params, headers: streamHeaders(app) });
      const model = await fake.waitForConnection(0);
      first.sendMedia(testAudio(160, 1));
      await model.waitForAppendedBytes(160);
      first.sendStop();
      await first.waitForClose();
      const replay = await TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, { callSid: sid, customParameters: params, headers: streamHeaders(app) });
      expect((await replay.waitForClose()).code).toBe(1008);
      expect(fake.connections).toHaveLength(1);
      await normalCallWorks(placeCall, app, 1);
    });

    it('refuses a token after its reservation expired', async ({ realtime: fake, startApp, placeCall }) => {
      const app = await startApp({ PREDIAL_TIMEOUT_MS: '1000' });
      const sid = newCallSid();
      const params = twimlParameters((await postTwiml(app, { CallSid: sid })).body);
      await (await fake.waitForConnection(0)).waitForClose(3000); // the reservation lapsed
      const late = await TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, { callSid: sid, customParameters: params, headers: streamHeaders(app) });
      expect((await late.waitForClose()).code).toBe(1008);
      expect(fake.connections).toHaveLength(1);
      await normalCallWorks(placeCall, app, 1);
    });
  });

  describe('HTTP', () => {
    it('sets security headers and no x-powered-by', async ({ startApp }) => {
      const app = await startApp();
      const res = await fetch(`${app.httpUrl}/`);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('x-powered-by')).toBeNull();
    });

    it('allows cross-origin requests only from CORS_ORIGINS', async ({ startApp }) => {
      let app = await startApp({ CORS_ORIGINS: 'https://ops.example.com' });
      const allowed = await fetch(`${app.httpUrl}/`, { headers: { origin: 'https://ops.example.com' } });
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://ops.example.com');
      const denied = await fetch(`${app.httpUrl}/`, { headers: { origin: 'https://evil.example.com' } });
      expect(denied.headers.get('access-control-allow-origin')).toBeNull();
      await app.close();
      app = await startApp();
      const none = await fetch(`${app.httpUrl}/`, { headers: { origin: 'https://ops.example.com' } });
      expect(none.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('refuses oversized bodies with 413 and malformed ones with 400, without stack traces or secrets', async ({ realtime: fake, startApp, placeCall }) => {
      let app = await startApp({ TWILIO_AUTH_TOKEN: 'twilio-secret-token-123' });
      // A signature header (wrong, checked after parsing) gets the body read at all; without one it is refused unread (security.e2e-spec.ts).
      const big = await fetch(`${app.httpUrl}/twiml`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'bm90LWEtc2lnbmF0dXJl' },
        body: `CallSid=CA1&Junk=${'x'.repeat(100_000)}`,
      });
      expect(big.status).toBe(413);
      // /twiml never parses JSON (415, security.e2e-spec.ts): malformed JSON goes where JSON is taken.
      const bad = await fetch(`${app.httpUrl}/session-config`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${app.config.dashboardToken}` },
        body: '{"voice":',
      });
      expect(bad.status).toBe(400);
      for (const res of [big, bad]) {
        const text = await res.text();
        expect(text).not.toMatch(/\n\s+at /);
        expect(text).not.toContain('twilio-secret-token-123');
        expect(text).not.toContain(TEST_API_KEY);
      }
      expect(fake.connections).toHaveLength(0);
      await app.close();
      app = await startApp();
      await normalCallWorks(placeCall, app, 0);
    });
  });

  it('survives a burst of garbage on every socket path and still takes calls', async ({ startApp, placeCall }) => {
    const app = await startApp();
    const { default: WebSocket } = await import('ws');
    for (const path of ['/ws/call', '/call', '/ws/logs', '/logs']) {
      // The media stream paths are signed as Twilio signs them, so the garbage reaches the parser.
      // The dashboard paths take the token: what an operator's broken client could send.
      const headers = path.endsWith('/call') ? streamHeaders(app, path) : { authorization: `Bearer ${app.config.dashboardToken}` };
      const ws = new WebSocket(`${app.wsUrl}${path}`, { headers });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      for (let i = 0; i < 200; i++) ws.send(i % 2 ? '{"event":"start","start":null}' : Buffer.from([0xff, 0x00, i]));
      ws.close();
    }
    // Unknown WebSocket paths are refused without taking the server down.
    const stray = new WebSocket(`${app.wsUrl}/ws/unknown`);
    await new Promise((resolve) => stray.once('error', resolve));
    await normalCallWorks(placeCall, app, 0);
  });
});
