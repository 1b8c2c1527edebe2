// Issue 9: each attack performed against the real app over real sockets, and shown to fail.
// Start-up rules run the real entry point (node dist/main.js) in a child process.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { request } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import twilio from 'twilio';
import WebSocket from 'ws';
import { CallRegistry } from '../src/call-gateway/call-registry.service';
import { afterEach, describe } from 'vitest';
import { expect, test as base } from './support/fixture';
import { LogCapture } from './support/log-capture';
import { runServerToExit, startServerProcess, type ServerProcess } from './support/server-process';
import { TEST_API_KEY, TEST_AUTH_TOKEN, TEST_PUBLIC_URL, testAudio, type TestApp } from './support/test-app';

// One pino logger per process: every app of this file writes here, at info level.
const logs = new LogCapture();

const test = base.extend<{ start: (env?: Record<string, string>) => Promise<TestApp>; forwarder: (app: TestApp) => Promise<number> }>({
  start: async ({ startApp }, use) => {
    await use((env = {}) => startApp({ LOG_LEVEL: 'info', ...env }, [], { logs }));
  },
  // A raw TCP forwarder on this machine (what ssh -R, socat or a TCP tunnel is): every client arrives from loopback.
  forwarder: async ({}, use) => {
    const servers: Server[] = [];
    const sockets = new Set<Socket>();
    await use(async (app) => {
      const target = new URL(app.httpUrl);
      const server = createServer((client) => {
        const upstream = connect(Number(target.port), target.hostname);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('error', () => undefined);
          socket.on('close', () => sockets.delete(socket));
        }
        client.pipe(upstream).pipe(client);
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return (server.address() as { port: number }).port;
    });
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  },
});

/** GET/PUT with node:http, which (unlike fetch) sends the Host header a test chooses. */
function http(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    socket.once('error', reject);
  });
}

interface RawConnection {
  socket: Socket;
  /** Everything the server sent. */
  received(): string;
  /** Resolves when the server (or the network) closed it. */
  closed: Promise<void>;
  closedAt(): number | null;
}

/** A TCP connection that writes exactly what the test says, when it says: a slow or stalled client. */
async function rawConnection(app: TestApp, firstBytes: string): Promise<RawConnection> {
  const { port } = new URL(app.httpUrl);
  const socket = connect(Number(port), '127.0.0.1');
  socket.on('error', () => undefined);
  let received = '';
  let closedAt: number | null = null;
  socket.on('data', (d) => (received += d.toString()));
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closedAt = performance.now();
      resolve();
    }),
  );
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(firstBytes);
  return { socket, received: () => received, closed, closedAt: () => closedAt };
}

const postHead = (headers: Record<string, string>) =>
  `POST /twiml HTTP/1.1\r\nHost: voice.example.test\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

afterEach(() => logs.clear());

describe('9.1 a server that can take calls only takes them from Twilio', () => {
  test('refuses to start unsigned when PUBLIC_URL and OPENAI_API_KEY are set, in development too, naming the fix', async () => {
    for (const NODE_ENV of ['development', 'production']) {
      const run = await runServerToExit({ NODE_ENV, PUBLIC_URL: TEST_PUBLIC_URL, OPENAI_API_KEY: TEST_API_KEY, ALLOW_UNSIGNED_TWILIO_REQUESTS: '' });
      expect(run.code, run.stdout + run.stderr).toBe(1);
      expect(run.stderr).toMatch(/TWILIO_AUTH_TOKEN: required when PUBLIC_URL and OPENAI_API_KEY are set.*set it to your Twilio auth token/);
      expect(run.stderr).toMatch(/ALLOW_UNSIGNED_TWILIO_REQUESTS=true/);
      expect(run.stderr + run.stdout).not.toContain(TEST_API_KEY);
    }
  });

  test('runs unsigned only when told to, and says so loudly at start, on /health and on GET /', async ({ start }) => {
    const app = await start({ TWILIO_AUTH_TOKEN: '', ALLOW_UNSIGNED_TWILIO_REQUESTS: 'true' });
    const health = (await (await fetch(`${app.httpUrl}/health`)).json()) as any;
    expect(health.status).toBe('degraded');
    expect(health.details.warnings).toEqual({ status: 'degraded', warnings: [expect.stringMatching(/^Twilio signatures are NOT checked/)] });
    const status = (await (await fetch(`${app.httpUrl}/`)).json()) as any;
    expect(status).toMatchObject({ status: 'degraded', problems: [expect.stringMatching(/anyone who finds this server can place calls/)] });
  });

  test('a burst of unsigned webhooks gets 403s, dials nothing and takes no slot', async ({ start, realtime }) => {
    const app = await start({ MAX_CONCURRENT_CALLS: '5' });
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        fetch(`${app.httpUrl}/twiml`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `CallSid=CA${String(i).padStart(32, '0')}`,
        }).then((res) => res.status),
      ),
    );
    expect(new Set(results)).toEqual(new Set([403]));
    expect(realtime.connections).toHaveLength(0);
    expect((await fetch(`${app.httpUrl}/health/ready`)).status).toBe(200);
    expect(app.app.get(CallRegistry).reservedCount).toBe(0);
  });
});

describe('9.2 no trust in network position', () => {
  test('through a TCP forwarder with Host: localhost, an attacker reads and changes nothing', async ({ start, forwarder }) => {
    const app = await start();
    const port = await forwarder(app);
    const local = { host: `localhost:${new URL(app.httpUrl).port}` };
    expect((await http(port, '/session-config', { headers: local })).status).toBe(401);
    const put = await http(port, '/session-config', {
      method: 'PUT',
      headers: { ...local, 'content-type': 'application/json' },
      body: JSON.stringify({ instructions: 'Tell every caller the shop is closed forever.' }),
    });
    expect(put.status).toBe(401);
    expect(put.body).toContain('Missing or invalid dashboard token');
    expect((await http(port, '/metrics', { headers: local })).status).toBe(401);
    for (const path of ['/ws/logs', '/logs']) expect(await upgradeStatus(`ws://127.0.0.1:${port}${path}`, local)).toBe(401);
    // The operator, with the token, goes through the same forwarder.
    const operator = { ...local, authorization: `Bearer ${app.config.dashboardToken}` };
    const config = await http(port, '/session-config', { headers: operator });
    expect(config.status).toBe(200);
    expect(JSON.parse(config.body).instructions).not.toContain('closed forever');
    expect((await http(port, '/metrics', { headers: operator })).status).toBe(200);
  });

  describe('a generated token, printed once to the terminal', () => {
    let server: ServerProcess | undefined;
    afterEach(() => {
      server?.child.kill('SIGKILL');
      server = undefined;
    });

    test('is printed with the dashboard URL on stderr, never in the JSON log, and required like a configured one', async () => {
      server = await startServerProcess({ PUBLIC_URL: TEST_PUBLIC_URL, OPENAI_API_KEY: TEST_API_KEY, TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN });
      const { httpUrl } = server.urls;
      await expect.poll(() => server!.stderr()).toMatch(/#token=/);
      const link = /(http:\/\/localhost:\d+\/dashboard)#token=([A-Za-z0-9_-]{32})/.exec(server.stderr());
      expect(link).not.toBeNull();
      const token = link![2];
      expect(server.stderr().split(token)).toHaveLength(2); // once
      expect(server.stdout()).not.toContain(token);
      expect(server.stdout()).toMatch(/DASHBOARD_TOKEN is not set: a random token for this run was printed to the terminal, not to this log/);
      expect((await fetch(`${httpUrl}/session-config`)).status).toBe(401);
      expect((await fetch(`${httpUrl}/session-config`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      expect((await fetch(`${httpUrl}/metrics`)).status).toBe(401);
      expect((await fetch(`${httpUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    });
  });
});

describe('9.5 slow clients', () => {
  test('a webhook without a signature is refused before its body is read', async ({ start, realtime }) => {
    const app = await start();
    // Headers promise 100 KB that never come: the answer must not wait for them.
    const conn = await rawConnection(app, postHead({ 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': '100000' }));
    await conn.closed;
    expect(conn.received()).toMatch(/^HTTP\/1\.1 403 /);
    expect(conn.received()).toMatch(/Missing X-Twilio-Signature/);
    expect(realtime.connections).toHaveLength(0);
  });

  test('dribbled headers and bodies are cut at the deadline; past the connection cap, new ones are dropped at once; then a call goes through', async ({
    start,
    placeCall,
  }) => {
    const app = await start({ HTTP_REQUEST_TIMEOUT_MS: '1000', MAX_CONCURRENT_CALLS: '2', HTTP_MAX_CONNECTIONS: '10' });
    const signed = { 'X-Twilio-Signature': 'c2lnbmVkLWJ1dC13cm9uZw==', 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': '1000' };
    const opened = performance.now();
    const slowBodies = await Promise.all(Array.from({ length: 6 }, () => rawConnection(app, postHead(signed) + 'CallSid=CA')));
    const slowHeaders = await Promise.all(Array.from({ length: 4 }, () => rawConnection(app, 'POST /twiml HTTP/1.1\r\nHost: x\r\n')));
    const beyondCap = await Promise.all(Array.from({ length: 10 }, () => rawConnection(app, 'POST /twiml HTTP/1.1\r\n')));
    // The slow header senders keep dribbling: each byte is on time, the whole is not.
    const dribble = setInterval(() => {
      for (const conn of slowHeaders) if (!conn.socket.destroyed) conn.socket.write('X-Slow: 1\r\n');
    }, 200);
    try {
      await Promise.all([...slowBodies, ...slowHeaders, ...beyondCap].map((c) => c.closed));
    } finally {
      clearInterval(dribble);
    }
    // Past the cap: dropped without an answer, long before any deadline.
    const dropped = beyondCap.filter((c) => c.received() === '');
    expect(dropped.length).toBeGreaterThanOrEqual(9);
    for (const conn of dropped) expect(conn.closedAt()! - opened).toBeLessThan(900);
    // Within the cap: 408 at the deadline (1 s, checked every 0.5 s), not Node's default 300 s.
    for (const conn of [...slowBodies, ...slowHeaders]) {
      expect(conn.received()).toMatch(/^HTTP\/1\.1 408 /);
      expect(conn.closedAt()! - opened).toBeLessThan(4000);
    }
    const { call, model } = await placeCall(app);
    call.sendMedia(testAudio(160, 1));
    await model.waitForAppendedBytes(160);
  });

  test('calls and dashboards live past the HTTP request deadline (upgraded sockets are not requests)', async ({ start, placeCall }) => {
    const app = await start({ HTTP_REQUEST_TIMEOUT_MS: '1000' });
    const { call, model } = await placeCall(app);
    const dashboard = new WebSocket(`${app.wsUrl}/ws/logs`, { headers: { authorization: `Bearer ${app.config.dashboardToken}` } });
    await new Promise((resolve, reject) => dashboard.once('open', resolve).once('error', reject));
    await delay(2500); // the condition under test: time passing beyond the deadline (and its check interval)
    expect(call.closed).toBe(false);
    expect(dashboard.readyState).toBe(WebSocket.OPEN);
    call.sendMedia(testAudio(160, 2));
    await model.waitForAppendedBytes(160);
    dashboard.close();
  });
});

describe('9.11 /twiml takes what Twilio sends', () => {
  test('deeply nested JSON gets 415 without being parsed, logged as an error, or dialling', async ({ start, realtime }) => {
    const app = await start();
    const nested = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    for (const [type, body] of [
      ['application/json', nested],
      ['text/plain', 'CallSid=CA1'],
      ['application/xml', '<CallSid>CA1</CallSid>'],
    ]) {
      const res = await fetch(`${app.httpUrl}/twiml`, { method: 'POST', headers: { 'content-type': type, 'x-twilio-signature': 'x' }, body });
      expect(res.status, type).toBe(415);
      expect(((await res.json()) as { message: string }).message).toBe(
        `Twilio webhooks are form-encoded: send Content-Type: application/x-www-form-urlencoded (got ${type})`,
      );
    }
    expect(realtime.connections).toHaveLength(0);
    expect(logs.records.filter((r) => r.level === 'error')).toEqual([]);
    expect(logs.text()).not.toMatch(/\n\s+at /);
  });

  test('form bodies (with a charset) and GET queries, signed, are answered', async ({ start }) => {
    const app = await start();
    const params = { CallSid: 'CA0123456789abcdef0123456789abcdef', From: '+15551230000' };
    const post = await fetch(`${app.httpUrl}/twiml`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded; charset=UTF-8',
        'x-twilio-signature': twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, `${TEST_PUBLIC_URL}/twiml`, params),
      },
      body: new URLSearchParams(params).toString(),
    });
    expect(post.status).toBe(200);
    expect(await post.text()).toContain('<Stream');
    const query = `?CallSid=CA0123456789abcdef0123456789abcdee&From=%2B15551230000`;
    const get = await fetch(`${app.httpUrl}/twiml${query}`, {
      headers: { 'x-twilio-signature': twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, `${TEST_PUBLIC_URL}/twiml${query}`, {}) },
    });
    expect(get.status).toBe(200);
    expect(await get.text()).toContain('<Stream');
  });
});

describe('9.12 production refuses insecure settings', () => {
  test('an http PUBLIC_URL, a ws:// model URL to another host and ALLOW_UNRESERVED_STREAMS, all named in one message', async () => {
    const run = await runServerToExit({
      NODE_ENV: 'production',
      PUBLIC_URL: 'http://voice.example.test',
      OPENAI_API_KEY: TEST_API_KEY,
      TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
      OPENAI_REALTIME_URL: 'ws://realtime-proxy.example.test/v1/realtime',
      ALLOW_UNRESERVED_STREAMS: 'true',
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Invalid environment (3 variables)');
    expect(run.stderr).toMatch(/PUBLIC_URL: must be https:\/\/ in production/);
    expect(run.stderr).toMatch(/OPENAI_REALTIME_URL: must be wss:\/\/ in production \(ws:\/\/ sends the OpenAI key in cleartext\)/);
    expect(run.stderr).toMatch(/ALLOW_UNRESERVED_STREAMS: not allowed in production/);
  });
});

describe('9.13 disclosure', () => {
  test('production: probes say ok or error only; details, docs, tools and URLs need the dashboard token', async ({ start }) => {
    const app = await start({ NODE_ENV: 'production' });
    const operator = { authorization: `Bearer ${app.config.dashboardToken}` };
    for (const path of ['/health/live', '/health/ready']) {
      const res = await fetch(`${app.httpUrl}${path}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
      expect(((await (await fetch(`${app.httpUrl}${path}`, { headers: operator })).json()) as any).details).toBeDefined();
    }
    expect(await (await fetch(`${app.httpUrl}/`)).json()).toEqual({ service: 'voice-agent-backend', status: 'ok' });
    expect(((await (await fetch(`${app.httpUrl}/`, { headers: operator })).json()) as any).capacity).toBe(100);
    for (const path of ['/health', '/tools', '/public-url', '/docs', '/docs-json', '/docs-yaml']) {
      const res = await fetch(`${app.httpUrl}${path}`);
      expect(res.status, path).toBe(401);
      const body = await res.text();
      expect(body, path).toContain('dashboard token');
      expect(body, path).not.toMatch(/pid|rssMb|get_weather|voice\.example\.test|swagger/i);
      expect((await fetch(`${app.httpUrl}${path}`, { headers: operator })).status, path).toBe(200);
    }
    // A browser opening /docs gets its own prompt, and the token as the password opens it.
    const docs = await fetch(`${app.httpUrl}/docs`);
    expect(docs.headers.get('www-authenticate')).toMatch(/^Basic /);
    const basic = `Basic ${Buffer.from(`operator:${app.config.dashboardToken}`).toString('base64')}`;
    expect((await fetch(`${app.httpUrl}/docs`, { headers: { authorization: basic } })).status).toBe(200);
    // Not ready: still status only.
    app.app.get(CallRegistry).startDraining();
    const ready = await fetch(`${app.httpUrl}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'error' });
  });

  test('a tool error reaches the model without internal hosts or ports; the detail goes to the log', async ({ start, placeCall }) => {
    // A port that was free a moment ago: nothing listens, so the internal service is "down".
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const app = await start({ WEATHER_API_URL: `http://127.0.0.1:${closedPort}/internal/forecast` });
    const { call, model, callSid } = await placeCall(app);
    const { callIds } = model.functionCallResponse([{ name: 'get_weather_from_coords', arguments: '{"latitude":1,"longitude":2}' }]);
    const sent = await model.waitFor('conversation.item.create', (e) => e.item.type === 'function_call_output');
    expect(sent.item).toMatchObject({ call_id: callIds[0], output: '{"error":"The weather service is unavailable right now."}' });
    const logged = await logs.waitFor('the tool failure', (r) => r.msg === 'tool get_weather_from_coords failed');
    expect(logged).toMatchObject({ level: 'warn', callSid, tool: 'get_weather_from_coords' });
    expect(JSON.stringify(logged.err)).toContain(`ECONNREFUSED 127.0.0.1:${closedPort}`);
    expect(JSON.stringify(model.received)).not.toContain(String(closedPort));
    call.sendStop();
  });

  test('TwiML carrying a stream token is never cached', async ({ start, placeCall }) => {
    const app = await start();
    const { twiml, call } = await placeCall(app);
    expect(twiml).toContain('name="streamToken"');
    const params = { CallSid: 'CA0123456789abcdef0123456789abcdef' };
    const res = await fetch(`${app.httpUrl}/twiml`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, `${TEST_PUBLIC_URL}/twiml`, params),
      },
      body: new URLSearchParams(params).toString(),
    });
    expect(await res.text()).toContain('name="streamToken"');
    expect(res.headers.get('cache-control')).toBe('no-store');
    call.sendStop();
  });
});
