// The embedded database in its own process: statements and transactions round-trip, a crash of
// that process fails what was pending and is reported once (this process lives on), an idle
// client keeps nothing alive, and close() ends even a process that no longer answers.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedDatabaseLostError, PgliteProcessClient } from './pglite-process-client';

const clients: PgliteProcessClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
});

async function start(): Promise<PgliteProcessClient> {
  const client = await PgliteProcessClient.start(undefined);
  clients.push(client);
  return client;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Handles keeping this process's event loop alive, by type. */
function keepingAlive(type: string): number {
  return process.getActiveResourcesInfo().filter((t) => t === type).length;
}

describe('PgliteProcessClient', () => {
  it('runs statements with parameters and transactions in a process of its own, and close() ends that process', async () => {
    const client = await start();
    const pid = client.pid!;
    expect(pid).not.toBe(process.pid);
    await client.query('create table t (id int primary key, at timestamptz, body bytea)');
    const at = new Date('2026-12-02T10:00:00Z');
    await client.transaction(async (tx) => {
      await tx.query('insert into t values ($1, $2, $3)', [1, at, Buffer.from([1, 2, 3])]);
      await tx.query('insert into t values ($1, $2, $3)', [2, at, null]);
    });
    await expect(client.transaction(async (tx) => tx.query('insert into t values (1, now(), null)'))).rejects.toMatchObject({ code: '23505' });
    const { rows } = await client.query('select id, body from t order by id');
    expect(rows).toEqual([
      { id: 1, body: new Uint8Array([1, 2, 3]) },
      { id: 2, body: null },
    ]);
    await client.close();
    expect(alive(pid)).toBe(false);
    await expect(client.query('select 1')).rejects.toThrow(/closed|ended/);
  });

  it.runIf(process.platform === 'linux')(
    "gives the database process none of the server's secrets: its environment holds only PATH, HOME, TMPDIR, TZ and the locale",
    async () => {
      const saved = { OPENAI_API_KEY: process.env.OPENAI_API_KEY, TWILIO_AUTH_TOKEN: process.env.TWILIO_AUTH_TOKEN };
      process.env.OPENAI_API_KEY = 'sk-secret-for-this-test-0123456789';
      process.env.TWILIO_AUTH_TOKEN = 'twilio-secret-for-this-test';
      try {
        const client = await start();
        const environ = readFileSync(`/proc/${client.pid}/environ`, 'utf8').split('\0').filter(Boolean);
        const names = environ.map((entry) => entry.slice(0, entry.indexOf('=')));
        expect(environ.join('\n')).not.toMatch(/secret-for-this-test/);
        for (const name of names)
          expect(['PATH', 'HOME', 'TMPDIR', 'TZ', 'LANG', 'LC_ALL', 'NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE']).toContain(name);
      } finally {
        for (const [name, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
      }
    },
  );

  it('a crash of the database process fails the pending statement, is reported once, and leaves this process running', async () => {
    const client = await start();
    const lost: EmbeddedDatabaseLostError[] = [];
    client.onLost((err) => lost.push(err));
    // A statement that is still running when the process dies.
    const pending = client.query('select pg_sleep(5)');
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.kill(client.pid!, 'SIGSEGV');
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmbeddedDatabaseLostError);
    expect(err).toMatchObject({ signal: 'SIGSEGV', message: expect.stringContaining('SIGSEGV') });
    await expect(client.query('select 1')).rejects.toBeInstanceOf(EmbeddedDatabaseLostError);
    await client.close();
    expect(lost).toHaveLength(1);
    expect(lost[0].signal).toBe('SIGSEGV');
  });

  it('keeps this process alive only while a statement is on its way', async () => {
    const client = await start();
    expect(keepingAlive('ProcessWrap')).toBe(0);
    const running = client.query('select pg_sleep(0.2)');
    // Statements take their turn on the session's queue: sent on a later tick.
    await new Promise((resolve) => setImmediate(resolve));
    expect(keepingAlive('ProcessWrap')).toBe(1);
    await running;
    expect(keepingAlive('ProcessWrap')).toBe(0);
  });

  it('close() kills a database process that no longer answers', async () => {
    const client = await start();
    const pid = client.pid!;
    process.kill(pid, 'SIGSTOP');
    const lost: unknown[] = [];
    client.onLost((err) => lost.push(err));
    const began = Date.now();
    await client.close();
    expect(Date.now() - began).toBeLessThan(10_000);
    expect(alive(pid)).toBe(false);
    // Asked to close: not a crash.
    expect(lost).toEqual([]);
  });
});
