import { DEFAULT_WAIT_MS, MessageLog } from '../../emulator/waiters';

/** One JSON log line as pino wrote it. */
export interface LogRecord {
  level: string;
  time: string;
  msg: string;
  context?: string;
  callSid?: string;
  streamSid?: string;
  [key: string]: any;
}

/**
 * A pino destination that keeps every line: the raw text (to prove what was never written) and the
 * parsed records (to check fields). Pass it as the fixture's startApp(env, [], { logs }) for every app of a test file.
 */
export class LogCapture {
  private log = new MessageLog<LogRecord>();
  private raw: string[] = [];
  /** Lines that were not one JSON object each. */
  readonly malformed: string[] = [];

  get records(): LogRecord[] {
    return this.log.items;
  }

  /** pino calls this once per line (with its trailing newline). */
  write(chunk: string): void {
    for (const line of chunk.split('\n')) {
      if (line === '') continue;
      this.raw.push(line);
      try {
        const record = JSON.parse(line);
        if (typeof record === 'object' && record !== null && !Array.isArray(record)) this.log.push(record);
        else this.malformed.push(line);
      } catch {
        this.malformed.push(line);
      }
    }
  }

  /** Everything written so far, as written. */
  text(): string {
    return this.raw.join('\n');
  }

  /** Forgets what was captured (between tests). */
  clear(): void {
    this.log = new MessageLog<LogRecord>();
    this.raw = [];
    this.malformed.length = 0;
  }

  /** The first record matching, not returned by an earlier call. */
  waitFor(what: string, predicate: (r: LogRecord) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<LogRecord> {
    return this.log.waitFor(predicate, timeoutMs, `log line: ${what}`, (r) => `${r.context ?? '-'}: ${String(r.msg).slice(0, 60)}`);
  }
}
