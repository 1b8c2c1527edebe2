import { Logger, OnModuleDestroy } from '@nestjs/common';
import { OnGatewayConnection, OnGatewayDisconnect, OnGatewayInit, WebSocketGateway } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import WebSocket, { type WebSocketServer } from 'ws';
import { CallEventBus, type CallEvent } from '../call-gateway/call-events';
import { OperatorDesk } from '../tools/operator-desk.service';
import { DashboardAuth } from '../access/dashboard-auth.service';
import { isCallSid, parseDashboardCommand, type DashboardCommand } from './dashboard-commands';
import { LiveCallsStore } from './live-calls.store';
import { OperatorCommandsService, type CommandOutcome } from './operator-commands.service';

/** Version of the JSON envelope sent to dashboards (README, "The dashboard socket"). */
export const LOG_EVENT_VERSION = 1;
/** A dashboard this far behind (bytes queued for it) is dropped; calls never wait for it. */
export const MAX_CLIENT_BUFFER = 1024 * 1024;
export const CLOSE_TOO_SLOW = 4008;
export const CLOSE_SHUTDOWN = 1001;
export const CLOSE_BAD_REQUEST = 1008;

interface Watcher {
  /** The one call this client watches, or null for all. */
  callSid: string | null;
  /** bufferedAmount past which it is dropped. */
  limit: number;
  leave: () => void;
}

/**
 * The dashboard socket: on connect a snapshot of the live calls, then every call event as
 * `{ v: 1, type, callSid, ts, ... }`, filtered to the client's subscription; commands in the
 * other direction. Sending never blocks: a client that cannot keep up is dropped.
 */
@WebSocketGateway({ path: '/ws/logs', maxPayload: 64 * 1024 })
export class LogsGateway implements OnGatewayInit<WebSocketServer>, OnGatewayConnection<WebSocket>, OnGatewayDisconnect<WebSocket>, OnModuleDestroy {
  protected readonly logger = new Logger('LogsGateway');
  private readonly clients = new Map<WebSocket, Watcher>();
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly events: CallEventBus,
    private readonly auth: DashboardAuth,
    private readonly calls: LiveCallsStore,
    private readonly commands: OperatorCommandsService,
    private readonly desk: OperatorDesk,
  ) {}

  get clientCount(): number {
    return this.clients.size;
  }

  afterInit(server: WebSocketServer): void {
    // ws runs verifyClient before the upgrade, so a refused client gets a plain HTTP status.
    server.options.verifyClient = (
      info: { req: IncomingMessage },
      done: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void,
    ) => {
      if (this.auth.check(info.req, true)) return done(true);
      // The URL and headers are never logged: they may carry a (wrong) token.
      this.logger.warn(`refused a dashboard connection from ${info.req.socket.remoteAddress}: missing or invalid token`);
      done(false, 401, 'Unauthorized', { 'WWW-Authenticate': 'Bearer' });
    };
  }

  handleConnection(client: WebSocket, req: IncomingMessage): void {
    const requested = new URL(req.url ?? '/', 'http://localhost').searchParams.get('callSid');
    if (requested !== null && !isCallSid(requested)) {
      client.close(CLOSE_BAD_REQUEST, 'invalid callSid');
      return;
    }
    const watcher: Watcher = { callSid: requested, limit: MAX_CLIENT_BUFFER, leave: this.desk.join() };
    this.clients.set(client, watcher);
    this.unsubscribe ??= this.events.subscribe((event) => this.broadcast(event));
    client.on('message', (data: Buffer, isBinary: boolean) => void this.onMessage(client, data, isBinary));
    // Same tick as joining the broadcast: no event can fall between the snapshot and the stream.
    this.sendSnapshot(client, watcher, null);
  }

  handleDisconnect(client: WebSocket): void {
    this.forget(client);
  }

  onModuleDestroy(): void {
    for (const client of [...this.clients.keys()]) {
      this.forget(client);
      client.close(CLOSE_SHUTDOWN, 'server shutting down');
    }
  }

  private broadcast(event: CallEvent): void {
    let message: string | undefined;
    for (const [client, watcher] of this.clients) {
      if (watcher.callSid !== null && watcher.callSid !== event.callSid) continue;
      message ??= JSON.stringify({ v: LOG_EVENT_VERSION, ...event });
      this.send(client, watcher, message);
    }
  }

  private sendSnapshot(client: WebSocket, watcher: Watcher, id: string | null): void {
    const message = this.envelope('snapshot', watcher.callSid, { id, calls: this.calls.snapshot(watcher.callSid) });
    // A late joiner's snapshot can be large: it gets room on top of the usual bound.
    watcher.limit = MAX_CLIENT_BUFFER + message.length;
    this.send(client, watcher, message);
  }

  private async onMessage(client: WebSocket, data: Buffer, isBinary: boolean): Promise<void> {
    const watcher = this.clients.get(client);
    if (!watcher) return;
    if (isBinary) return this.reply(client, null, { type: 'command.error', id: null, command: null, message: 'commands are JSON text frames' });
    const command = parseDashboardCommand(data.toString());
    if ('error' in command) {
      return this.reply(client, null, { type: 'command.error', id: command.id, command: command.type, message: command.error });
    }
    if (command.type === 'subscribe') {
      // Synchronous with the filter change, like the first snapshot.
      watcher.callSid = command.callSid;
      this.reply(client, command.callSid, { type: 'command.ok', id: command.id, command: command.type });
      return this.sendSnapshot(client, watcher, command.id);
    }
    let outcome: CommandOutcome;
    try {
      outcome = await this.commands.run(command);
    } catch (err) {
      this.logger.error({ err, command: command.type }, 'a dashboard command failed');
      outcome = { ok: false, message: 'internal error' };
    }
    if (outcome.ok) this.audit(command);
    const body = outcome.ok
      ? { type: 'command.ok', id: command.id, command: command.type, ...outcome.result }
      : { type: 'command.error', id: command.id, command: command.type, message: outcome.message, ...(outcome.errors && { errors: outcome.errors }) };
    this.reply(client, command.callSid, body);
  }

  /** Operators change what callers hear: say who did what (never with the token). */
  private audit(command: Exclude<DashboardCommand, { type: 'subscribe' }>): void {
    const target = command.callSid ? `call ${command.callSid}` : 'new calls';
    if (command.type === 'config.update') this.logger.log(`operator changed ${Object.keys(command.config).join(', ')} for ${target}`);
    else if (command.type === 'function_call.answer') this.logger.log(`operator answered function call ${command.callId} in ${target}`);
    else this.logger.log(`operator hung up ${target}`);
  }

  private reply(client: WebSocket, callSid: string | null, body: { type: string } & Record<string, unknown>): void {
    const watcher = this.clients.get(client);
    if (!watcher) return;
    const { type, ...fields } = body;
    this.send(client, watcher, this.envelope(type, callSid, fields));
  }

  private envelope(type: string, callSid: string | null, fields: Record<string, unknown>): string {
    return JSON.stringify({ v: LOG_EVENT_VERSION, type, callSid, ts: new Date().toISOString(), ...fields });
  }

  private send(client: WebSocket, watcher: Watcher, message: string): void {
    if (client.readyState !== WebSocket.OPEN) return;
    if (client.bufferedAmount > watcher.limit) return this.drop(client);
    client.send(message);
  }

  private drop(client: WebSocket): void {
    this.forget(client);
    this.logger.warn(`dropped a dashboard client ${Math.round(client.bufferedAmount / 1024)} KB behind (close ${CLOSE_TOO_SLOW})`);
    // The close frame queues behind the unsent data; ws destroys the socket if the handshake stalls.
    client.close(CLOSE_TOO_SLOW, 'too slow');
  }

  private forget(client: WebSocket): void {
    const watcher = this.clients.get(client);
    if (!watcher) return;
    this.clients.delete(client);
    watcher.leave();
    if (this.clients.size === 0 && this.unsubscribe) {
      this.unsubscribe();
      this.unsubscribe = null;
    }
  }
}

/** `/logs`, the path of the original demo. */
@WebSocketGateway({ path: '/logs', maxPayload: 64 * 1024 })
export class LegacyLogsGateway extends LogsGateway {}
