import { Logger, OnModuleDestroy } from '@nestjs/common';
import { OnGatewayConnection, OnGatewayDisconnect, WebSocketGateway } from '@nestjs/websockets';
import WebSocket from 'ws';
import { CallEventBus, type CallEvent } from '../call-gateway/call-events';

/** Version of the JSON envelope sent to dashboards. */
export const LOG_EVENT_VERSION = 1;
/** A dashboard that falls this far behind is dropped; calls never wait for it. */
const MAX_CLIENT_BUFFER = 1024 * 1024;
export const CLOSE_TOO_SLOW = 4008;

/** Streams every call event to connected dashboards as `{ v: 1, type, callSid, ts, ... }` JSON. */
@WebSocketGateway({ path: '/ws/logs', maxPayload: 16 * 1024 })
export class LogsGateway implements OnGatewayConnection<WebSocket>, OnGatewayDisconnect<WebSocket>, OnModuleDestroy {
  protected readonly logger = new Logger('LogsGateway');
  private readonly clients = new Set<WebSocket>();
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly events: CallEventBus) {}

  get clientCount(): number {
    return this.clients.size;
  }

  handleConnection(client: WebSocket): void {
    this.clients.add(client);
    if (!this.unsubscribe) this.unsubscribe = this.events.subscribe((event) => this.broadcast(event));
  }

  handleDisconnect(client: WebSocket): void {
    this.clients.delete(client);
    if (this.clients.size === 0 && this.unsubscribe) {
      this.unsubscribe();
      this.unsubscribe = null;
    }
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  private broadcast(event: CallEvent): void {
    const message = JSON.stringify({ v: LOG_EVENT_VERSION, ...event });
    for (const client of this.clients) {
      if (client.readyState !== WebSocket.OPEN) continue;
      if (client.bufferedAmount > MAX_CLIENT_BUFFER) {
        this.logger.warn('dropping a dashboard client that is not keeping up');
        client.close(CLOSE_TOO_SLOW, 'too slow');
        continue;
      }
      client.send(message);
    }
  }
}

/** `/logs`, the path of the original demo. */
@WebSocketGateway({ path: '/logs', maxPayload: 16 * 1024 })
export class LegacyLogsGateway extends LogsGateway {}
