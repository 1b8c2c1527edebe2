// Issue 10: every mistake a newcomer can make gets one message naming the cause and the fix.
// (The dashboard's side is in dashboard-honest.browser.e2e-spec.ts; simulate's and the demo's in
// tools.e2e-spec.ts; PUT /session-config's in session-config.e2e-spec.ts.)
import twilio from 'twilio';
import { afterEach, describe } from 'vitest';
import { dial } from '../emulator/phone';
import { expect, test } from './support/fixture';
import { runServerToExit, startServerProcess, type ServerProcess } from './support/server-process';
import { TEST_API_KEY, TEST_AUTH_TOKEN, TEST_PUBLIC_URL } from './support/test-app';

const REFUSED_KEY = 'the Realtime API refused the key (401): check OPENAI_API_KEY';

async function postForm(url: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: (await res.json()) as { message: string | string[] } };
}

test('a wrong OPENAI_API_KEY is named on GET / and /health after the first call it breaks', async ({ startApp, startRealtime }) => {
  const openai = await startRealtime({ requireApiKey: 'sk-the-key-openai-knows-0000' });
  const app = await startApp({ OPENAI_REALTIME_URL: openai.url });
  expect(await (await fetch(`${app.httpUrl}/`)).json()).toMatchObject({ status: 'ok', problems: [] });
  const { call } = await dial({ baseUrl: app.httpUrl, publicWebhookUrl: app.config.publicUrl('/twiml'), signatureToken: TEST_AUTH_TOKEN });
  expect((await call.waitForClose()).code).toBe(1011);
  expect(await (await fetch(`${app.httpUrl}/`)).json()).toMatchObject({ status: 'degraded', problems: [REFUSED_KEY] });
  const health = (await (await fetch(`${app.httpUrl}/health`)).json()) as any;
  expect(health).toMatchObject({ status: 'degraded', details: { model: { problem: { kind: 'auth', message: REFUSED_KEY } } } });
});

test('missing configuration is named on GET /', async ({ startApp }) => {
  const app = await startApp({ OPENAI_API_KEY: '', PUBLIC_URL: '' });
  expect(await (await fetch(`${app.httpUrl}/`)).json()).toMatchObject({
    status: 'not configured',
    missingConfig: ['OPENAI_API_KEY', 'PUBLIC_URL'],
    problems: ['set OPENAI_API_KEY and PUBLIC_URL to take calls'],
  });
});

test('a webhook without a CallSid gets 400 saying Twilio always sends one', async ({ startApp }) => {
  const app = await startApp();
  const params = { From: '+15551230000', To: '+15559870000' };
  const signature = twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, `${TEST_PUBLIC_URL}/twiml`, params);
  const res = await postForm(`${app.httpUrl}/twiml`, params, { 'x-twilio-signature': signature });
  expect(res.status).toBe(400);
  expect(res.body.message).toEqual([expect.stringMatching(/^CallSid is required: Twilio sends one with every call; point the number's voice webhook here/)]);
});

test('a webhook signed with another token gets 403 naming TWILIO_AUTH_TOKEN and the webhook URL', async ({ startApp }) => {
  const app = await startApp();
  const params = { CallSid: 'CA0123456789abcdef0123456789abcdef' };
  const signature = twilio.getExpectedTwilioSignature('the-token-of-another-account', `${TEST_PUBLIC_URL}/twiml`, params);
  const res = await postForm(`${app.httpUrl}/twiml`, params, { 'x-twilio-signature': signature });
  expect(res.status).toBe(403);
  expect(res.body.message).toMatch(
    /^Invalid X-Twilio-Signature: TWILIO_AUTH_TOKEN must be the auth token of the Twilio account that owns the number.*PUBLIC_URL \+ \/twiml/,
  );
});

test('a missing dashboard token gets 401 saying where the token comes from', async ({ startApp }) => {
  const app = await startApp();
  const res = await fetch(`${app.httpUrl}/session-config`);
  expect(res.status).toBe(401);
  expect(((await res.json()) as { message: string }).message).toMatch(
    /DASHBOARD_TOKEN, or, when DASHBOARD_TOKEN is not set, the token the server printed to its terminal at start/,
  );
});

describe('start-up', () => {
  let server: ServerProcess | undefined;
  afterEach(() => {
    server?.child.kill('SIGKILL');
    server = undefined;
  });

  test('OPENAI_REALTIME_URL=https://… is refused with "must be ws:// or wss://"', async () => {
    const run = await runServerToExit({ OPENAI_REALTIME_URL: 'https://api.openai.com/v1/realtime' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('OPENAI_REALTIME_URL: must be ws:// or wss://, e.g. wss://api.openai.com/v1/realtime');
  });

  test('an http PUBLIC_URL (what ngrok shows first) and unsigned webhooks are warned about at start and on GET /, naming the fix', async () => {
    server = await startServerProcess({
      NODE_ENV: 'development',
      PUBLIC_URL: 'http://abc.ngrok.app',
      OPENAI_API_KEY: TEST_API_KEY,
      ALLOW_UNSIGNED_TWILIO_REQUESTS: 'true',
    });
    const expected = [
      /UNSAFE SETTING: Twilio signatures are NOT checked \(ALLOW_UNSIGNED_TWILIO_REQUESTS=true\).*set TWILIO_AUTH_TOKEN/,
      /UNSAFE SETTING: PUBLIC_URL is http:\/\/: Twilio refuses the ws:\/\/ stream URL derived from it \(error 31922\); use the https:\/\/ address of your tunnel/,
    ];
    for (const line of expected) await expect.poll(() => server!.stdout()).toMatch(line);
    const status = (await (await fetch(`${server.urls.httpUrl}/`)).json()) as { status: string; problems: string[] };
    expect(status.status).toBe('degraded');
    expect(status.problems).toEqual([expect.stringMatching(/^Twilio signatures are NOT checked/), expect.stringMatching(/^PUBLIC_URL is http:\/\//)]);
  });
});
