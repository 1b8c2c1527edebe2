import { describe, expect, it } from 'vitest';
import { CallEventBus, type CallEventBody } from '../call-gateway/call-events';
import { LiveCallsStore, MAX_ENTRY_CHARS, MAX_FUNCTION_CALLS, MAX_TRANSCRIPT_ENTRIES } from './live-calls.store';

function setup() {
  const bus = new CallEventBus();
  const store = new LiveCallsStore(bus);
  const publish = (callSid: string, body: CallEventBody) => bus.publish(callSid, body);
  const start = (callSid: string) =>
    publish(callSid, {
      type: 'call.started',
      streamSid: `MZ${callSid}`,
      from: '+1555',
      to: '+1666',
      direction: 'inbound',
      startedAt: new Date().toISOString(),
      engine: 'realtime',
      model: 'gpt-realtime-2.1',
      voice: 'marin',
    });
  return { bus, store, publish, start };
}

describe('LiveCallsStore', () => {
  it("keeps the call's cost so far from `cost` events (for a dashboard that joins mid-call)", () => {
    const { store, publish, start } = setup();
    start('CA1');
    expect(store.snapshot()[0].costUsd).toBeUndefined();
    publish('CA1', { type: 'cost', responseId: 'r1', model: 'gpt-realtime-2.1', usd: 0.01, totalUsd: 0.01 });
    publish('CA1', { type: 'cost', responseId: 'r2', model: 'gpt-realtime-2.1', usd: 0.02, totalUsd: 0.03 });
    expect(store.snapshot()[0].costUsd).toBe(0.03);
  });

  it('assembles transcript deltas by item, marks barge-ins, and tracks function calls and model status', () => {
    const { store, publish, start } = setup();
    start('CA1');
    publish('CA1', { type: 'model.status', status: 'connected' });
    publish('CA1', { type: 'transcript.delta', role: 'assistant', itemId: 'i1', delta: 'Hel' });
    publish('CA1', { type: 'transcript.delta', role: 'user', itemId: 'u1', delta: 'Hi' });
    publish('CA1', { type: 'transcript.delta', role: 'assistant', itemId: 'i1', delta: 'lo' });
    publish('CA1', { type: 'barge_in', itemId: 'i1', audioEndMs: 420, sentMs: 900, items: 1, cuts: [{ itemId: 'i1', audioEndMs: 420, sentMs: 900 }] });
    publish('CA1', { type: 'transcript.done', role: 'user', itemId: 'u1', text: 'Hi there' });
    publish('CA1', { type: 'function_call.started', callId: 'c1', name: 'f', arguments: '{}' });
    publish('CA1', { type: 'function_call.started', callId: 'c2', name: 'g', arguments: '{"a":1}' });
    publish('CA1', { type: 'function_call.finished', callId: 'c1', name: 'f', output: '{"ok":1}', durationMs: 12, answeredBy: 'operator' });

    const [call] = store.snapshot();
    expect(call).toMatchObject({ callSid: 'CA1', streamSid: 'MZCA1', from: '+1555', to: '+1666', direction: 'inbound', modelStatus: 'connected' });
    expect(call.transcript).toEqual([
      { itemId: 'i1', role: 'assistant', text: 'Hello', final: false, interruptedAtMs: 420, at: expect.stringMatching(/^\d{4}-/) },
      { itemId: 'u1', role: 'user', text: 'Hi there', final: true, at: expect.stringMatching(/^\d{4}-/) },
    ]);
    expect(call.functionCalls).toEqual([
      { callId: 'c1', name: 'f', arguments: '{}', status: 'done', output: '{"ok":1}', durationMs: 12, answeredBy: 'operator' },
      { callId: 'c2', name: 'g', arguments: '{"a":1}', status: 'running' },
    ]);
    expect(JSON.parse(JSON.stringify(call))).toEqual(call); // plain data, no internal maps
  });

  it('keeps what the caller waited (first audio, answers) and why the model failed, for late joiners', () => {
    const { store, publish, start } = setup();
    start('CA1');
    expect(store.snapshot()[0]).toMatchObject({ modelProblem: null, latency: { firstAudioMs: null, lastAnswerMs: null, meanAnswerMs: null, answers: 0 } });
    publish('CA1', { type: 'latency', kind: 'first_audio', ms: 310 });
    publish('CA1', { type: 'latency', kind: 'answer', ms: 800 });
    publish('CA1', { type: 'latency', kind: 'answer', ms: 1001 });
    publish('CA1', {
      type: 'model.status',
      status: 'failed',
      detail: 'HTTP 401',
      problem: { kind: 'auth', message: 'the Realtime API refused the key (401): check OPENAI_API_KEY' },
    });
    expect(store.snapshot()[0]).toMatchObject({
      modelStatus: 'failed',
      modelProblem: 'the Realtime API refused the key (401): check OPENAI_API_KEY',
      latency: { firstAudioMs: 310, lastAnswerMs: 1001, meanAnswerMs: 901, answers: 2 },
    });
  });

  it('keeps the last entries of a long call and bounds each text', () => {
    const { store, publish, start } = setup();
    start('CA1');
    for (let i = 0; i < MAX_TRANSCRIPT_ENTRIES + 50; i++) publish('CA1', { type: 'transcript.done', role: 'user', itemId: `u${i}`, text: `line ${i}` });
    for (let i = 0; i < MAX_FUNCTION_CALLS + 5; i++) publish('CA1', { type: 'function_call.started', callId: `c${i}`, name: 'f', arguments: '' });
    for (let i = 0; i < 3000; i++) publish('CA1', { type: 'transcript.delta', role: 'assistant', itemId: 'long', delta: 'blah ' });
    const [call] = store.snapshot();
    expect(call.transcript).toHaveLength(MAX_TRANSCRIPT_ENTRIES);
    expect(call.transcript[0].text).toBe('line 51');
    expect(call.transcript.at(-1)?.text).toHaveLength(MAX_ENTRY_CHARS);
    expect(call.functionCalls).toHaveLength(MAX_FUNCTION_CALLS);
    expect(call.functionCalls[0].callId).toBe('c5');
  });

  it('forgets a call when it ends, and ignores events of calls it never saw start', () => {
    const { store, publish, start } = setup();
    publish('CA0', { type: 'model.status', status: 'connecting' }); // a pre-dial: not a live call yet
    start('CA1');
    start('CA2');
    publish('CA1', { type: 'transcript.done', role: 'user', itemId: 'u', text: 'bye' });
    expect(store.snapshot().map((c) => c.callSid)).toEqual(['CA1', 'CA2']);
    expect(store.snapshot('CA2').map((c) => c.callSid)).toEqual(['CA2']);
    publish('CA1', {
      type: 'call.ended',
      reason: 'caller-hung-up',
      durationMs: 5,
      framesIn: 0,
      framesOut: 0,
      badFrames: 0,
      lateDeltasDropped: 0,
      firstAudioMs: null,
      bargeIns: 0,
      reconnects: 0,
    });
    publish('CA1', { type: 'transcript.delta', role: 'assistant', itemId: 'late', delta: 'x' });
    expect(store.snapshot().map((c) => c.callSid)).toEqual(['CA2']);
    expect(store.snapshot('CA1')).toEqual([]);
    expect(store.size).toBe(1);
  });

  it('shows the engine and model a call runs on, and what it has used so far (seconds and tokens)', () => {
    const { store, publish } = setup();
    publish('CA9', {
      type: 'call.started',
      streamSid: 'MZ9',
      from: null,
      to: null,
      direction: null,
      startedAt: new Date().toISOString(),
      engine: 'live',
      model: 'gpt-live-1.1',
      voice: 'marin',
    });
    const zero = { inputTokens: 0, outputTokens: 0, totalTokens: 0, inputAudioTokens: 0, outputAudioTokens: 0, cachedTokens: 0 };
    publish('CA9', { type: 'usage', responseId: 's1', status: 'completed', model: 'gpt-live-1.1', engine: 'live', ...zero, billedSeconds: 1.5 });
    publish('CA9', { type: 'usage', responseId: 's2', status: 'completed', model: 'gpt-live-1.1', engine: 'live', ...zero, billedSeconds: 2.25 });
    publish('CA9', { type: 'usage', responseId: 'r1', status: 'completed', model: 'gpt-5.4-mini', engine: 'live', ...zero, totalTokens: 940 });
    expect(store.snapshot('CA9')[0]).toMatchObject({ engine: 'live', model: 'gpt-live-1.1', usage: { billedSeconds: 3.75, tokens: 940 } });
  });
});
