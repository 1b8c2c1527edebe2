import type { PGlite } from '@electric-sql/pglite';
import { Logger } from '@nestjs/common';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Pool } from 'pg';
import { PgliteProcessClient, type EmbeddedDatabaseLostError } from './pglite-process-client';
import { recordsSchema } from './records.schema';

/** The versioned migrations (drizzle-kit's folder): two levels up from both src/records/ and dist/records/. */
export const MIGRATIONS_DIR = join(__dirname, '..', '..', 'migrations', 'records');

export type RecordsDb = PgDatabase<PgQueryResultHKT, typeof recordsSchema>;

export type DatabaseKind = 'pglite' | 'postgres';

export interface DatabaseOptions {
  /** postgres://… for PostgreSQL; otherwise the embedded database in `dataDir`. */
  url?: string;
  /** A directory, or `memory://` for a throwaway in-memory database (tests). */
  dataDir: string;
  /** A connection attempt or a statement slower than this fails (PostgreSQL; the write queue has its own limit for both). */
  statementTimeoutMs: number;
  /** Where drizzle keeps its record of applied migrations (default: the URL's search_path schema, else `drizzle`). */
  migrationsSchema?: string;
}

/**
 * One open database, embedded (PGlite) or PostgreSQL (a node-postgres pool), behind the same
 * Drizzle API, with the migrations applied. The only place that knows which one it is.
 */
export class RecordsDatabase {
  private static readonly logger = new Logger('RecordsDatabase');

  private lostListener: ((err: EmbeddedDatabaseLostError) => void) | undefined;
  /** A loss that came before anyone listened, handed to the listener when it comes. */
  private lost: EmbeddedDatabaseLostError | undefined;

  private constructor(
    readonly db: RecordsDb,
    readonly kind: DatabaseKind,
    private readonly release: () => Promise<void>,
  ) {}

  static async open(options: DatabaseOptions): Promise<RecordsDatabase> {
    const migrationsSchema = options.migrationsSchema ?? (options.url && searchPathSchema(options.url)) ?? 'drizzle';
    if (options.url) {
      const pool = new Pool({
        connectionString: options.url,
        max: 4,
        connectionTimeoutMillis: options.statementTimeoutMs,
        // Client-side: a stalled server fails the query instead of holding the flush forever.
        query_timeout: options.statementTimeoutMs,
        idleTimeoutMillis: 30_000,
      });
      // An idle client's socket error is emitted on the pool; unhandled it would kill the process.
      pool.on('error', (err) => RecordsDatabase.logger.warn({ err }, 'database connection lost'));
      // A connection lost while checked out (e.g. stalled, then cut) errors on the client itself,
      // where the pool does not listen: unheard, that would be an uncaught exception.
      pool.on('connect', (client) => client.on('error', (err) => RecordsDatabase.logger.warn({ err }, 'database connection lost')));
      const db = drizzlePg(pool, { schema: recordsSchema });
      try {
        await migratePg(db, { migrationsFolder: MIGRATIONS_DIR, migrationsSchema });
      } catch (err) {
        await pool.end().catch(() => undefined);
        throw err;
      }
      return new RecordsDatabase(db, 'postgres', () => endPool(pool));
    }
    const memory = options.dataDir === 'memory://';
    if (!memory) mkdirSync(resolve(options.dataDir), { recursive: true });
    // In its own process: see PgliteProcessClient. Drizzle's PGlite driver needs only query and transaction.
    const client = await PgliteProcessClient.start(memory ? undefined : resolve(options.dataDir));
    const db = drizzlePglite({ client: client as unknown as PGlite, schema: recordsSchema });
    try {
      await migratePglite(db, { migrationsFolder: MIGRATIONS_DIR, migrationsSchema });
    } catch (err) {
      await client.close().catch(() => undefined);
      throw err;
    }
    const database = new RecordsDatabase(db, 'pglite', () => client.close());
    client.onLost((err) => {
      database.lost = err;
      database.lostListener?.(err);
    });
    return database;
  }

  /**
   * `listener` hears once that the database is gone for good and must be opened again: the embedded
   * database's process ended (a crash). PostgreSQL never does: its pool reconnects by itself.
   */
  onLost(listener: (err: EmbeddedDatabaseLostError) => void): void {
    this.lostListener = listener;
    if (this.lost) listener(this.lost);
  }

  async close(): Promise<void> {
    await this.release();
  }
}

/** How long closing waits for PostgreSQL to say goodbye: a stalled server never does. */
const POOL_END_WAIT_MS = 2_000;

/** pool.end() waits for every connection's close handshake, forever on a stalled server: bounded here. */
async function endPool(pool: Pool): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), POOL_END_WAIT_MS)));
  const outcome = await Promise.race([pool.end().then(() => 'ended' as const), gaveUp]).finally(() => clearTimeout(timer));
  if (outcome === 'timeout') new Logger('RecordsDatabase').warn(`PostgreSQL did not close its connections within ${POOL_END_WAIT_MS} ms; leaving them`);
}

/**
 * The schema named by `?options=-c search_path=…` in a PostgreSQL URL: the migration journal goes
 * beside the tables, so two schemas on one server migrate independently.
 */
export function searchPathSchema(url: string): string | undefined {
  try {
    const options = new URL(url).searchParams.get('options') ?? '';
    return /search_path=([A-Za-z_][A-Za-z0-9_]*)/.exec(options)?.[1];
  } catch {
    return undefined;
  }
}
