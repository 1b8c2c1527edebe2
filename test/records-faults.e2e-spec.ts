// A database that is down or stalls changes nothing for the caller: the call goes on and ends as
// usual, the writes are counted as failed, /health says degraded (not down). Real sockets only:
// the database is a TCP server on loopback that never answers or refuses, or a proxy in front of
// the machine's PostgreSQL that stalls or drops mid-call (when DATABASE_URL is set), or the embedded
// database's own process crashing (SIGSEGV) mid-call.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, vi } from 'vitest';
import { expect, test, type PlacedCall } from './support/fixture';
import { scrape, valueOf } from './support/metrics-client';
import { createTestSchema } from './support/records-db';
import { chunks, markOf, operatorHeaders, testAudio, type TestApp } from './support/test-app';

/** A TCP proxy to `target` that can stop forwarding (stall) or cut every connection and refuse new ones (down). */
class DatabaseProxy {
  private readonly sockets = new Set<Socket>();
  mode: 'pass' | 'stall' | 'down' = 'pass';
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number } | null): Promise<DatabaseProxy> {
    const ref: { proxy?: DatabaseProxy } = {};
    const server = createServer((client) => {
      const p = ref.proxy!;
      if (p.mode === 'down') return void client.destroy();
      p.sockets.add(client);
      client.on('close', () => p.sockets.delete(client));
      client.on('error', () => undefined);
      // No target: a server that accepts and never says a word (a stalled database).
      if (!target) return;
      const upstream = new Socket();
      upstream.connect(target.port, target.host);
      p.sockets.add(upstream);
      upstream.on('close', () => p.sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.on('data', (d) => p.mode === 'pass' && upstream.write(d));
      upstream.on('data', (d) => p.mode === 'pass' && client.write(d));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ref.proxy = new DatabaseProxy(server, (server.address() as AddressInfo).port);
    return ref.proxy;
  }

  /** Stop answering: bytes are swallowed, connections stay open. */
  stall(): void {
    this.mode = 'stall';
  }

  /** The database goes away: every connection is cut, new ones are refused. */
  down(): void {
    this.mode = 'down';
    for (const socket of this.sockets) socket.destroy();
  }

  close(): Promise<void> {
    this.down();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const proxies: DatabaseProxy[] = [];
const schemas: { drop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
  for (const s of schemas.splice(0)) await s.drop();
});

/** Audio both ways, in order, byte for byte, then a normal hang-up: what the caller gets is untouched. */
async function talkAndHangUp({ call, model }: PlacedCall, seed: number): Promise<void> {
  const spoken = testAudio(4000, seed);
  await call.sendAudio(spoken, { paced: true });
  await model.waitForAppendedBytes(spoken.length);
  expect(model.appendedAudio().equals(spoken)).toBe(true);
  const heardBefore = call.receivedAudio().length;
  const answer = chunks(testAudio(4800, seed + 1), 960);
  const { itemId } = await model.audioResponse({ chunks: answer, transcript: 'All good on the line.' });
  await call.waitFor('mark', (m) => markOf(m) === `${itemId}:600`);
  expect(call.receivedAudio().subarray(heardBefore).equals(Buffer.concat(answer))).toBe(true);
  expect(call.protocolErrors).toEqual([]);
  call.sendStop();
  const closed = await call.waitForClose();
  expect(closed.code).toBe(1000);
}

async function expectWritesFailedAndDegraded(app: TestApp): Promise<void> {
  await vi.waitFor(
    async () => {
      const metrics = await scrape(app);
      expect(valueOf(metrics, 'voice_agent_record_writes_total', { outcome: 'failed' })).toBeGreaterThan(0);
    },
    { timeout: 10_000, interval: 100 },
  );
  const res = await fetch(`${app.httpUrl}/health`, { headers: operatorHeaders(app) });
  expect(res.status).toBe(200);
  const health: any = await res.json();
  expect(health.details.database).toMatchObject({ status: 'degraded' });
  expect(health.details.database.failed).toBeGreaterThan(0);
  expect(health.details.calls).toMatchObject({ status: 'up', active: 0 });
}

const FAST_FAILURE = { RECORDS: 'on', RECORDS_WRITE_TIMEOUT_MS: '300', RECORDS_FLUSH_MS: '20' };

describe('a database that never answers or is not there', () => {
  test.for(['stalls', 'is down'] as const)('a call goes on as usual when the database %s from the start', async (how, { startApp, placeCall }) => {
    const proxy = await DatabaseProxy.start(null);
    proxies.push(proxy);
    if (how === 'is down') proxy.down();
    const app = await startApp({ ...FAST_FAILURE, DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/test` });
    const placed = await placeCall(app);
    await talkAndHangUp(placed, 10);
    await expectWritesFailedAndDegraded(app);
    const calls = await fetch(`${app.httpUrl}/calls`, { headers: operatorHeaders(app) });
    expect(calls.status).toBe(503);
    // What is wrong and where to look.
    expect(((await calls.json()) as { message: string }).message).toMatch(/cannot be reached .*GET \/health says why/);
  });
});

describe.runIf(process.env.DATABASE_URL)('PostgreSQL that fails mid-call', () => {
  test.for(['stalls', 'goes down'] as const)('the caller notices nothing when the database %s during the call', async (how, { startApp, placeCall }) => {
    const target = new URL(process.env.DATABASE_URL!);
    const proxy = await DatabaseProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    proxies.push(proxy);
    const schema = await createTestSchema();
    schemas.push(schema);
    const url = new URL(schema.url);
    url.host = `127.0.0.1:${proxy.port}`;
    const app = await startApp({ ...FAST_FAILURE, DATABASE_URL: url.toString() });
    const placed = await placeCall(app);
    // Recorded while the database works: the call is listed as live.
    await vi.waitFor(
      async () => {
        const res = await fetch(`${app.httpUrl}/calls/${placed.callSid}`, { headers: operatorHeaders(app) });
        expect(res.status).toBe(200);
      },
      { timeout: 5000, interval: 50 },
    );
    if (how === 'stalls') proxy.stall();
    else proxy.down();
    await talkAndHangUp(placed, 20);
    await expectWritesFailedAndDegraded(app);
  });
});

/** This process's children running the embedded database (the app runs in the test's process). */
function embeddedDatabasePids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command name (which may hold spaces): state, then the parent's pid.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('PGlite')) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe.runIf(process.platform === 'linux')('the embedded database crashes', () => {
  test('a crash of the database process mid-call: the call goes on, the database is reopened, and both calls are recorded in full', async ({
    startApp,
    placeCall,
  }) => {
    const dir = mkdtempSync(join(tmpdir(), 'records-crash-'));
    try {
      const app = await startApp({ RECORDS: 'on', DATA_DIR: dir, RECORDS_FLUSH_MS: '20' });
      const [pid] = embeddedDatabasePids();
      expect(pid).toBeGreaterThan(0);
      const first = await placeCall(app);
      await vi.waitFor(async () => expect((await fetch(`${app.httpUrl}/calls/${first.callSid}`, { headers: operatorHeaders(app) })).status).toBe(200), {
        timeout: 5000,
        interval: 50,
      });

      // What a fault in V8's WebAssembly engine does to the database's process (nodejs/node#64500).
      process.kill(pid, 'SIGSEGV');
      await talkAndHangUp(first, 30);
      const second = await placeCall(app);
      await talkAndHangUp(second, 40);

      // Another process has the same data: the first call's row from before the crash is still
      // there, and what both calls did after it was written, not lost.
      const after = embeddedDatabasePids();
      expect(after).toHaveLength(1);
      expect(after[0]).not.toBe(pid);
      for (const { callSid } of [first, second]) {
        await vi.waitFor(
          async () => {
            const res = await fetch(`${app.httpUrl}/calls/${callSid}`, { headers: operatorHeaders(app) });
            expect(res.status).toBe(200);
            const record: any = await res.json();
            expect(record).toMatchObject({ endedAt: expect.any(String), endReason: 'caller-hung-up' });
            expect(record.transcript.map((t: { text: string }) => t.text)).toContain('All good on the line.');
          },
          { timeout: 15_000, interval: 100 },
        );
      }
      const metrics = await scrape(app);
      expect(valueOf(metrics, 'voice_agent_record_writes_total', { outcome: 'failed' }) ?? 0).toBe(0);
      expect(valueOf(metrics, 'voice_agent_record_writes_total', { outcome: 'dropped' }) ?? 0).toBe(0);
      const health: any = await (await fetch(`${app.httpUrl}/health`, { headers: operatorHeaders(app) })).json();
      expect(health.details.database).toMatchObject({ status: 'up', state: 'open' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
