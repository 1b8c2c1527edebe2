import { describe, expect, it } from 'vitest';
import { CallEventBus, type CallEventBody } from '../call-gateway/call-events';
import { loadAppConfig } from '../config/app-config';
import type { AgentConfigPersistence } from './agent-config-persistence.service';
import { CallRecorder } from './call-recorder.service';
import { CostMeter } from './cost-meter.service';
import { PriceTable } from './price-table';
import type { RecordWriter } from './record-writer.service';
import type { RecordWrite } from './records.repository';
import type { RecordsStore } from './records-store.service';

const SID = 'CA0123456789abcdef0123456789abcdef';

/** The bus, a cost meter and a recorder whose writes are collected instead of queued. */
function setup(env: Record<string, string> = {}) {
  const bus = new CallEventBus();
  const writes: RecordWrite[] = [];
  const prices = new PriceTable();
  new CostMeter(bus, prices);
  const recorder = new CallRecorder(
    bus,
    { write: (w: RecordWrite) => writes.push(w) } as unknown as RecordWriter,
    { enabled: true } as RecordsStore,
    loadAppConfig({ INSTANCE_ID: 'test-1', ...env }),
    prices,
    { currentVersion: () => 7 } as unknown as AgentConfigPersistence,
  );
  const started = Date.now() - 10_000;
  const publish = (body: CallEventBody) => bus.publish(SID, body);
  publish({
    type: 'call.started',
    streamSid: 'MZ1',
    from: '+1555',
    to: '+1666',
    direction: 'inbound',
    startedAt: new Date(started).toISOString(),
    engine: 'realtime',
    model: 'gpt-realtime-2.1',
    voice: 'marin',
  });
  const lastCall = () => [...writes].reverse().find((w) => w.kind === 'call')!.row as Record<string, unknown>;
  return { bus, writes, publish, recorder, lastCall };
}

const USAGE = { inputTokens: 1000, outputTokens: 500, totalTokens: 1500, inputAudioTokens: 600, outputAudioTokens: 400, cachedTokens: 200 };

describe('CallRecorder', () => {
  it('writes the call row at start with the configuration version and instance, and a priced model starts at $0', () => {
    const { writes, lastCall } = setup();
    expect(lastCall()).toMatchObject({ callSid: SID, fromNumber: '+1555', configVersion: 7, instanceId: 'test-1', costUsd: 0, model: 'gpt-realtime-2.1' });
    expect(writes.filter((w) => w.kind === 'event').map((w) => (w as { row: { type: string } }).row.type)).toEqual(['call.started']);
  });

  it('folds deltas into one transcript item with offsets, and marks a barge-in that comes after its transcript was done', () => {
    const { writes, publish } = setup();
    publish({ type: 'transcript.delta', role: 'assistant', itemId: 'item_a', delta: 'Hello ' });
    publish({ type: 'transcript.delta', role: 'assistant', itemId: 'item_a', delta: 'there' });
    publish({ type: 'transcript.done', role: 'assistant', itemId: 'item_a', text: 'Hello there' });
    publish({ type: 'barge_in', itemId: 'item_a', audioEndMs: 640, sentMs: 2000, items: 1, cuts: [{ itemId: 'item_a', audioEndMs: 640, sentMs: 2000 }] });
    const rows = writes.filter((w) => w.kind === 'transcript').map((w) => w.row as Record<string, unknown>);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ itemId: 'item_a', role: 'assistant', text: 'Hello there', interruptedAtMs: null });
    expect(rows[1]).toMatchObject({ itemId: 'item_a', text: 'Hello there', interruptedAtMs: 640 });
    expect(rows[1].startMs).toBeGreaterThanOrEqual(9_000); // ~10 s into the call
    expect(writes.filter((w) => w.kind === 'event').map((w) => (w as { row: { type: string } }).row.type)).not.toContain('transcript.delta');
  });

  it('marks every item a barge-in cut: the preamble where it was heard, the answer queued behind it at 0', () => {
    const { writes, publish } = setup();
    publish({ type: 'transcript.done', role: 'assistant', itemId: 'item_pre', text: 'Let me check.' });
    publish({ type: 'transcript.done', role: 'assistant', itemId: 'item_ans', text: 'It is sunny.' });
    publish({
      type: 'barge_in',
      itemId: 'item_pre',
      audioEndMs: 250,
      sentMs: 400,
      items: 2,
      cuts: [
        { itemId: 'item_pre', audioEndMs: 250, sentMs: 400 },
        { itemId: 'item_ans', audioEndMs: 0, sentMs: 2000 },
      ],
    });
    const last = new Map(writes.filter((w) => w.kind === 'transcript').map((w) => [(w.row as { itemId: string }).itemId, w.row as Record<string, unknown>]));
    expect(last.get('item_pre')).toMatchObject({ interruptedAtMs: 250 });
    expect(last.get('item_ans')).toMatchObject({ interruptedAtMs: 0 });
  });

  it('sums usage and takes the cost meter’s total; the ended call carries frames, reasons and counts', () => {
    const { publish, lastCall, recorder } = setup();
    publish({ type: 'usage', responseId: 'resp_1', status: 'completed', model: 'gpt-realtime-2.1', ...USAGE });
    publish({ type: 'usage', responseId: 'resp_2', status: 'completed', model: 'gpt-realtime-2.1', ...USAGE, cachedAudioTokens: 200, cachedTextTokens: 0 });
    const prices = new PriceTable();
    const expected = prices.cost('gpt-realtime-2.1', USAGE)! + prices.cost('gpt-realtime-2.1', { ...USAGE, cachedAudioTokens: 200, cachedTextTokens: 0 })!;
    expect(lastCall()).toMatchObject({
      responses: 2,
      inputTokens: 2000,
      inputAudioTokens: 1200,
      inputTextTokens: 800,
      cachedTokens: 400,
      outputTextTokens: 200,
    });
    expect(lastCall().costUsd).toBeCloseTo(expected, 12);
    publish({ type: 'function_call.started', callId: 'call_1', name: 'slow', arguments: '{}' });
    publish({ type: 'barge_in', itemId: 'item_x', audioEndMs: 100, sentMs: 900, items: 1, cuts: [{ itemId: 'item_x', audioEndMs: 100, sentMs: 900 }] });
    publish({ type: 'model.status', status: 'connected', reconnectMs: 300, attempt: 1 });
    publish({
      type: 'call.ended',
      reason: 'caller-hung-up',
      durationMs: 10_000,
      framesIn: 500,
      framesOut: 120,
      badFrames: 0,
      lateDeltasDropped: 0,
      firstAudioMs: 700,
      bargeIns: 0,
      reconnects: 0,
    });
    expect(lastCall()).toMatchObject({
      endReason: 'caller-hung-up',
      durationMs: 10_000,
      framesIn: 500,
      firstAudioMs: 700,
      bargeIns: 1,
      reconnects: 1,
      audioInSeconds: 10,
      audioOutSeconds: null,
    });
    expect(recorder.liveCount).toBe(0);
  });

  it('an unknown model records the cost as unknown (null), never $0', () => {
    const bus = new CallEventBus();
    const writes: RecordWrite[] = [];
    const prices = new PriceTable();
    new CostMeter(bus, prices);
    new CallRecorder(
      bus,
      { write: (w: RecordWrite) => writes.push(w) } as unknown as RecordWriter,
      { enabled: true } as RecordsStore,
      loadAppConfig({}),
      prices,
      { currentVersion: () => null } as unknown as AgentConfigPersistence,
    );
    const costs: unknown[] = [];
    bus.subscribe((e) => e.type === 'cost' && costs.push(e.totalUsd));
    bus.publish(SID, {
      type: 'call.started',
      streamSid: 'MZ',
      from: null,
      to: null,
      direction: null,
      startedAt: new Date().toISOString(),
      engine: 'realtime',
      model: 'gpt-realtime',
      voice: 'marin',
    });
    expect((writes[0] as { row: { costUsd: unknown } }).row.costUsd).toBeNull();
    bus.publish(SID, { type: 'usage', responseId: 'r', status: 'completed', model: 'gpt-realtime', ...USAGE });
    expect(costs).toEqual([null]);
    expect(([...writes].reverse().find((w) => w.kind === 'call')!.row as { costUsd: unknown }).costUsd).toBeNull();
  });

  it('closes tool calls still running as cancelled, and queues the webhook when one is configured', () => {
    const { writes, publish } = setup({ POST_CALL_WEBHOOK_URL: 'https://hooks.example.test/calls', POST_CALL_WEBHOOK_SECRET: 'secret-0123456789abcdef' });
    publish({ type: 'function_call.started', callId: 'call_1', name: 'slow', arguments: '{}' });
    publish({
      type: 'call.ended',
      reason: 'operator',
      durationMs: 5,
      framesIn: 0,
      framesOut: 0,
      badFrames: 0,
      lateDeltasDropped: 0,
      firstAudioMs: null,
      bargeIns: 0,
      reconnects: 0,
    });
    const tools = writes.filter((w) => w.kind === 'tool').map((w) => (w.row as { outcome: string }).outcome);
    expect(tools).toEqual(['running', 'cancelled']);
    expect(writes.at(-1)).toEqual({ kind: 'webhook', callSid: SID, url: 'https://hooks.example.test/calls' });
  });
});
