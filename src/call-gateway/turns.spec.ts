import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadAppConfig } from '../config/app-config';
import type { AgentTool } from '../tools/agent-tool';
import { ToolRegistry } from '../tools/tool-registry.service';
import type { CallEventBody } from './call-events';
import { FunctionCalls } from './function-calls';
import { HANGUP_GRACE_MS, type OwedRequest, Turns, type TurnsHost } from './turns';

/** A tool that answers when the test says so. */
function slowTool(name: string) {
  let release: (value: unknown) => void = () => undefined;
  const tool: AgentTool = {
    name,
    description: name,
    parameters: { type: 'object', properties: {} },
    run: () => new Promise((resolve) => (release = resolve)),
  };
  return { tool, release: (value: unknown) => release(value) };
}

function setup(opts: { modelThere?: boolean; tools?: AgentTool[] } = {}) {
  const sent: OwedRequest[] = [];
  const outputs: { callId: string; output: string }[] = [];
  const events: CallEventBody[] = [];
  const state = { modelThere: opts.modelThere ?? true, playing: false, marksPending: 0, hungUp: 0, failures: [] as unknown[] };
  const host: TurnsHost = {
    sendRequest: (request) => {
      if (!state.modelThere) return false;
      sent.push(request);
      return true;
    },
    sendToolResult: (callId, output) => outputs.push({ callId, output }),
    isPlaying: () => state.playing,
    playbackDone: () => state.marksPending === 0,
    hangUp: () => state.hungUp++,
    failed: (err) => state.failures.push(err),
  };
  const endCall: AgentTool = {
    name: 'end_call',
    description: 'hang up',
    parameters: { type: 'object', properties: {} },
    run: async (_args, context) => {
      context.requestHangup();
      return { ok: true };
    },
  };
  const tools = opts.tools ?? [];
  const registry = new ToolRegistry([endCall, ...tools], loadAppConfig({}));
  const abort = new AbortController();
  const offered = new Set(['end_call', ...tools.map((t) => t.name)]);
  const ref: { turns?: Turns } = {};
  const requestHangup = () => ref.turns?.requestHangup();
  const calls = new FunctionCalls(registry, offered, { callSid: 'CA1', signal: abort.signal, requestHangup }, (e) => events.push(e));
  const turns = (ref.turns = new Turns(host, calls));
  return { turns, sent, outputs, events, state, abort };
}

describe('Turns: one response at a time', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends a request at once when nothing is running', () => {
    const { turns, sent } = setup();
    turns.request('greeting', 'Say hello.');
    expect(sent).toEqual([{ ref: 1, reason: 'greeting', instructions: 'Say hello.' }]);
    expect(turns.state.kind).toBe('requested');
  });

  it('holds a request made while a response is active (collision) and sends it on response.done', () => {
    const { turns, sent } = setup();
    turns.onResponseStarted('resp_vad'); // the service answers the caller on its own (server VAD)
    turns.request('instructions', 'Tell them the order shipped.');
    expect(sent).toEqual([]);
    turns.onResponseDone({ responseId: 'resp_vad', status: 'completed', usage: null });
    expect(sent.map((r) => r.instructions)).toEqual(['Tell them the order shipped.']);
  });

  it('asks again when the service refuses a request because another response became active first', () => {
    const { turns, sent } = setup();
    turns.request('greeting', 'Say hello.');
    turns.onResponseStarted('resp_vad'); // not ours: the service's own, created before our request arrived
    turns.onRequestRefused(1);
    expect(turns.owedRequests.map((r) => r.ref)).toEqual([1]);
    turns.onResponseDone({ responseId: 'resp_vad', status: 'completed', usage: null });
    expect(sent.map((r) => r.ref)).toEqual([1, 1]);
    expect(turns.state).toMatchObject({ kind: 'requested' });
  });

  it('treats a refusal while still waiting as "some response is active" and waits for its end', () => {
    const { turns, sent } = setup();
    turns.request('greeting', 'Say hello.');
    turns.onRequestRefused(1); // the active response's events were never seen
    expect(turns.state).toMatchObject({ kind: 'active', responseId: null });
    turns.request('tool-results');
    expect(sent).toHaveLength(1);
    turns.onResponseDone({ responseId: 'resp_unknown', status: 'completed', usage: null });
    expect(sent.map((r) => r.reason)).toEqual(['greeting', 'greeting']);
    turns.onResponseStarted('resp_greeting');
    turns.onResponseDone({ responseId: 'resp_greeting', status: 'completed', usage: null });
    expect(sent.map((r) => r.reason)).toEqual(['greeting', 'greeting', 'tool-results']);
  });

  it('keeps requests owed while the model is away and sends them when it is back', () => {
    const { turns, sent, state } = setup({ modelThere: false });
    turns.request('greeting', 'Say hello.');
    expect(sent).toEqual([]);
    state.modelThere = true;
    turns.onLinkOpen();
    expect(sent).toHaveLength(1);
  });

  it('asks again for a response lost with the connection, and for our own request with its instructions', () => {
    const { turns, sent, state } = setup();
    turns.request('greeting', 'Say hello.');
    turns.onResponseStarted('resp_1');
    state.modelThere = false;
    turns.onLinkLost();
    expect(turns.state.kind).toBe('idle');
    state.modelThere = true;
    turns.onLinkOpen();
    expect(sent.map((r) => r.instructions)).toEqual(['Say hello.', 'Say hello.']);
    // A response the service started on its own is resumed with a plain request.
    turns.onResponseStarted('resp_2');
    turns.onResponseDone({ responseId: 'resp_2', status: 'completed', usage: null });
    turns.onResponseStarted('resp_vad');
    turns.onLinkLost();
    turns.onLinkOpen();
    expect(sent.at(-1)).toMatchObject({ reason: 'resume' });
    expect(sent.at(-1)?.instructions).toBeUndefined();
  });

  it('merges plain requests that are owed at the same time', () => {
    const { turns, sent } = setup();
    turns.onResponseStarted('resp_1');
    turns.request('tool-results');
    turns.request('tool-results');
    turns.onResponseDone({ responseId: 'resp_1', status: 'completed', usage: null });
    expect(sent).toHaveLength(1);
  });

  it('is quiet only when nothing runs, nothing is owed, nobody speaks and nothing plays', () => {
    const { turns, state } = setup();
    expect(turns.isQuiet()).toBe(true);
    turns.onSpeechStarted();
    expect(turns.isQuiet()).toBe(false);
    turns.onSpeechStopped();
    state.playing = true;
    expect(turns.isQuiet()).toBe(false);
    state.playing = false;
    turns.onResponseStarted('r');
    expect(turns.isQuiet()).toBe(false);
  });
});

describe('Turns: tool results', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('speaks a tool result that lands while the caller’s next turn is being answered, after that answer', async () => {
    const lookup = slowTool('lookup');
    const { turns, sent, outputs } = setup({ tools: [lookup.tool] });
    turns.onResponseStarted('resp_1');
    turns.onToolCall({ callId: 'call_1', name: 'lookup', arguments: '{}' });
    turns.onResponseDone({ responseId: 'resp_1', status: 'completed', usage: null });
    // The caller talks meanwhile; the service answers that turn.
    turns.onResponseStarted('resp_vad');
    lookup.release({ found: true });
    await vi.waitFor(() => expect(outputs).toHaveLength(1));
    expect(sent).toEqual([]); // not while resp_vad is active
    turns.onResponseDone({ responseId: 'resp_vad', status: 'completed', usage: null });
    expect(sent.map((r) => r.reason)).toEqual(['tool-results']);
    expect(turns.isQuiet()).toBe(false); // requested, not stuck: done lands next
    turns.onResponseStarted('resp_3');
    turns.onResponseDone({ responseId: 'resp_3', status: 'completed', usage: null });
    expect(turns.isQuiet()).toBe(true);
  });

  it('answers several calls of one response together, then asks once', async () => {
    const a = slowTool('a');
    const b = slowTool('b');
    const { turns, sent, outputs } = setup({ tools: [a.tool, b.tool] });
    turns.onResponseStarted('resp_1');
    turns.onToolCall({ callId: 'c1', name: 'a', arguments: '{}' });
    turns.onToolCall({ callId: 'c2', name: 'b', arguments: '{}' });
    turns.onResponseDone({ responseId: 'resp_1', status: 'completed', usage: null });
    b.release(2);
    a.release(1);
    await vi.waitFor(() => expect(sent).toHaveLength(1));
    expect(outputs.map((o) => o.callId)).toEqual(['c1', 'c2']);
  });

  it('refuses a tool not offered to this call without running it', async () => {
    const { turns, outputs, events } = setup();
    turns.onResponseStarted('resp_1');
    turns.onToolCall({ callId: 'c1', name: 'get_weather_from_coords', arguments: '{}' });
    turns.onResponseDone({ responseId: 'resp_1', status: 'completed', usage: null });
    await vi.waitFor(() => expect(outputs).toHaveLength(1));
    expect(JSON.parse(outputs[0].output)).toEqual({ error: 'Unknown tool "get_weather_from_coords"' });
    expect(events.find((e) => e.type === 'function_call.finished')).toMatchObject({ error: 'Unknown tool "get_weather_from_coords"' });
  });
});

describe('Turns: end_call', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('hangs up after a spoken goodbye once every mark is echoed, without asking for another response', async () => {
    const { turns, sent, state } = setup();
    turns.onResponseStarted('resp_bye');
    turns.onAudio();
    state.marksPending = 3;
    turns.onToolCall({ callId: 'c1', name: 'end_call', arguments: '{}' });
    turns.onResponseDone({ responseId: 'resp_bye', status: 'completed', usage: null });
    await vi.waitFor(() => expect(turns.functionCalls.busy).toBe(false));
    expect(sent).toEqual([]);
    expect(state.hungUp).toBe(0); // the goodbye is still playing
    state.marksPending = 0;
    turns.maybeHangUp();
    expect(state.hungUp).toBe(1);
  });

  it('asks for a goodbye when end_call came without one, then hangs up after it', async () => {
    const { turns, sent, state } = setup();
    turns.onResponseStarted('resp_1');
    turns.onToolCall({ callId: 'c1', name: 'end_call', arguments: '{}' });
    turns.onResponseDone({ responseId: 'resp_1', status: 'completed', usage: null });
    await vi.waitFor(() => expect(sent).toHaveLength(1));
    expect(state.hungUp).toBe(0);
    turns.onResponseStarted('resp_bye');
    turns.onAudio();
    turns.onResponseDone({ responseId: 'resp_bye', status: 'completed', usage: null });
    expect(state.hungUp).toBe(1);
  });

  it('is not blocked by a collision: a refused goodbye request goes out later and the call still ends', async () => {
    const { turns, sent, state } = setup();
    turns.onResponseStarted('resp_1');
    turns.onToolCall({ callId: 'c1', name: 'end_call', arguments: '{}' });
    turns.onResponseDone({ responseId: 'resp_1', status: 'completed', usage: null });
    await vi.waitFor(() => expect(sent).toHaveLength(1));
    turns.onRequestRefused(sent[0].ref);
    turns.onResponseDone({ responseId: 'resp_other', status: 'completed', usage: null });
    expect(sent).toHaveLength(2);
    turns.onResponseStarted('resp_bye');
    turns.onResponseDone({ responseId: 'resp_bye', status: 'completed', usage: null });
    expect(state.hungUp).toBe(1);
  });

  it('hangs up after the grace period if the goodbye never finishes playing', async () => {
    const { turns, state } = setup();
    turns.onResponseStarted('resp_bye');
    turns.onAudio();
    state.marksPending = 1; // marks never come back
    turns.onToolCall({ callId: 'c1', name: 'end_call', arguments: '{}' });
    turns.onResponseDone({ responseId: 'resp_bye', status: 'completed', usage: null });
    await vi.advanceTimersByTimeAsync(0); // the tool runs (it asks to hang up) and its output is sent
    expect(turns.functionCalls.busy).toBe(false);
    vi.advanceTimersByTime(HANGUP_GRACE_MS - 1);
    expect(state.hungUp).toBe(0);
    vi.advanceTimersByTime(1);
    expect(state.hungUp).toBe(1);
  });

  it('leaves no timer and sends nothing once closed', async () => {
    const { turns, sent, state } = setup();
    turns.requestHangup();
    expect(vi.getTimerCount()).toBe(1);
    turns.close();
    expect(vi.getTimerCount()).toBe(0);
    turns.request('greeting', 'Hi');
    vi.advanceTimersByTime(HANGUP_GRACE_MS * 2);
    expect(sent).toEqual([]);
    expect(state.hungUp).toBe(0);
  });
});
