import { Logger } from '@nestjs/common';
import type { RealtimeClientEvent, RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import WebSocket from 'ws';
import type { ModelFailure } from './model-failure';

export interface RealtimeConnectionHandlers {
  onEvent(event: RealtimeServerEvent): void;
  /** The socket is open and everything queued before has been written. */
  onOpen?(): void;
  /** The socket is gone (closed by either side or failed to open). Called once. */
  onClose(failure: ModelFailure): void;
}

export interface RealtimeConnectionOptions {
  url: string;
  apiKey: string;
  model: string;
  /** Upper bound on messages queued while the socket is still connecting. */
  maxQueued?: number;
  handshakeTimeoutMs?: number;
  /** The call this connection serves, for its log lines. */
  callSid?: string;
}

/**
 * One WebSocket to the OpenAI Realtime API (GA) for one call.
 * It can be opened before anyone listens (pre-dial): events that arrive before `attach` are kept
 * and replayed, and messages sent while connecting are queued (bounded) and flushed on open.
 */
export class RealtimeConnection {
  private readonly logger = new Logger(RealtimeConnection.name);
  private socket: WebSocket | null = null;
  private handlers: RealtimeConnectionHandlers | null = null;
  private readonly early: RealtimeServerEvent[] = [];
  private queue: string[] = [];
  private closeInfo: ModelFailure | null = null;
  private lastError: { type?: string; code?: string | null } | undefined;
  private openedAt = 0;
  private startedAt = 0;
  /** Messages that had to be dropped (queue full while connecting, or sent after close). */
  dropped = 0;
  malformed = 0;

  constructor(private readonly options: RealtimeConnectionOptions) {}

  get isOpen(): boolean {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  get isClosed(): boolean {
    return this.closeInfo !== null;
  }

  /** Time the handshake took, once open. */
  get connectMs(): number | null {
    return this.openedAt ? this.openedAt - this.startedAt : null;
  }

  /** When the socket opened (epoch ms), 0 before. */
  get openedAtMs(): number {
    return this.openedAt;
  }

  get bufferedAmount(): number {
    return this.socket?.bufferedAmount ?? 0;
  }

  connect(): Promise<void> {
    if (this.socket) throw new Error('RealtimeConnection.connect called twice');
    const url = new URL(this.options.url);
    url.searchParams.set('model', this.options.model);
    this.startedAt = Date.now();
    const socket = new WebSocket(url, {
      headers: { Authorization: `Bearer ${this.options.apiKey}` },
      handshakeTimeout: this.options.handshakeTimeoutMs ?? 10_000,
      perMessageDeflate: false,
    });
    this.socket = socket;
    return new Promise((resolve, reject) => {
      socket.once('open', () => {
        this.openedAt = Date.now();
        const queued = this.queue;
        this.queue = [];
        for (const message of queued) socket.send(message);
        this.handlers?.onOpen?.();
        resolve();
      });
      socket.on('message', (data: Buffer) => this.receive(data));
      socket.on('unexpected-response', (_req, res) => {
        // Read the status for the log, never the body (it can echo request details).
        const reason = `HTTP ${res.statusCode} from Realtime API`;
        res.resume();
        this.finish(1006, reason, res.statusCode);
        socket.terminate();
        reject(new Error(reason));
      });
      socket.on('error', (err) => {
        this.finish(1006, err.message);
        reject(err);
      });
      socket.on('close', (code, reason) => {
        this.finish(code, reason.toString());
        reject(new Error(`closed before open (${code})`));
      });
    });
  }

  attach(handlers: RealtimeConnectionHandlers): void {
    this.handlers = handlers;
    const early = this.early.splice(0);
    for (const event of early) handlers.onEvent(event);
    if (this.closeInfo) handlers.onClose(this.closeInfo);
    else if (this.isOpen) handlers.onOpen?.();
  }

  send(event: RealtimeClientEvent): void {
    this.sendRaw(JSON.stringify(event));
  }

  /** Hot path: caller audio, already base64 (validated by the Twilio parser, so safe to splice in). */
  appendAudio(base64: string): void {
    this.sendRaw('{"type":"input_audio_buffer.append","audio":"' + base64 + '"}');
  }

  sendRaw(message: string): void {
    const socket = this.socket;
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(message);
      return;
    }
    if (!this.closeInfo && this.queue.length < (this.options.maxQueued ?? 500)) {
      this.queue.push(message);
      return;
    }
    this.dropped++;
  }

  close(code = 1000, reason = 'call ended'): void {
    const socket = this.socket;
    this.queue = [];
    if (!socket) {
      this.finish(code, reason);
      return;
    }
    if (socket.readyState === WebSocket.OPEN) socket.close(code, reason);
    else if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
    this.finish(code, reason);
  }

  private receive(data: Buffer): void {
    let event: RealtimeServerEvent;
    try {
      event = JSON.parse(data.toString()) as RealtimeServerEvent;
    } catch {
      this.malformed++;
      return;
    }
    if (typeof event !== 'object' || event === null || typeof event.type !== 'string') {
      this.malformed++;
      return;
    }
    if (event.type === 'error') this.lastError = event.error;
    if (this.handlers) this.handlers.onEvent(event);
    else if (this.early.length < 100) this.early.push(event);
  }

  private finish(code: number, reason: string, httpStatus?: number): void {
    if (this.closeInfo) return;
    this.closeInfo = { code, reason, httpStatus, lastError: this.lastError, opened: this.openedAt > 0 };
    this.queue = [];
    if (code !== 1000) this.logger.debug({ callSid: this.options.callSid }, `Realtime socket closed: ${code} ${reason}`);
    if (this.dropped > 0 || this.malformed > 0) {
      this.logger.warn(
        { callSid: this.options.callSid },
        `Realtime socket closed with ${this.dropped} message(s) not sent and ${this.malformed} malformed event(s) ignored`,
      );
    }
    this.handlers?.onClose(this.closeInfo);
  }
}
