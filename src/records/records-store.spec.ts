// The records store's lifecycle around a crashing embedded database: a start that crashes is tried
// again at once (a few times, then every REOPEN_DELAY_MS), and a database lost while open is
// reopened at once while writes wait for it instead of failing.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadAppConfig } from '../config/app-config';
import { EmbeddedDatabaseLostError } from './pglite-process-client';
import { RecordsDatabase, type RecordsDb } from './records-database';
import { RecordsStore } from './records-store.service';

/** A stand-in for an open database: its own `db` token, a close that is counted, and a way to lose it. */
function fakeDatabase(name: string): { database: RecordsDatabase; lose(): void; closed: () => boolean } {
  let lost: ((err: EmbeddedDatabaseLostError) => void) | undefined;
  let closed = false;
  const database = {
    db: { name } as unknown as RecordsDb,
    kind: 'pglite',
    onLost: (listener: (err: EmbeddedDatabaseLostError) => void) => (lost = listener),
    close: async () => void (closed = true),
  } as unknown as RecordsDatabase;
  return { database, lose: () => lost?.(new EmbeddedDatabaseLostError(null, 'SIGSEGV')), closed: () => closed };
}

const crash = () => new EmbeddedDatabaseLostError(null, 'SIGSEGV');

function store(): RecordsStore {
  return new RecordsStore(loadAppConfig({ NODE_ENV: 'test', OPENAI_API_KEY: 'sk-test-0123456789', RECORDS: 'on', DATA_DIR: 'memory://' }));
}

/** A store whose first database is open, and whose next opening finishes when the test calls `openSecond`. */
async function openThenReopenOnCue() {
  const first = fakeDatabase('first');
  const second = fakeDatabase('second');
  let finish!: (database: RecordsDatabase) => void;
  const open = vi
    .spyOn(RecordsDatabase, 'open')
    .mockResolvedValueOnce(first.database)
    .mockImplementationOnce(() => new Promise((resolve) => (finish = resolve)));
  const s = store();
  await s.started;
  return { s, first, second, open, openSecond: () => finish(second.database) };
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('RecordsStore and a crashing embedded database', () => {
  it('a start that crashes is tried again at once, and the store opens', async () => {
    const first = fakeDatabase('first');
    const open = vi.spyOn(RecordsDatabase, 'open').mockRejectedValueOnce(crash()).mockRejectedValueOnce(crash()).mockResolvedValueOnce(first.database);
    const s = store();
    await s.started;
    expect(open).toHaveBeenCalledTimes(3);
    expect(s.state).toBe('open');
    expect(s.db).toBe(first.database.db);
  });

  it('after three crashed starts in a row it waits 5 s before the next attempt', async () => {
    vi.useFakeTimers();
    const first = fakeDatabase('first');
    const open = vi.spyOn(RecordsDatabase, 'open').mockRejectedValue(crash());
    const s = store();
    await s.started;
    expect(open).toHaveBeenCalledTimes(3);
    expect(s.state).toBe('unavailable');
    expect(s.lastError).toMatch(/SIGSEGV/);
    open.mockResolvedValueOnce(first.database);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(open).toHaveBeenCalledTimes(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(open).toHaveBeenCalledTimes(4);
    expect(s.state).toBe('open');
  });

  it('a database lost while open is reopened at once; a write meanwhile waits for the new one', async () => {
    const { s, first, second, open, openSecond } = await openThenReopenOnCue();
    expect(await s.ready()).toBe(first.database.db);

    first.lose();
    expect(s.state).toBe('opening');
    expect(open).toHaveBeenCalledTimes(2);
    expect(() => s.db).toThrow('the records database is opening: try again in a few seconds');
    const waiting = s.ready();
    openSecond();
    expect(await waiting).toBe(second.database.db);
    expect(s.state).toBe('open');

    // The old database's late news changes nothing.
    first.lose();
    expect(s.state).toBe('open');
    expect(open).toHaveBeenCalledTimes(2);
    await s.close();
    expect(second.closed()).toBe(true);
  });

  it('a database lost before the store listened (between opening and taking it) is reopened all the same', async () => {
    const first = fakeDatabase('first');
    const second = fakeDatabase('second');
    // The loss is reported the moment the store starts listening, as RecordsDatabase does for one that came first.
    const lostEarly = {
      ...first.database,
      onLost: (listener: (err: EmbeddedDatabaseLostError) => void) => listener(crash()),
    } as unknown as RecordsDatabase;
    const open = vi.spyOn(RecordsDatabase, 'open').mockResolvedValueOnce(lostEarly).mockResolvedValueOnce(second.database);
    const s = store();
    await s.started;
    expect(await s.ready()).toBe(second.database.db);
    expect(open).toHaveBeenCalledTimes(2);
    expect(s.state).toBe('open');
  });

  it('a store closed while reopening closes the database that opens late, and writes fail', async () => {
    const { s, first, second, openSecond } = await openThenReopenOnCue();
    first.lose();
    const waiting = s.ready();
    await s.close();
    openSecond();
    await expect(waiting).rejects.toThrow(/closed/);
    await vi.waitFor(() => expect(second.closed()).toBe(true));
  });
});
