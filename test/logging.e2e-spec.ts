import twilio from 'twilio';
import WebSocket from 'ws';
import { beforeEach, describe } from 'vitest';
import { newCallSid } from '../emulator/phone';
import { expect, it } from './support/fixture';
import { LogCapture, type LogRecord } from './support/log-capture';
import { chunks, testAudio, TEST_API_KEY, TEST_PUBLIC_URL } from './support/test-app';

// nestjs-pino builds one logger per process from the first app's settings, so every app of this
// file shares the capture, the level and the secrets.
const logs = new LogCapture();
const AUTH_TOKEN = 'twilio-auth-token-for-log-tests';
const METRICS_TOKEN = 'metrics-token-for-log-tests-0123';
const SECRETS = [TEST_API_KEY, AUTH_TOKEN, METRICS_TOKEN];
const ENV = { LOG_LEVEL: 'debug', TWILIO_AUTH_TOKEN: AUTH_TOKEN, METRICS_TOKEN };

const sign = (url: string, params: Record<string, string>) => twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, params);

/** Fails naming the line (secret masked) if any secret value was ever written. */
function expectNoSecrets(): void {
  expect(logs.records.length).toBeGreaterThan(0);
  for (const secret of SECRETS) {
    const leak = logs
      .text()
      .split('\n')
      .find((line) => line.includes(secret));
    expect(leak?.split(secret).join('<SECRET>'), 'a secret reached the logs').toBeUndefined();
  }
}

describe('structured logs', () => {
  beforeEach(() => logs.clear());

  it("writes one JSON object per line; a call's lines carry its callSid and streamSid; requests are logged, probes and frames are not", async ({
    startApp,
    placeCall,
  }) => {
    const app = await startApp(ENV, [], { logs });
    // Placed as Twilio does, signed with AUTH_TOKEN: webhook (pre-dial), then the media stream.
    const { call, model, callSid: sid } = await placeCall(app);

    // The webhook's request line says which call it was.
    const webhook = await logs.waitFor('POST /twiml', (r) => r.msg.startsWith('POST /twiml 200'));
    expect(webhook).toMatchObject({ level: 'info', callSid: sid, req: { method: 'POST', url: '/twiml' }, res: { statusCode: 200 } });
    expect(typeof webhook.responseTime).toBe('number');
    await logs.waitFor('call started', (r) => r.context === 'Call' && r.msg.includes('started'));

    // 200 caller frames, 20 assistant frames, one bad frame: a handful of lines, not one per frame.
    const linesBefore = logs.records.length;
    await call.sendAudio(testAudio(160 * 200, 1), { paced: false });
    await model.waitForAppendedBytes(160 * 200);
    await model.audioResponse({ chunks: chunks(testAudio(160 * 20, 2), 160) });
    await call.waitFor('mark', (m) => m.mark.name.endsWith(':400'));
    call.sendRaw('not json at all');
    await logs.waitFor('bad frame', (r) => r.msg.includes('dropped an invalid Twilio frame'));

    // Probes and successful scrapes are not logged; a refused scrape is, with its Authorization redacted.
    expect((await fetch(`${app.httpUrl}/health`)).status).toBe(200);
    expect((await fetch(`${app.httpUrl}/health/live`)).status).toBe(200);
    expect((await fetch(`${app.httpUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${app.httpUrl}/metrics`, { headers: { authorization: 'Bearer wrong-token' } })).status).toBe(401);
    const refused = await logs.waitFor('GET /metrics 401', (r) => r.msg.startsWith('GET /metrics 401'));
    expect(refused).toMatchObject({ level: 'warn', req: { headers: { authorization: '[redacted]' } } });

    call.sendStop();
    await call.waitForClose();
    const ended = await logs.waitFor('call ended', (r) => r.context === 'Call' && r.msg.includes('ended'));
    expect(ended).toMatchObject({ level: 'info', callSid: sid, streamSid: call.streamSid });

    const duringCall = logs.records.slice(linesBefore);
    expect(duringCall.length).toBeLessThan(10);
    expect(logs.records.some((r) => /^GET \/health/.test(r.msg) || r.msg.startsWith('GET /metrics 200'))).toBe(false);

    // Every line of the call (its lifecycle and its media stream) carries both ids; every line is well-formed.
    const sessionLines = logs.records.filter((r) => r.context === 'Call' || r.context === 'MediaStream');
    expect(sessionLines.length).toBeGreaterThanOrEqual(3);
    for (const line of sessionLines) expect(line, line.msg).toMatchObject({ callSid: sid, streamSid: call.streamSid });
    expect(logs.malformed).toEqual([]);
    for (const r of logs.records) {
      expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).toContain(r.level);
      expect(r.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(typeof r.msg).toBe('string');
    }
    expectNoSecrets();
  });

  it('never writes a secret when signatures fail, tokens are sent in headers or query strings, or scrapes are refused', async ({ startApp }) => {
    const app = await startApp(ENV, [], { logs });
    const params = { CallSid: newCallSid(), From: '+15551230000' };
    const badSignature = sign(`${TEST_PUBLIC_URL}/elsewhere`, params);

    // A forged webhook carrying every secret we know in its headers and query string.
    const res = await fetch(`${app.httpUrl}/twiml?token=${AUTH_TOKEN}&key=${TEST_API_KEY}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': badSignature,
        authorization: `Bearer ${TEST_API_KEY}`,
        'x-api-key': METRICS_TOKEN,
        cookie: `session=${AUTH_TOKEN}`,
      },
      body: new URLSearchParams(params).toString(),
    });
    expect(res.status).toBe(403);
    const forged = await logs.waitFor('POST /twiml 403', (r) => r.msg.startsWith('POST /twiml'));
    expect(forged.level).toBe('warn');
    expect(forged.req.url).toBe('/twiml?token=[redacted]&key=[redacted]');
    expect(forged.req.headers).toMatchObject({
      'x-twilio-signature': '[redacted]',
      authorization: '[redacted]',
      'x-api-key': '[redacted]',
      cookie: '[redacted]',
    });
    await logs.waitFor('signature guard', (r) => r.context === 'TwilioSignatureGuard');

    // A media stream upgrade with a bad signature.
    const upgrade = new WebSocket(`${app.wsUrl}/ws/call?token=${AUTH_TOKEN}`, {
      headers: { 'x-twilio-signature': badSignature, authorization: `Bearer ${TEST_API_KEY}` },
    });
    await expect(new Promise((resolve, reject) => upgrade.once('open', resolve).once('error', reject))).rejects.toThrow(/403/);
    await logs.waitFor('upgrade rejected', (r) => r.context === 'CallGateway' && r.msg.includes('rejected a media stream upgrade'));

    // Refused scrapes: wrong token, token in the query.
    await fetch(`${app.httpUrl}/metrics?token=${METRICS_TOKEN}`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
    const scrape = await logs.waitFor('GET /metrics 401', (r) => r.msg.startsWith('GET /metrics'));
    expect(scrape.req.url).toBe('/metrics?token=[redacted]');

    expect(logs.text()).not.toContain(badSignature);
    expectNoSecrets();
  });

  it('logs a model that rejects the API key with the call ids, and never the key', async ({ startRealtime, startApp, placeCall }) => {
    const refusing = await startRealtime({ requireApiKey: 'sk-the-key-the-server-wants-0000' });
    const app = await startApp({ ...ENV, OPENAI_REALTIME_URL: refusing.url }, [], { logs });
    const { call, callSid: sid } = await placeCall(app, { realtime: refusing, withModel: false });
    expect((await call.waitForClose()).code).toBe(1011);

    const dialFailed = await logs.waitFor('pre-dial failure', (r) => r.context === 'RealtimeSession' && r.msg.includes('refused'));
    expect(dialFailed).toMatchObject({ level: 'warn', callSid: sid, status: 401 });
    expect(dialFailed.msg).toContain('HTTP 401');
    // The call's own line names the cause and the fix, with both ids.
    const modelFailed = await logs.waitFor('the call gives up on the model', (r: LogRecord) => r.context === 'Call' && r.msg.includes('401'));
    expect(modelFailed).toMatchObject({ level: 'error', callSid: sid, streamSid: call.streamSid });
    expect(modelFailed.msg).toContain('the Realtime API refused the key (401): check OPENAI_API_KEY');
    const ended = await logs.waitFor('call ended', (r) => r.context === 'Call' && r.msg.includes('ended'));
    expect(ended.msg).toContain('model-unavailable');
    expectNoSecrets();
  });
});
