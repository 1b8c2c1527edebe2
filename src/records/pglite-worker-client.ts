import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * The worker: PGlite (PostgreSQL compiled to WebAssembly) runs its queries synchronously on the
 * thread that owns it, ~5-10 ms for a batch of record writes. On the server's main thread that
 * would hold up the audio relay; on its own thread it cannot. Plain CommonJS, so it runs the same
 * from src/ under the tests and from dist/.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglite);
// Drizzle's PGlite driver reads dates, times and their arrays as text and converts them itself.
const parsers = Object.fromEntries([1114, 1184, 1186, 1082, 1231, 1115, 1185, 1187, 1182].map((oid) => [oid, (value) => value]));
let db = null;
async function handle(msg) {
  switch (msg.op) {
    case 'open':
      db = await PGlite.create(workerData.dataDir ?? undefined);
      return null;
    case 'query': {
      const r = await db.query(msg.sql, msg.params, { rowMode: msg.rowMode, parsers });
      return { rows: r.rows, fields: r.fields, affectedRows: r.affectedRows };
    }
    case 'close':
      if (db) await db.close();
      db = null;
      return null;
  }
  throw new Error('unknown operation ' + msg.op);
}
parentPort.on('message', (msg) => {
  handle(msg).then(
    (result) => parentPort.postMessage({ id: msg.id, result }),
    (err) => parentPort.postMessage({ id: msg.id, error: { message: String(err && err.message), code: err && err.code, detail: err && err.detail } }),
  );
});
`;

interface QueryOptions {
  rowMode?: 'array' | 'object';
}

export interface QueryResult {
  rows: unknown[];
  fields: { name: string; dataTypeID: number }[];
  affectedRows?: number;
}

/** What Drizzle's PGlite driver calls on a client: `query` and `transaction`. */
export interface PgliteLikeClient {
  query(sql: string, params?: unknown[], options?: QueryOptions): Promise<QueryResult>;
  transaction<T>(fn: (tx: PgliteLikeClient) => Promise<T>): Promise<T>;
}

export class PgliteWorkerError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

/**
 * PGlite on a worker thread, behind the two methods Drizzle's PGlite driver uses. One session:
 * statements run one at a time, and a transaction holds the session from BEGIN to COMMIT (other
 * statements wait their turn rather than landing inside it).
 */
export class PgliteWorkerClient implements PgliteLikeClient {
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  private nextId = 1;
  /** The session's queue: each statement or transaction starts when the previous one is over. */
  private tail: Promise<unknown> = Promise.resolve();
  private dead: Error | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (msg: { id: number; result?: unknown; error?: { message: string; code?: string; detail?: string } }) => {
      const waiter = this.pending.get(msg.id);
      if (!waiter) return;
      this.pending.delete(msg.id);
      if (this.pending.size === 0) worker.unref();
      if (msg.error) waiter.reject(new PgliteWorkerError(msg.error.message, msg.error.code, msg.error.detail));
      else waiter.resolve(msg.result);
    });
    const fail = (err: Error) => {
      this.dead = err;
      for (const waiter of this.pending.values()) waiter.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the embedded database's thread exited (${code})`)));
    // Idle, the thread must not keep the process alive (the server's sockets do); while a statement
    // is on its way it must, or a process waiting for it at start-up would simply exit.
    worker.unref();
  }

  /** Starts the thread and opens the database in `dataDir` (in memory when undefined). */
  static async start(dataDir: string | undefined): Promise<PgliteWorkerClient> {
    const pglite = createRequire(join(__dirname, 'records-database.js')).resolve('@electric-sql/pglite');
    const client = new PgliteWorkerClient(new Worker(WORKER_SOURCE, { eval: true, workerData: { pglite, dataDir } }));
    try {
      await client.call({ op: 'open' });
    } catch (err) {
      await client.worker.terminate();
      throw err;
    }
    return client;
  }

  query(sql: string, params: unknown[] = [], options: QueryOptions = {}): Promise<QueryResult> {
    return this.exclusive(() => this.statement(sql, params, options));
  }

  transaction<T>(fn: (tx: PgliteLikeClient) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      const tx: PgliteLikeClient = {
        query: (sql, params = [], options = {}) => this.statement(sql, params, options),
        transaction: () => Promise.reject(new Error('nested transactions go through savepoints')),
      };
      await this.statement('BEGIN');
      try {
        const result = await fn(tx);
        await this.statement('COMMIT');
        return result;
      } catch (err) {
        await this.statement('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    if (!this.dead) await this.exclusive(() => this.call({ op: 'close' })).catch(() => undefined);
    await this.worker.terminate();
  }

  private statement(sql: string, params: unknown[] = [], options: QueryOptions = {}): Promise<QueryResult> {
    return this.call({ op: 'query', sql, params, rowMode: options.rowMode ?? 'object' }) as Promise<QueryResult>;
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task, task);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private call(message: Record<string, unknown>): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, ...message });
    });
  }
}
