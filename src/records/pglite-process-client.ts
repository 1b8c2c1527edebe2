import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { withDeadline } from './record-write-queue';

/**
 * The database process: PGlite (PostgreSQL compiled to WebAssembly) runs its queries synchronously
 * where it lives, ~5-10 ms for a batch of record writes. On the server's main thread that would
 * hold up the audio relay. It used to run on a worker thread, but V8 can crash (SIGSEGV) while
 * compiling or running PGlite's WebAssembly (nodejs/node#64500, seen here in CI), and a crash on a
 * thread takes the whole server and every live call with it; in its own process it takes only the
 * records, which the store reopens. Plain CommonJS, so it runs the same from src/ and dist/.
 */
const PROCESS_SOURCE = `
let db = null;
let PGlite = null;
// Drizzle's PGlite driver reads dates, times and their arrays as text and converts them itself.
const parsers = Object.fromEntries([1114, 1184, 1186, 1082, 1231, 1115, 1185, 1187, 1182].map((oid) => [oid, (value) => value]));
async function handle(msg) {
  switch (msg.op) {
    case 'open':
      PGlite = require(msg.pglite).PGlite;
      db = await PGlite.create(msg.dataDir ?? undefined);
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
process.on('message', (msg) => {
  handle(msg).then(
    (result) => process.send({ id: msg.id, result }),
    (err) => process.send({ id: msg.id, error: { message: String(err && err.message), code: err && err.code, detail: err && err.detail } }),
  );
});
// The server is gone (exited, killed, crashed): nothing is left to answer to.
process.on('disconnect', () => process.exit(0));
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

export class PgliteError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** The database process ended without being asked to (a crash, or killed from outside). */
export class EmbeddedDatabaseLostError extends Error {
  constructor(
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
  ) {
    super(`the embedded database's process ended unexpectedly (${signal ?? `exit code ${exitCode}`})`);
  }
}

/** What the database process gets of the server's environment: where things are and the locale. */
const INHERITED_VARIABLES = ['PATH', 'HOME', 'TMPDIR', 'TZ', 'LANG', 'LC_ALL', 'SystemRoot'];

function childEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of INHERITED_VARIABLES) if (process.env[name] !== undefined) env[name] = process.env[name];
  return env;
}

/** How long close() waits for the database to close, and then for the process to exit, before killing it. */
const EXIT_WAIT_MS = 2_000;

/**
 * PGlite in a child process of its own, behind the two methods Drizzle's PGlite driver uses. One
 * session: statements run one at a time, and a transaction holds the session from BEGIN to COMMIT
 * (other statements wait their turn rather than landing inside it).
 */
export class PgliteProcessClient implements PgliteLikeClient {
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  private nextId = 1;
  /** The session's queue: each statement or transaction starts when the previous one is over. */
  private tail: Promise<unknown> = Promise.resolve();
  private state: 'running' | 'closing' | 'exited' = 'running';
  private lost: Error | null = null;
  private readonly lostListeners: ((err: EmbeddedDatabaseLostError) => void)[] = [];
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (msg: { id: number; result?: unknown; error?: { message: string; code?: string; detail?: string } }) => {
      const waiter = this.pending.get(msg.id);
      if (!waiter) return;
      this.pending.delete(msg.id);
      if (this.pending.size === 0) this.unref();
      if (msg.error) waiter.reject(new PgliteError(msg.error.message, msg.error.code, msg.error.detail));
      else waiter.resolve(msg.result);
    });
    // A send to a process that just died fails here, before 'exit' says so.
    child.on('error', (err) => this.fail(err));
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        const unexpected = this.state === 'running';
        this.state = 'exited';
        const err = new EmbeddedDatabaseLostError(code, signal);
        this.fail(err);
        if (unexpected) for (const listener of this.lostListeners) listener(err);
        resolve();
      }),
    );
    // Idle, the process must not keep the server alive (its sockets do); while a statement is on
    // its way it must, or a process waiting for it at start-up would simply exit.
    this.unref();
  }

  /** The database process's id (to watch or, in tests, to crash it). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Starts the process and opens the database in `dataDir` (in memory when undefined). */
  static async start(dataDir: string | undefined): Promise<PgliteProcessClient> {
    const pglite = createRequire(join(__dirname, 'records-database.js')).resolve('@electric-sql/pglite');
    // The same Node as the server, without its flags (inspector, loaders) and without its
    // environment (the OpenAI key, the Twilio token, NODE_OPTIONS): the database needs none of it.
    // Structured clone keeps dates and buffers in parameters and rows as they are.
    const child = spawn(process.execPath, ['-e', PROCESS_SOURCE], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
      env: childEnvironment(),
    });
    const client = new PgliteProcessClient(child);
    try {
      await client.call({ op: 'open', pglite, dataDir });
    } catch (err) {
      await client.kill();
      throw err;
    }
    return client;
  }

  /** `listener` is called once if the process ends without close() (after pending statements failed). */
  onLost(listener: (err: EmbeddedDatabaseLostError) => void): void {
    this.lostListeners.push(listener);
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

  /**
   * Closes the database (after the statements already queued) and ends the process; one that does
   * not answer within EXIT_WAIT_MS, or does not exit after that, is killed.
   */
  async close(): Promise<void> {
    if (this.state !== 'running') return this.exited;
    await withDeadline(
      this.exclusive(() => this.call({ op: 'close' })),
      Date.now() + EXIT_WAIT_MS,
    );
    await this.kill();
  }

  private async kill(): Promise<void> {
    if (this.state === 'exited') return;
    this.state = 'closing';
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), EXIT_WAIT_MS);
    await this.exited;
    clearTimeout(timer);
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
    if (this.lost) return Promise.reject(this.lost);
    if (this.state !== 'running') return Promise.reject(new Error('the embedded database is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.ref();
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, ...message });
    });
  }

  private fail(err: Error): void {
    this.lost ??= err;
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
    this.unref();
  }

  private ref(): void {
    this.child.ref();
    this.child.channel?.ref();
  }

  private unref(): void {
    this.child.unref();
    this.child.channel?.unref();
  }
}
