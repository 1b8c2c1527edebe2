import { request } from 'node:http';
import { describe } from 'vitest';
import WebSocket from 'ws';
import { expect, test } from './support/fixture';
import { LogCapture } from './support/log-capture';
import { LogsClient } from './support/logs-client';
import type { TestApp } from './support/test-app';

const TOKEN = 'dash-0123456789-abcdef';
// One pino logger per process: every app of this file writes here, at info level as in production.
const logs = new LogCapture();

/** The HTTP status of a WebSocket upgrade attempt: 101 if it opened, else what the server answered. */
function upgradeStatus(app: TestApp, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${app.wsUrl}${path}`, { headers });
    socket.once('open', () => {
      socket.close();
      resolve({ status: 101, headers: {} });
    });
    socket.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    socket.once('error', reject);
  });
}

/** GET with node:http, which (unlike fetch) lets a test set Host as a browser under DNS rebinding would. */
function getConfig(
  app: TestApp,
  headers: Record<string, string> = {},
  path = '/session-config',
): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request(`${app.httpUrl}${path}`, { headers }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    })
      .on('error', reject)
      .end();
  });
}

/** `app`: the app under test, at info level and logging to `logs`; with DASHBOARD_TOKEN when `dashboardToken` is set. */
const it = test.extend<{ dashboardToken: string; app: TestApp }>({
  dashboardToken: '',
  app: async ({ dashboardToken, startApp }, use) => {
    await use(await startApp({ DASHBOARD_TOKEN: dashboardToken, LOG_LEVEL: 'info' }, [], { logs }));
  },
});

describe('dashboard auth with DASHBOARD_TOKEN set', () => {
  it.override({ dashboardToken: TOKEN });

  it.for(['/ws/logs', '/logs'])('refuses %s without the right token with 401, before the upgrade', async (path, { app }) => {
    const attempts: { path: string; headers: Record<string, string> }[] = [
      { path, headers: {} },
      { path, headers: { authorization: 'Bearer wrong-token-0123456789' } },
      { path, headers: { authorization: `Basic ${TOKEN}` } },
      { path: `${path}?token=wrong-token-0123456789`, headers: {} },
      { path: `${path}?token=${TOKEN.slice(0, -1)}`, headers: {} },
    ];
    for (const attempt of attempts) {
      const result = await upgradeStatus(app, attempt.path, attempt.headers);
      expect(result.status, JSON.stringify(attempt)).toBe(401);
      expect(result.headers['www-authenticate']).toBe('Bearer');
    }
  });

  it('accepts the token as a Bearer header or, for browsers, a token query parameter', async ({ app }) => {
    const byHeader = await LogsClient.connect(app, { headers: { authorization: `Bearer ${TOKEN}` } });
    const byQuery = await LogsClient.connect(app, { path: '/logs', query: { token: TOKEN } });
    for (const client of [byHeader, byQuery]) {
      expect(await client.waitFor('snapshot')).toMatchObject({ v: 1, callSid: null, calls: [] });
      client.close();
    }
  });

  it('guards /session-config the same way (Bearer header only)', async ({ app }) => {
    const none = await getConfig(app);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect((await getConfig(app, { authorization: 'Bearer wrong-token-0123456789' })).status).toBe(401);
    expect((await getConfig(app, {}, `/session-config?token=${TOKEN}`)).status).toBe(401); // no tokens in HTTP URLs
    expect((await getConfig(app, { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    const put = await fetch(`${app.httpUrl}/session-config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"voice":"cedar"}' });
    expect(put.status).toBe(401);
  });

  it('never writes a presented token to the log, right or wrong', async ({ app }) => {
    const wrong = 'wrong-but-secret-9876543210';
    await upgradeStatus(app, `/ws/logs?token=${wrong}`);
    await upgradeStatus(app, '/ws/logs', { authorization: `Bearer ${wrong}` });
    await getConfig(app, { authorization: `Bearer ${wrong}` });
    await getConfig(app, { authorization: `Bearer ${TOKEN}` });
    const client = await LogsClient.connect(app, { query: { token: TOKEN } });
    expect((await client.command({ type: 'config.update', config: { instructions: 'Log this change.' } })).type).toBe('command.ok');
    client.close();
    await logs.waitFor(
      'the refusal',
      (r) => r.context === 'LogsGateway' && /refused a dashboard connection from 127\.0\.0\.1: missing or invalid token/.test(r.msg),
    );
    await logs.waitFor('the audit line', (r) => r.context === 'LogsGateway' && r.msg === 'operator changed instructions for new calls');
    await logs.waitFor('the request line', (r) => /^GET \/session-config 200/.test(r.msg));
    expect(logs.text()).not.toContain(wrong);
    expect(logs.text()).not.toContain(TOKEN);
  });
});

describe('dashboard auth without DASHBOARD_TOKEN (a token generated for the run)', () => {
  it('refuses every connection without the token with 401, direct loopback ones included', async ({ app }) => {
    // Once, loopback without forwarding headers was enough; behind a TCP forwarder or a Host-rewriting proxy that is every request.
    const attempts: Record<string, string>[] = [
      {},
      { origin: app.httpUrl },
      { host: 'localhost' },
      { 'x-forwarded-for': '203.0.113.7' },
      { host: 'evil.example' },
    ];
    for (const headers of attempts) {
      expect((await upgradeStatus(app, '/ws/logs', headers)).status, JSON.stringify(headers)).toBe(401);
      expect((await upgradeStatus(app, '/logs', headers)).status, JSON.stringify(headers)).toBe(401);
      expect((await getConfig(app, headers)).status, JSON.stringify(headers)).toBe(401);
    }
  });

  it('accepts the generated token exactly like a configured one, and never logs it', async ({ app }) => {
    const token = app.config.dashboardToken;
    expect(app.config.dashboardTokenGenerated).toBe(true);
    expect((await upgradeStatus(app, '/ws/logs', { authorization: `Bearer ${token}` })).status).toBe(101);
    expect((await upgradeStatus(app, `/ws/logs?token=${token}`)).status).toBe(101);
    expect((await getConfig(app, { authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await getConfig(app, {}, `/session-config?token=${token}`)).status).toBe(401); // no tokens in HTTP URLs
    await logs.waitFor('the request line', (r) => /^GET \/session-config 200/.test(r.msg));
    expect(logs.text()).not.toContain(token);
  });

  it('serves the page itself to anyone (it holds no data), with a strict content policy', async ({ app }) => {
    for (const path of ['/dashboard', '/dashboard/']) {
      const page = await fetch(`${app.httpUrl}${path}`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(await page.text()).toContain('<script type="module" src="/dashboard/dashboard.js">');
    }
    const script = await fetch(`${app.httpUrl}/dashboard/dashboard.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    await script.body?.cancel();
  });
});
