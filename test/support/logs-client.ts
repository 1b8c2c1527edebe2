import WebSocket from 'ws';
import type { TestApp } from './test-app';
import { DEFAULT_WAIT_MS, MessageLog } from '../../emulator/waiters';

export interface LogEvent {
  v: number;
  type: string;
  callSid: string | null;
  ts: string;
  [key: string]: any;
}

export interface LogsClientOptions {
  path?: string;
  headers?: Record<string, string>;
  /** Query string parameters, e.g. `{ token }` or `{ callSid }`. */
  query?: Record<string, string>;
}

/** Messages about the dashboard connection itself, as opposed to call events. */
const CONTROL_TYPES = new Set(['snapshot', 'command.ok', 'command.error']);

/** A dashboard client on /ws/logs that records every message. */
export class LogsClient {
  private readonly log = new MessageLog<LogEvent>();
  /** Every message, in order. */
  readonly messages = this.log.items;
  private closeInfo: { code: number; reason: string } | null = null;
  private nextId = 1;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => this.log.push(JSON.parse(data.toString())));
    socket.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString() };
      this.log.notify();
    });
  }

  /**
   * Opens the socket; rejects with the HTTP status (e.g. "Unexpected server response: 401") if refused.
   * Signs in with the app's dashboard token unless the options bring their own (header or `token` query).
   */
  static async connect(app: TestApp, pathOrOptions: string | LogsClientOptions = {}, headers: Record<string, string> = {}): Promise<LogsClient> {
    const opts = typeof pathOrOptions === 'string' ? { path: pathOrOptions, headers } : pathOrOptions;
    const url = new URL(`${app.wsUrl}${opts.path ?? '/ws/logs'}`);
    for (const [name, value] of Object.entries(opts.query ?? {})) url.searchParams.set(name, value);
    const ownCredentials = opts.headers?.authorization !== undefined || opts.query?.token !== undefined;
    const socket = new WebSocket(url, { headers: ownCredentials ? opts.headers : { authorization: `Bearer ${app.config.dashboardToken}`, ...opts.headers } });
    const client = new LogsClient(socket);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.on('error', () => undefined);
    return client;
  }

  /** Call events only (no snapshots or command replies). */
  get events(): LogEvent[] {
    return this.messages.filter((m) => !CONTROL_TYPES.has(m.type));
  }

  get closed(): boolean {
    return this.closeInfo !== null;
  }

  /** The first message of this type (matching), not returned by an earlier call. */
  waitFor(type: string, predicate: (e: LogEvent) => boolean = () => true, timeoutMs = DEFAULT_WAIT_MS): Promise<LogEvent> {
    return this.log.waitFor(
      (e) => e.type === type && predicate(e),
      timeoutMs,
      `log message ${type}`,
      (e) => e.type,
    );
  }

  /** Sends a command with a fresh id and resolves with its command.ok or command.error. */
  async command(command: Record<string, unknown>, timeoutMs = DEFAULT_WAIT_MS): Promise<LogEvent> {
    const id = `t${this.nextId++}`;
    this.send(JSON.stringify({ ...command, id }));
    return this.log.waitFor(
      (e) => (e.type === 'command.ok' || e.type === 'command.error') && e.id === id,
      timeoutMs,
      `reply to ${String(command.type)} (${id})`,
      (e) => e.type,
    );
  }

  send(data: string | Buffer): void {
    this.socket.send(data);
  }

  waitForClose(timeoutMs = DEFAULT_WAIT_MS): Promise<{ code: number; reason: string }> {
    return this.log.until(
      () => this.closeInfo ?? undefined,
      timeoutMs,
      () => 'the logs socket to close',
    );
  }

  close(): void {
    this.socket.close();
  }
}
