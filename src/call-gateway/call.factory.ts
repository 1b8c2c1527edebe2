import { Injectable } from '@nestjs/common';
import type WebSocket from 'ws';
import { AppConfig } from '../config/app-config';
import { ModelDialer } from '../openai/model-dialer.service';
import { SessionConfigService } from '../openai/session-config.service';
import { ToolRegistry } from '../tools/tool-registry.service';
import { Call } from './call';
import { CallEventBus } from './call-events';
import { CallRegistry } from './call-registry.service';

/** Makes one Call per Twilio media socket, with the app's shared services. */
@Injectable()
export class CallFactory {
  constructor(
    private readonly config: AppConfig,
    private readonly events: CallEventBus,
    private readonly tools: ToolRegistry,
    private readonly registry: CallRegistry,
    private readonly sessionConfig: SessionConfigService,
    private readonly dialer: ModelDialer,
  ) {}

  create(socket: WebSocket): Call {
    const { config, events, tools, registry, sessionConfig, dialer } = this;
    return new Call(socket, { config, events, tools, registry, sessionConfig, dialer });
  }
}
