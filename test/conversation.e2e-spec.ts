// Real conversations, as the 2026 models hold them: one response at a time, a preamble and an
// answer queued on the phone together, and context that holds only what the caller heard.
import { describe, vi } from 'vitest';
import type { AgentTool } from '../src/tools/agent-tool';
import { expect, it } from './support/fixture';
import { LogsClient } from './support/logs-client';
import { chunks, markOf, testAudio } from './support/test-app';

/** A tool that answers when the test says so (whether it was called before or after). */
function slowTool() {
  let settle: ((value: unknown) => void) | null = null;
  let result: { value: unknown } | null = null;
  const tool: AgentTool = {
    name: 'check_order',
    description: 'Looks up an order.',
    parameters: { type: 'object', properties: { order: { type: 'string' } } },
    run: () => new Promise((resolve) => (result ? resolve(result.value) : (settle = resolve))),
  };
  const release = (value: unknown) => (settle ? settle(value) : (result = { value }));
  return { tool, release };
}

describe('one response at a time (no collisions)', () => {
  it('speaks a tool result that lands while the caller’s next turn is being answered, after that answer, and can still hang up', async ({
    startApp,
    placeCall,
  }) => {
    const lookup = slowTool();
    const app = await startApp({}, [lookup.tool]);
    const { call, model } = await placeCall(app);
    model.functionCallResponse([{ name: 'check_order', arguments: '{"order":"42"}' }]);
    // While the tool runs, the caller talks and the service answers that turn on its own (server VAD).
    const user = model.speechStarted();
    model.speechStopped(user);
    const answering = model.audioResponse({ chunks: chunks(testAudio(4800, 1), 800), paceMs: 100, transcript: 'One moment please.' });
    await vi.waitFor(() => expect(model.responding).toBe(true));
    lookup.release({ status: 'shipped' });
    const output = await model.waitFor('conversation.item.create', (e) => e.item.type === 'function_call_output');
    expect(output.item).toMatchObject({ output: '{"status":"shipped"}' });
    await answering;
    // Only now, after response.done, does the request for the tool result go out: nothing refused.
    const create = await model.waitFor('response.create');
    const order = model.received;
    expect(order.indexOf(create)).toBeGreaterThan(order.indexOf(output));
    expect(model.errors).toEqual([]);
    // The result is spoken; then end_call hangs up after its goodbye (no flag stayed stuck).
    const { itemId } = await model.audioResponse({ chunks: [testAudio(800, 2)], transcript: 'Your order has shipped.' });
    await call.waitFor('mark', (m) => markOf(m) === `${itemId}:100`);
    model.functionCallResponse([{ name: 'end_call', arguments: '{}' }]);
    await model.waitFor('response.create');
    await model.audioResponse({ chunks: [testAudio(800, 3)], transcript: 'Goodbye!' });
    expect((await call.waitForClose(3000)).code).toBe(1000);
    expect(model.errors).toEqual([]);
  });

  it('asks again for a greeting the service refused because its own response was running, once that response is done', async ({ startApp, placeCall }) => {
    const app = await startApp({ AGENT_GREETING: 'Greet the caller.' });
    let first: Promise<unknown> | undefined;
    const { call, model } = await placeCall(app, {
      // The service starts a response of its own just as the greeting request arrives (a race the
      // app cannot see coming): the request is refused.
      beforeStream: async (m) => {
        const stop = m.beforeHandling((event) => {
          if (event.type !== 'response.create') return;
          stop();
          first = m.audioResponse({ chunks: chunks(testAudio(2400, 4), 800), paceMs: 100 });
        });
      },
    });
    const refused = await vi.waitFor(() => {
      const error = model.errors.find((e) => e.code === 'conversation_already_has_active_response');
      expect(error).toBeDefined();
      return error!;
    });
    await first;
    const creates = () => model.received.filter((e) => e.type === 'response.create');
    await vi.waitFor(() => expect(creates()).toHaveLength(2));
    expect(creates()[1]).toMatchObject({ response: { instructions: 'Greet the caller.' } });
    expect(creates()[0].event_id).toBe(refused.event_id);
    const greeting = await model.audioResponse({ chunks: [testAudio(800, 5)], transcript: 'Hello!' });
    await call.waitFor('mark', (m) => markOf(m) === `${greeting.itemId}:100`);
    expect(creates()).toHaveLength(2);
  });
});

describe('several assistant items on the phone', () => {
  it('cuts a preamble at what was heard and the answer queued behind it at 0, and drops the late audio of both', async ({ startApp, placeCall }) => {
    const app = await startApp();
    const logs = await LogsClient.connect(app);
    const { call, model } = await placeCall(app);
    // "Let me check" (400 ms) and the answer (2 s), produced far faster than they play.
    const response = model.audioResponse({
      items: [
        { chunks: chunks(testAudio(3200, 6), 800), transcript: 'Let me check that for you.' },
        { chunks: chunks(testAudio(16000, 7), 800), transcript: 'The weather in Paris is sunny with a light breeze.' },
      ],
      lateDeltas: 2,
    });
    await vi.waitFor(() => expect(call.receivedAudio().length).toBe(3200 + 16000));
    await vi.waitFor(() => expect(call.playedMs()).toBeGreaterThan(150), { interval: 5 });
    model.speechStarted();
    const { itemIds } = await response;
    await call.waitFor('clear');
    const heard = call.clears[0].atPlayedMs;
    expect(heard).toBeLessThan(400); // still in the preamble
    const truncates = await vi.waitFor(() => {
      const t = model.received.filter((e) => e.type === 'conversation.item.truncate');
      expect(t).toHaveLength(2);
      return t;
    });
    expect(truncates[0]).toMatchObject({ item_id: itemIds[0], content_index: 0 });
    expect(Math.abs(truncates[0].audio_end_ms - heard)).toBeLessThanOrEqual(30);
    expect(truncates[1]).toMatchObject({ item_id: itemIds[1], audio_end_ms: 0 });
    expect(model.errors).toEqual([]);
    // The caller heard the preamble up to the cut, and nothing after.
    expect(call.heardAudio().length).toBe(Math.round(heard * 8));
    expect(call.playbackRemainingMs()).toBe(0);
    expect(await logs.waitFor('barge_in')).toMatchObject({ itemId: itemIds[0], items: 2 });
    call.sendStop();
    const ended = await logs.waitFor('call.ended');
    expect(ended.lateDeltasDropped).toBe(0); // all audio had arrived before the cut: nothing late to drop
  });

  it('drops the late audio of every item of an interrupted response', async ({ startApp, placeCall }) => {
    const app = await startApp();
    const logs = await LogsClient.connect(app);
    const { call, model } = await placeCall(app);
    const response = model.audioResponse({
      items: [
        { chunks: chunks(testAudio(3200, 8), 800), transcript: 'Let me check.' },
        { chunks: chunks(testAudio(16000, 9), 800), transcript: 'It is sunny.' },
      ],
      paceMs: 50,
      lateDeltas: 3,
    });
    await vi.waitFor(() => expect(call.receivedAudio().length).toBeGreaterThan(3200 + 800), { interval: 5 });
    model.speechStarted();
    await response;
    await call.waitFor('clear');
    const sentBefore = call.receivedAudio().length;
    await vi.waitFor(() => expect(model.received.filter((e) => e.type === 'conversation.item.truncate')).toHaveLength(2));
    call.sendStop();
    const ended = await logs.waitFor('call.ended');
    expect(ended.lateDeltasDropped).toBe(3);
    expect(call.receivedAudio().length).toBe(sentBefore);
  });
});

describe('replay holds what the caller heard', () => {
  it('after an interruption and a reconnect, the new session gets the heard part of the answer, as the service kept it', async ({
    startRealtime,
    startApp,
    placeCall,
  }) => {
    const fake = await startRealtime();
    const app = await startApp({ OPENAI_REALTIME_URL: fake.url });
    const { call, model } = await placeCall(app, { realtime: fake });
    const text = 'Our shop opens at nine in the morning and closes at six in the evening, every day except Sunday.';
    const response = model.audioResponse({ chunks: chunks(testAudio(24000, 10), 800), transcript: text }); // 3 s, all at once
    await vi.waitFor(() => expect(call.playedMs()).toBeGreaterThan(900), { interval: 5 });
    model.speechStarted();
    const { itemId } = await response;
    const truncate = await model.waitFor('conversation.item.truncate');
    // The app asks the service what is left of the item, and the service answers without the unheard text.
    await model.waitFor('conversation.item.retrieve', (e) => e.item_id === itemId);
    const kept = model.truncations[0];
    expect(kept.audioEndMs).toBe(truncate.audio_end_ms);

    model.drop();
    const next = await fake.waitForConnection(1);
    await next.waitFor('session.update');
    const replayed = await vi.waitFor(() => {
      const item = next.received.find((e) => e.type === 'conversation.item.create' && e.item.type === 'message' && e.item.role === 'assistant');
      expect(item).toBeDefined();
      return (item as { item: { content: { text: string }[] } }).item.content[0].text;
    });
    expect(text.startsWith(replayed)).toBe(true);
    expect(replayed.length).toBeGreaterThan(0);
    expect(replayed.length).toBeLessThan(text.length / 2); // ~1 s of 3 s heard: never the full answer
    call.sendStop();
  });
});
