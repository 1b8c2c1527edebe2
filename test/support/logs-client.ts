import WebSocket from 'ws';
import type { TestApp } from './test-app';
import { DEFAULT_WAIT_MS, MessageLog } from '../../emulator/waiters';

export interface LogEvent {
  v: number;
  type: string;
  callSid: string;
  ts: string;
  [key: string]: any;
}

/** A dashboard client on /ws/logs that records every event. */
export class LogsClient {
  private readonly log = new MessageLog<LogEvent>();
  readonly events = this.log.items;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => this.log.push(JSON.parse(data.toString())));
  }

  static async connect(app: TestApp, path = '/ws/logs', headers: Record<string, string> = {}): Promise<LogsClient> {
    const socket = new WebSocket(`${app.wsUrl}${path}`, { headers });
    const client = new LogsClient(socket);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    return client;
  }

  /** The first event matching, not returned by an earlier call. */
  waitFor(type: string, predicate: (e: LogEvent) => boolean = () => true, timeoutMs = DEFAULT_WAIT_MS): Promise<LogEvent> {
    return this.log.waitFor((e) => e.type === type && predicate(e), timeoutMs, `log event ${type}`, (e) => e.type);
  }

  close(): void {
    this.socket.close();
  }
}
