// The post-call webhook end to end: a real HTTP receiver on loopback, the real app (embedded
// database in a temporary DATA_DIR), calls through the emulators.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, vi } from 'vitest';
import { verifyWebhook } from '../src/records/webhook-signature';
import { expect, test } from './support/fixture';
import { scrape, valueOf } from './support/metrics-client';
import { createTestSchema } from './support/records-db';
import { operatorHeaders, startTestApp, TEST_AUTH_TOKEN, type TestApp } from './support/test-app';

const SECRET = 'post-call-secret-0123456789';

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/** A webhook receiver that answers with the statuses it is given, in turn (then 200), and counts overlapping requests. */
class Receiver {
  readonly deliveries: Delivery[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** Requests being answered now, by idempotency key, and the most ever for one key. */
  private readonly inFlightByKey = new Map<string, number>();
  maxInFlightPerKey = 0;
  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly statuses: number[],
    private readonly delayMs: number,
  ) {}

  static async start(statuses: number[] = [], delayMs = 0): Promise<Receiver> {
    const ref: { receiver?: Receiver } = {};
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const r = ref.receiver!;
        const key = String(req.headers['idempotency-key']);
        const sameKey = (r.inFlightByKey.get(key) ?? 0) + 1;
        r.inFlightByKey.set(key, sameKey);
        r.maxInFlightPerKey = Math.max(r.maxInFlightPerKey, sameKey);
        r.inFlight++;
        r.maxInFlight = Math.max(r.maxInFlight, r.inFlight);
        setTimeout(() => {
          r.inFlight--;
          r.inFlightByKey.set(key, r.inFlightByKey.get(key)! - 1);
          const status = r.statuses.shift() ?? 200;
          r.deliveries.push({ headers: req.headers, body, status });
          res.writeHead(status).end();
        }, r.delayMs);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ref.receiver = new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/call-ended`, statuses, delayMs);
    return ref.receiver;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const dirs: string[] = [];
const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'webhook-e2e-'));
  dirs.push(dir);
  return dir;
}

function webhookEnv(url: string, dir: string): Record<string, string> {
  return { RECORDS: 'on', DATA_DIR: dir, POST_CALL_WEBHOOK_URL: url, POST_CALL_WEBHOOK_SECRET: SECRET, POST_CALL_WEBHOOK_RETRY_BASE_MS: '200' };
}

test('delivers each ended call once, signed, with an idempotency key; retried after a failure and never two attempts at once', async ({
  startApp,
  placeCall,
}) => {
  // The first attempt fails (and answers slowly), the second is accepted.
  const receiver = await Receiver.start([500], 300);
  receivers.push(receiver);
  const app = await startApp(webhookEnv(receiver.url, dataDir()));
  const { call, model, callSid } = await placeCall(app);
  model.userTranscript(model.speechStarted(), 'Goodbye');
  // The transcript travels on the model's socket, the hang-up on Twilio's: let it arrive first.
  await vi.waitFor(
    async () => {
      const res = await fetch(`${app.httpUrl}/calls/${callSid}`, { headers: operatorHeaders(app) });
      expect(((await res.json()) as { transcript: unknown[] }).transcript).toHaveLength(1);
    },
    { timeout: 5000, interval: 50 },
  );
  call.sendStop();

  await vi.waitFor(() => expect(receiver.deliveries.map((d) => d.status)).toEqual([500, 200]), { timeout: 8000, interval: 50 });
  const [failed, delivered] = receiver.deliveries;
  for (const d of receiver.deliveries) {
    expect(d.headers['content-type']).toBe('application/json');
    expect(verifyWebhook(SECRET, d.body, d.headers['x-signature'] as string)).toBe(true);
    expect(verifyWebhook('some-other-secret-000000', d.body, d.headers['x-signature'] as string)).toBe(false);
  }
  expect(failed.headers['idempotency-key']).toBe(`call-ended:${callSid}`);
  expect(delivered.headers['idempotency-key']).toBe(failed.headers['idempotency-key']);
  expect([failed.headers['x-delivery-attempt'], delivered.headers['x-delivery-attempt']]).toEqual(['1', '2']);
  const body = JSON.parse(delivered.body);
  expect(body).toMatchObject({ type: 'call.ended', call: { callSid, endReason: 'caller-hung-up', transcript: [{ role: 'user', text: 'Goodbye' }] } });
  expect(body.call).toEqual(await (await fetch(`${app.httpUrl}/calls/${callSid}`, { headers: operatorHeaders(app) })).json());
  // The signature covers the exact bytes: a changed body does not verify.
  expect(verifyWebhook(SECRET, delivered.body.replace('Goodbye', 'Goodbye!'), delivered.headers['x-signature'] as string)).toBe(false);
  expect(receiver.maxInFlight).toBe(1);

  // Failures are counted and were visible; nothing more is sent for this call.
  const metrics = await scrape(app);
  expect(valueOf(metrics, 'voice_agent_post_call_webhooks_total', { outcome: 'failed' })).toBe(1);
  expect(valueOf(metrics, 'voice_agent_post_call_webhooks_total', { outcome: 'delivered' })).toBe(1);
  const health: any = await (await fetch(`${app.httpUrl}/health`, { headers: operatorHeaders(app) })).json();
  expect(health.details.postCallWebhook).toMatchObject({
    status: 'up',
    delivered: 1,
    failedAttempts: 1,
    consecutiveFailures: 0,
    outbox: { pending: 0, delivered: 1 },
  });
  await new Promise((resolve) => setTimeout(resolve, 800));
  expect(receiver.deliveries).toHaveLength(2);
});

test('a delivery still failing when the server stops is sent by the next server on the same storage, once', async ({ realtime, placeCall }) => {
  const dir = dataDir();
  const down = await Receiver.start([503, 503, 503, 503, 503, 503, 503, 503, 503, 503]);
  receivers.push(down);
  const env = { ...webhookEnv(down.url, dir), OPENAI_REALTIME_URL: realtime.url, TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN, POST_CALL_WEBHOOK_RETRY_BASE_MS: '100' };
  let first: TestApp | undefined = await startTestApp(env);
  let second: TestApp | undefined;
  try {
    const { call, callSid } = await placeCall(first);
    call.sendStop();
    await vi.waitFor(() => expect(down.deliveries.length).toBeGreaterThanOrEqual(1), { timeout: 8000, interval: 20 });
    const res = await fetch(`${first.httpUrl}/health`, { headers: operatorHeaders(first) });
    expect(res.status).toBe(200); // degraded, not down
    const health: any = await res.json();
    expect(health.status).toBe('degraded');
    expect(health.details.postCallWebhook.status).toBe('degraded');
    expect(health.details.postCallWebhook.lastError).toMatch(/HTTP 503/);
    await first.close();
    first = undefined;
    const triedBefore = down.deliveries.length;

    // The receiver is back (at the same address) by the time the next server starts.
    down.deliveries.length = 0;
    down.statuses.length = 0;
    second = await startTestApp(env);
    await vi.waitFor(() => expect(down.deliveries.map((d) => d.status)).toEqual([200]), { timeout: 8000, interval: 20 });
    const delivered = down.deliveries[0];
    expect(JSON.parse(delivered.body).call.callSid).toBe(callSid);
    expect(Number(delivered.headers['x-delivery-attempt'])).toBe(triedBefore + 1);
    expect(verifyWebhook(SECRET, delivered.body, delivered.headers['x-signature'] as string)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(down.deliveries).toHaveLength(1);
  } finally {
    await first?.close();
    await second?.close();
  }
});

// PostgreSQL only: instances share a database there (the embedded one is one process's).
test.skipIf(!process.env.DATABASE_URL)(
  'two servers on one PostgreSQL share a backlog for a slow receiver: each delivery is received once, never two requests for one at a time',
  async ({ startApp, placeCall }) => {
    // Each answer takes 1 s, inside the 1.5 s timeout: a lease (2 × 1.5 + 5 = 8 s) covers one attempt
    // with room to spare, but not the 10 s one sender needs to send 10 deliveries in a row. Leased all
    // at once, the last ones would run out of lease while queued, and the other server send them too.
    const CALLS = 10;
    const receiver = await Receiver.start([], 1000);
    receivers.push(receiver);
    const schema = await createTestSchema();
    const env = {
      RECORDS: 'on',
      DATABASE_URL: schema.url,
      POST_CALL_WEBHOOK_URL: receiver.url,
      POST_CALL_WEBHOOK_SECRET: SECRET,
      POST_CALL_WEBHOOK_RETRY_BASE_MS: '200',
      POST_CALL_WEBHOOK_TIMEOUT_MS: '1500',
    };
    const servers: TestApp[] = [];
    try {
      servers.push(await startApp(env), await startApp(env));
      const calls = [];
      for (let i = 0; i < CALLS; i++) calls.push(await placeCall(servers[0]));
      // All end at once: their records, and so their deliveries, reach the outbox in one batch.
      for (const { call } of calls) call.sendStop();
      const keys = calls.map(({ callSid }) => `call-ended:${callSid}`).sort();

      const received = () => receiver.deliveries.map((d) => String(d.headers['idempotency-key'])).sort();
      await vi.waitFor(() => expect([...new Set(received())]).toEqual(keys), { timeout: 30_000, interval: 50 });
      // An attempt still in flight somewhere would land within one more answer's time.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(receiver.maxInFlightPerKey).toBe(1);
      expect(received()).toEqual(keys);
      expect(receiver.deliveries.every((d) => d.status === 200 && d.headers['x-delivery-attempt'] === '1')).toBe(true);
      expect(receiver.maxInFlight).toBe(2); // both servers were sending, one delivery each at a time
      let delivered = 0;
      for (const server of servers) delivered += valueOf(await scrape(server), 'voice_agent_post_call_webhooks_total', { outcome: 'delivered' });
      expect(delivered).toBe(CALLS);
    } finally {
      for (const server of servers) await server.close();
      await schema.drop();
    }
  },
  60_000,
);

test('the webhook needs its secret: the server refuses to start with a URL and no secret', async ({ startApp }) => {
  await expect(startApp({ POST_CALL_WEBHOOK_URL: 'http://127.0.0.1:9/hook' })).rejects.toThrow(/POST_CALL_WEBHOOK_SECRET: required/);
});
