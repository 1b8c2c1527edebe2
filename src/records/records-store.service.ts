import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { EmbeddedDatabaseLostError } from './pglite-process-client';
import { RecordsDatabase, type DatabaseKind, type DatabaseOptions, type RecordsDb } from './records-database';

/**
 * disabled = RECORDS=off; opening = opening at start-up or after a crash of the embedded database
 * (writes wait for it); open; unavailable = not open, retrying in the background (writes fail at once).
 */
export type StoreState = 'disabled' | 'opening' | 'open' | 'unavailable' | 'closed';

/** How long start-up waits for the database before going on without it (calls never wait for it). */
const OPEN_WAIT_MS = 15_000;
const REOPEN_DELAY_MS = 5_000;
/** Opening attempts in a row that may end in a crash of the embedded database before waiting REOPEN_DELAY_MS. */
const CRASHED_OPEN_ATTEMPTS = 3;

/** What a reader of the records API is told, per state: what is wrong and what to do. */
const UNAVAILABLE_MESSAGES: Record<Exclude<StoreState, 'open'>, string> = {
  disabled: 'call records are disabled (RECORDS=off): set RECORDS=on and restart to keep them',
  opening: 'the records database is opening: try again in a few seconds',
  unavailable: `the records database cannot be reached (retried every ${REOPEN_DELAY_MS / 1000} s): GET /health says why`,
  closed: 'the records database is closed: the server is shutting down',
};

export class StoreUnavailableError extends Error {
  constructor(state: StoreState) {
    super(state === 'open' ? 'the records database is open' : UNAVAILABLE_MESSAGES[state]);
  }
}

/**
 * The records database's lifecycle: opened (and migrated) at start-up, reopened in the background
 * while it cannot be reached, closed last at shutdown. Everyone else asks it for `db`.
 */
@Injectable()
export class RecordsStore implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(RecordsStore.name);
  private database: RecordsDatabase | null = null;
  private opening: Promise<void> | null = null;
  private startup: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly openedListeners: (() => void)[] = [];
  state: StoreState;
  lastError: string | null = null;

  constructor(private readonly config: AppConfig) {
    this.state = config.RECORDS === 'off' ? 'disabled' : 'opening';
  }

  get enabled(): boolean {
    return this.state !== 'disabled';
  }

  get kind(): DatabaseKind {
    return this.config.DATABASE_URL ? 'postgres' : 'pglite';
  }

  /** The open database; throws StoreUnavailableError while there is none. */
  get db(): RecordsDb {
    if (!this.database || this.state !== 'open') throw new StoreUnavailableError(this.state);
    return this.database.db;
  }

  /** The open database; while it is being opened (start-up, or reopening after a crash) waits for that first. */
  async ready(): Promise<RecordsDb> {
    if (this.state === 'opening') await this.opening;
    return this.db;
  }

  /** Runs `listener` once the database is open (now, if it already is). */
  whenOpen(listener: () => void): void {
    if (this.state === 'open') listener();
    else this.openedListeners.push(listener);
  }

  onModuleInit(): Promise<void> {
    return this.started;
  }

  /**
   * Settles when the first attempt to open the database has (or OPEN_WAIT_MS passed): start-up
   * waits that long (migrations, saved configuration); after it the server takes calls anyway and
   * the records catch up when the database answers.
   */
  get started(): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    if (!this.startup) {
      this.opening = this.tryOpen();
      let timer: NodeJS.Timeout | undefined;
      this.startup = Promise.race([this.opening, new Promise<void>((resolve) => (timer = setTimeout(resolve, OPEN_WAIT_MS)))]).finally(() =>
        clearTimeout(timer),
      );
    }
    return this.startup;
  }

  /** Options for RecordsDatabase.open; tests override this provider's config to point elsewhere. */
  protected options(): DatabaseOptions {
    return { url: this.config.DATABASE_URL, dataDir: this.config.DATA_DIR, statementTimeoutMs: this.config.RECORDS_WRITE_TIMEOUT_MS };
  }

  private async tryOpen(): Promise<void> {
    try {
      const database = await this.openDatabase();
      if (this.state === 'closed') return void (await database.close());
      this.database = database;
      this.state = 'open';
      this.lastError = null;
      this.logger.log(
        this.kind === 'postgres' ? 'call records: PostgreSQL (DATABASE_URL), migrations applied' : `call records: embedded database in ${this.config.DATA_DIR}`,
      );
      for (const listener of this.openedListeners.splice(0)) listener();
      // Last: a loss that already happened reopens from here.
      database.onLost((err) => this.onLost(database, err));
    } catch (err) {
      if (this.state === 'closed') return;
      if (this.state !== 'unavailable') this.logger.warn({ err }, `call records database unavailable; retrying every ${REOPEN_DELAY_MS / 1000} s`);
      this.state = 'unavailable';
      this.lastError = (err as Error).message;
      this.retryTimer = setTimeout(() => (this.opening = this.tryOpen()), REOPEN_DELAY_MS);
      this.retryTimer.unref();
    }
  }

  /**
   * The embedded database's process can crash while it compiles or runs PostgreSQL's WebAssembly (a
   * V8 fault under load, nodejs/node#64500): such a start is tried again at once, not 5 s later.
   */
  private async openDatabase(): Promise<RecordsDatabase> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await RecordsDatabase.open(this.options());
      } catch (err) {
        if (!(err instanceof EmbeddedDatabaseLostError) || attempt >= CRASHED_OPEN_ATTEMPTS || this.state === 'closed') throw err;
        this.logger.warn({ err }, 'the embedded database crashed while opening; trying again');
      }
    }
  }

  /** The open database went away for good (its process crashed): calls go on, the records reopen it. */
  private onLost(database: RecordsDatabase, err: EmbeddedDatabaseLostError): void {
    if (this.database !== database || this.state !== 'open') return;
    this.logger.error({ err }, 'the call-records database crashed; reopening it (calls go on, writes wait for it)');
    this.database = null;
    this.state = 'opening';
    this.lastError = err.message;
    this.opening = this.tryOpen();
  }

  /** After every other module's shutdown hooks that may still write (see RecordWriter). */
  async close(): Promise<void> {
    clearTimeout(this.retryTimer);
    const database = this.database;
    this.database = null;
    if (this.state !== 'disabled') this.state = 'closed';
    await database?.close().catch((err: unknown) => this.logger.warn({ err }, 'closing the records database failed'));
  }

  async onApplicationShutdown(): Promise<void> {
    // RecordWriter drains into the database first and then closes it; this catches the case where nothing did.
    await this.opening?.catch(() => undefined);
  }
}
