import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CallEventBus, type CallEvent } from '../call-gateway/call-events';
import { CallRegistry } from '../call-gateway/call-registry.service';
import type { VoiceEngineName } from '../call-gateway/call-events';
import { VOICE_ENGINES } from '../config/app-config';
import { LegacyLogsGateway, LogsGateway } from '../logs-gateway/logs.gateway';
import { ToolRegistry } from '../tools/tool-registry.service';

export type ReconnectResult = 'started' | 'succeeded' | 'failed';

/**
 * Prometheus metrics, in a Registry this provider owns (never prom-client's global one, so two apps
 * in one process do not collide). Nothing here runs per audio frame: counters move on call events
 * (a few per call turn), and frame counts are read from the live sessions' own counters when
 * Prometheus scrapes, plus the totals of ended calls taken from `call.ended`.
 */
@Injectable()
export class MetricsService implements OnModuleDestroy {
  readonly registry = new Registry();
  private readonly unsubscribe: () => void;
  private readonly knownTools: Set<string>;
  /** Calls whose model connection is being re-established (bounded by live calls). */
  private readonly reconnecting = new Set<string>();
  /** Frame counts of calls that have ended (live calls are added at scrape time), and of reconnect gaps. */
  private readonly ended = { framesIn: 0, framesOut: 0, badFrames: 0, lateDeltasDropped: 0, reconnectOverflow: 0 };

  private readonly callsStarted: Counter;
  private readonly callsEnded: Counter<'outcome'>;
  private readonly callDuration: Histogram;
  private readonly bargeIns: Counter;
  private readonly functionCalls: Counter<'tool' | 'outcome'>;
  private readonly functionCallDuration: Histogram<'tool'>;
  private readonly modelConnect: Histogram;
  private readonly modelStatus: Counter<'status'>;
  private readonly reconnects: Counter<'result'>;
  private readonly reconnectTime: Histogram;
  private readonly firstAudio: Histogram;
  private readonly errors: Counter<'source'>;
  private readonly modelSeconds: Counter<'engine'>;
  private readonly modelCost: Counter<'engine'>;
  private readonly unpriced: Counter<'engine'>;
  /** The engine of each call that has started and not ended (cost events name the call, not the engine). */
  private readonly engines = new Map<string, VoiceEngineName>();

  constructor(events: CallEventBus, calls: CallRegistry, tools: ToolRegistry, dashboards: LogsGateway, legacyDashboards: LegacyLogsGateway) {
    // Every registered tool, offered now or not (ask_operator is offered only while someone watches).
    this.knownTools = new Set(tools.registered().map((t) => t.name ?? ''));
    const registers = [this.registry];
    // Process metrics (CPU, memory, GC, handles) and event-loop lag: nodejs_eventloop_lag_*.
    collectDefaultMetrics({ register: this.registry });

    new Gauge({
      name: 'voice_agent_active_calls',
      help: 'Calls streaming now',
      registers,
      collect() {
        this.set(calls.activeCount);
      },
    });
    new Gauge({
      name: 'voice_agent_reserved_calls',
      help: 'Calls answered by the webhook (model pre-dialled) whose media stream has not started yet',
      registers,
      collect() {
        this.set(calls.reservedCount);
      },
    });
    new Gauge({
      name: 'voice_agent_call_capacity',
      help: 'MAX_CONCURRENT_CALLS',
      registers,
      collect() {
        this.set(calls.capacity);
      },
    });
    this.callsStarted = new Counter({ name: 'voice_agent_calls_started_total', help: 'Calls whose media stream started', registers });
    this.callsEnded = new Counter({
      name: 'voice_agent_calls_total',
      help: 'Ended calls by outcome (the end reason: caller-hung-up, agent-ended, model-unavailable, media-timeout, ...)',
      labelNames: ['outcome'],
      registers,
    });
    this.callDuration = new Histogram({
      name: 'voice_agent_call_duration_seconds',
      help: 'Duration of ended calls',
      buckets: [5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });
    const ended = this.ended;
    new Counter({
      name: 'voice_agent_media_frames_total',
      help: 'Audio relayed, in 20 ms frames: in = from the caller to the model, out = from the model to the caller (counted in 20 ms of audio, whatever the chunk size)',
      labelNames: ['direction'],
      registers,
      collect() {
        let framesIn = ended.framesIn;
        let framesOut = ended.framesOut;
        for (const call of calls.calls()) {
          framesIn += call.framesIn;
          framesOut += call.framesOut;
        }
        this.reset();
        this.inc({ direction: 'in' }, framesIn);
        this.inc({ direction: 'out' }, framesOut);
      },
    });
    new Counter({
      name: 'voice_agent_dropped_frames_total',
      help:
        'Frames dropped: invalid_twilio_frame = bad Twilio messages of started calls; late_model_audio = model audio of an interrupted answer; ' +
        'reconnect_buffer_full = caller audio beyond RECONNECT_AUDIO_BUFFER_MS while the model reconnected',
      labelNames: ['reason'],
      registers,
      collect() {
        let bad = ended.badFrames;
        let late = ended.lateDeltasDropped;
        for (const call of calls.calls()) {
          bad += call.badFrames;
          late += call.lateDeltasDropped;
        }
        this.reset();
        this.inc({ reason: 'invalid_twilio_frame' }, bad);
        this.inc({ reason: 'late_model_audio' }, late);
        this.inc({ reason: 'reconnect_buffer_full' }, ended.reconnectOverflow);
      },
    });
    this.bargeIns = new Counter({ name: 'voice_agent_barge_ins_total', help: 'Times a caller interrupted the assistant (clear + truncate)', registers });
    this.functionCalls = new Counter({
      name: 'voice_agent_function_calls_total',
      help: 'Function calls by tool (unknown = a name the model made up) and outcome (success, error)',
      labelNames: ['tool', 'outcome'],
      registers,
    });
    this.functionCallDuration = new Histogram({
      name: 'voice_agent_function_call_duration_seconds',
      help: 'Time a function call took, including validation and timeout',
      labelNames: ['tool'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.modelConnect = new Histogram({
      name: 'voice_agent_model_connect_seconds',
      help: 'Realtime API WebSocket handshake time of connections that were configured',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    });
    this.modelStatus = new Counter({
      name: 'voice_agent_model_status_total',
      help: 'Model connection status changes (connecting, connected, reconnecting, failed, closed)',
      labelNames: ['status'],
      registers,
    });
    this.reconnects = new Counter({
      name: 'voice_agent_model_reconnects_total',
      help: 'Model reconnections mid-call: started, succeeded, failed',
      labelNames: ['result'],
      registers,
    });
    for (const result of ['started', 'succeeded', 'failed'] as const) this.reconnects.inc({ result }, 0);
    this.reconnectTime = new Histogram({
      name: 'voice_agent_model_reconnect_seconds',
      help: 'From losing the model mid-call to having it back (successful reconnections)',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
    this.firstAudio = new Histogram({
      name: 'voice_agent_first_audio_seconds',
      help: "From the media stream's start to the first audio sent to the caller (observed when the call ends; calls with no audio are not counted)",
      buckets: [0.25, 0.5, 1, 2, 3, 5, 10, 30],
      registers,
    });
    new Gauge({
      name: 'voice_agent_dashboard_clients',
      help: 'Dashboards connected to /ws/logs (and /logs)',
      registers,
      collect() {
        this.set(dashboards.clientCount + legacyDashboards.clientCount);
      },
    });
    this.errors = new Counter({
      name: 'voice_agent_errors_total',
      help: 'Error events by source (twilio, model, tool, server)',
      labelNames: ['source'],
      registers,
    });

    this.modelSeconds = new Counter({
      name: 'voice_agent_model_seconds_total',
      help: 'Seconds of model session billed by engines priced by time (GPT-Live: session.usage.updated / session.closed), by engine',
      labelNames: ['engine'],
      registers,
    });
    for (const engine of VOICE_ENGINES) this.modelSeconds.inc({ engine }, 0);
    this.modelCost = new Counter({
      name: 'voice_agent_model_cost_usd_total',
      help: "What the calls' model usage cost, in USD at the price table's rates (src/records/price-table.ts, PRICES_FILE), by engine: Realtime tokens, GPT-Live seconds and its backend's tokens",
      labelNames: ['engine'],
      registers,
    });
    this.unpriced = new Counter({
      name: 'voice_agent_model_usage_unpriced_total',
      help: 'Usage reports the price table could not price (a model it does not know, e.g. a GPT-Live backend model missing from PRICES_FILE), by engine',
      labelNames: ['engine'],
      registers,
    });
    for (const engine of VOICE_ENGINES) {
      this.modelCost.inc({ engine }, 0);
      this.unpriced.inc({ engine }, 0);
    }

    this.unsubscribe = events.subscribe((event) => this.onEvent(event));
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for a scrape. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * Counts a model reconnection step. Called from `model.status` events (reconnecting → started;
   * connected after it → succeeded; failed/closed after it → failed); callable directly too.
   */
  recordModelReconnect(result: ReconnectResult): void {
    this.reconnects.inc({ result });
  }

  private onEvent(event: CallEvent): void {
    switch (event.type) {
      case 'call.started':
        this.callsStarted.inc();
        this.engines.set(event.callSid, event.engine);
        return;
      case 'call.ended':
        this.engines.delete(event.callSid);
        this.callsEnded.inc({ outcome: event.reason });
        this.callDuration.observe(event.durationMs / 1000);
        this.ended.framesIn += event.framesIn;
        this.ended.framesOut += event.framesOut;
        this.ended.badFrames += event.badFrames;
        this.ended.lateDeltasDropped += event.lateDeltasDropped ?? 0;
        if (typeof event.firstAudioMs === 'number') this.firstAudio.observe(event.firstAudioMs / 1000);
        if (this.reconnecting.delete(event.callSid)) this.recordModelReconnect('failed');
        return;
      case 'barge_in':
        this.bargeIns.inc();
        return;
      case 'function_call.finished': {
        const tool = this.knownTools.has(event.name) ? event.name : 'unknown';
        this.functionCalls.inc({ tool, outcome: event.error === undefined ? 'success' : 'error' });
        this.functionCallDuration.observe({ tool }, event.durationMs / 1000);
        return;
      }
      case 'model.status':
        return this.onModelStatus(event);
      case 'error':
        this.errors.inc({ source: event.source });
        return;
      case 'usage':
        if (typeof event.billedSeconds === 'number' && event.billedSeconds > 0)
          this.modelSeconds.inc({ engine: event.engine ?? 'realtime' }, event.billedSeconds);
        return;
      case 'cost': {
        const engine = this.engines.get(event.callSid) ?? 'realtime';
        if (event.usd === null) this.unpriced.inc({ engine });
        else if (event.usd > 0) this.modelCost.inc({ engine }, event.usd);
        return;
      }
    }
  }

  private onModelStatus(event: Extract<CallEvent, { type: 'model.status' }>): void {
    this.modelStatus.inc({ status: event.status });
    const wasReconnecting = this.reconnecting.has(event.callSid);
    switch (event.status) {
      case 'connected':
        if (typeof event.connectMs === 'number') this.modelConnect.observe(event.connectMs / 1000);
        if (typeof event.reconnectMs === 'number') this.reconnectTime.observe(event.reconnectMs / 1000);
        if (typeof event.droppedFrames === 'number') this.ended.reconnectOverflow += event.droppedFrames;
        if (wasReconnecting) {
          this.reconnecting.delete(event.callSid);
          this.recordModelReconnect('succeeded');
        }
        return;
      case 'reconnecting':
        if (!wasReconnecting) {
          this.reconnecting.add(event.callSid);
          this.recordModelReconnect('started');
        }
        return;
      case 'failed':
      case 'closed':
        if (wasReconnecting) {
          this.reconnecting.delete(event.callSid);
          this.recordModelReconnect('failed');
        }
        return;
    }
  }
}
