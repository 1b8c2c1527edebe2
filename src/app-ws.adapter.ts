import { Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { Observable } from 'rxjs';
import type { WebSocket, WebSocketServer } from 'ws';

/**
 * Nest's WsAdapter parses every incoming frame for @SubscribeMessage dispatch. Our gateways read
 * their sockets themselves, so for a gateway without handlers the framework pipeline is skipped:
 * otherwise each Twilio media frame would be JSON-parsed twice.
 */
export class AppWsAdapter extends WsAdapter {
  private readonly wsLogger = new Logger('WebSocket');

  /** A client's socket error (oversized frame, reset) is the client's problem: the gateways log it at warn level. */
  override bindErrorHandler(server: WebSocketServer): WebSocketServer {
    server.on('connection', (ws: WebSocket) => ws.on('error', () => undefined));
    server.on('error', (err: Error) => this.wsLogger.error({ err }, 'WebSocket server error'));
    return server;
  }

  override bindMessageHandlers(client: WebSocket, handlers: MessageMappingProperties[], transform: (data: unknown) => Observable<unknown>): void {
    if (handlers.length === 0) return;
    super.bindMessageHandlers(client, handlers, transform);
  }
}
