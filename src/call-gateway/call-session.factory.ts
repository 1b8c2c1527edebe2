import { Injectable } from '@nestjs/common';
import type WebSocket from 'ws';
import { AppConfig } from '../config/app-config';
import { SessionConfigService } from '../openai/session-config.service';
import { ToolRegistry } from '../tools/tool-registry.service';
import { CallEventBus } from './call-events';
import { CallRegistry } from './call-registry.service';
import { CallSession } from './call-session';

/** Makes one CallSession per Twilio media socket, with the app's shared services. */
@Injectable()
export class CallSessionFactory {
  constructor(
    private readonly config: AppConfig,
    private readonly events: CallEventBus,
    private readonly tools: ToolRegistry,
    private readonly registry: CallRegistry,
    private readonly sessionConfig: SessionConfigService,
  ) {}

  create(socket: WebSocket): CallSession {
    return new CallSession(socket, {
      config: this.config,
      events: this.events,
      tools: this.tools,
      registry: this.registry,
      sessionConfig: this.sessionConfig,
    });
  }
}
