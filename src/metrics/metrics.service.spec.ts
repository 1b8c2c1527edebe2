import { describe, expect, it } from 'vitest';
import { CallEventBus } from '../call-gateway/call-events';
import type { CallRegistry } from '../call-gateway/call-registry.service';
import type { LegacyLogsGateway, LogsGateway } from '../logs-gateway/logs.gateway';
import { loadAppConfig } from '../config/app-config';
import { AskOperatorTool } from '../tools/ask-operator.tool';
import { OperatorDesk } from '../tools/operator-desk.service';
import { ToolRegistry } from '../tools/tool-registry.service';
import { MetricsService } from './metrics.service';

function service() {
  const events = new CallEventBus();
  const registry = { activeCount: 0, reservedCount: 0, capacity: 10, calls: () => [][Symbol.iterator]() } as unknown as CallRegistry;
  const tools = { registered: () => [{ type: 'function', name: 'echo' }] } as unknown as ToolRegistry;
  const gateway = { clientCount: 0 };
  const metrics = new MetricsService(events, registry, tools, gateway as LogsGateway, gateway as LegacyLogsGateway);
  const value = async (name: string, labels: Record<string, string>) => {
    const metric = (await metrics.registry.getSingleMetric(name)!.get()).values;
    return metric.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
  };
  return { events, metrics, value };
}

describe('MetricsService', () => {
  it('counts model reconnections from model.status events: started once per loss, then succeeded or failed', async () => {
    const { events, metrics, value } = service();
    const reconnects = (result: string) => value('voice_agent_model_reconnects_total', { result });
    events.publish('CA1', { type: 'model.status', status: 'connected', connectMs: 120 });
    expect(await reconnects('started')).toBe(0);

    events.publish('CA1', { type: 'model.status', status: 'reconnecting' });
    events.publish('CA1', { type: 'model.status', status: 'reconnecting' }); // a second attempt of the same loss
    events.publish('CA1', { type: 'model.status', status: 'connected', connectMs: 300 });
    expect(await reconnects('started')).toBe(1);
    expect(await reconnects('succeeded')).toBe(1);

    events.publish('CA2', { type: 'model.status', status: 'reconnecting' });
    events.publish('CA2', { type: 'model.status', status: 'failed', detail: '1006' });
    events.publish('CA3', { type: 'model.status', status: 'reconnecting' });
    events.publish('CA3', {
      type: 'call.ended',
      reason: 'model-unavailable',
      durationMs: 1,
      framesIn: 0,
      framesOut: 0,
      badFrames: 0,
      lateDeltasDropped: 0,
      firstAudioMs: null,
      bargeIns: 0,
      reconnects: 0,
    });
    expect(await reconnects('started')).toBe(3);
    expect(await reconnects('failed')).toBe(2);
    expect(
      (await metrics.registry.getSingleMetric('voice_agent_model_connect_seconds')!.get()).values.find((v) =>
        (v as { metricName?: string }).metricName?.endsWith('_count'),
      )?.value,
    ).toBe(2);

    metrics.recordModelReconnect('started');
    expect(await reconnects('started')).toBe(4);
    metrics.onModuleDestroy();
    expect(events.listenerCount).toBe(0);
  });

  it('keeps its series in its own registry, so two apps in one process do not collide', () => {
    const a = service().metrics;
    const b = service().metrics;
    expect(a.registry).not.toBe(b.registry);
    expect(a.registry.getSingleMetric('voice_agent_active_calls')).toBeDefined();
  });
});

describe('MetricsService tool labels', () => {
  it('labels ask_operator by name even though it is offered only while a dashboard watches', async () => {
    const config = loadAppConfig({});
    const desk = new OperatorDesk(); // nobody watching: ask_operator is not offered to new calls now
    const tools = new ToolRegistry([new AskOperatorTool(config, desk)], config);
    expect(tools.schemas().map((t) => t.name)).toEqual([]);
    const events = new CallEventBus();
    const registry = { activeCount: 0, reservedCount: 0, capacity: 10, calls: () => [][Symbol.iterator]() } as unknown as CallRegistry;
    const gateway = { clientCount: 0 };
    const metrics = new MetricsService(events, registry, tools, gateway as LogsGateway, gateway as LegacyLogsGateway);
    events.publish('CA1', { type: 'function_call.finished', callId: 'c1', name: 'ask_operator', output: '{}', durationMs: 5, answeredBy: 'operator' });
    const values = (await metrics.registry.getSingleMetric('voice_agent_function_calls_total')!.get()).values;
    expect(values.find((v) => v.labels.tool === 'ask_operator')?.value).toBe(1);
    expect(values.some((v) => v.labels.tool === 'unknown')).toBe(false);
  });
});
