// The GPT-Live emulator on its own, with a plain `ws` peer standing in for the app: it must be as
// strict as the real service (so the app is tested against what it would reject) and speak the
// protocol on its own (acknowledgements, usage, session.closed with its reasons).
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { FakeLiveServer, type FakeLiveServerOptions } from './fake-live-server';
import { ScriptedLiveModel } from './live-voice-model';
import { MessageLog } from './waiters';

class Peer {
  readonly log = new MessageLog<any>();
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.log.push(JSON.parse(data.toString())));
  }
  send(message: object): void {
    this.ws.send(JSON.stringify(message));
  }
  next(type: string, predicate: (m: any) => boolean = () => true, timeoutMs = 3_000): Promise<any> {
    return this.log.waitFor(
      (m) => m.type === type && predicate(m),
      timeoutMs,
      type,
      (m) => String(m.type),
    );
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startLive(opts?: FakeLiveServerOptions): Promise<FakeLiveServer> {
  const server = await FakeLiveServer.start(opts);
  cleanups.push(() => server.close());
  return server;
}

async function connect(url: string): Promise<Peer> {
  const ws = new WebSocket(url, { headers: { Authorization: 'Bearer sk-test' } });
  const peer = new Peer(ws);
  cleanups.push(() => ws.terminate());
  await once(ws, 'open');
  return peer;
}

const START = {
  type: 'session.start',
  event_id: 'start',
  session: {
    model: 'gpt-live-1.1',
    instructions: 'Be brief.',
    audio: { format: { type: 'audio/pcmu', rate: 8000 }, output: { voice: 'marin' } },
    delegation: { type: 'responses', responses: { model: 'gpt-5.4-mini', tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object' } }] } },
  },
};

describe('FakeLiveServer', () => {
  it('refuses a query string on the URL and a missing key, before any session', async () => {
    const server = await startLive({ requireApiKey: 'sk-test' });
    const refused = new WebSocket(`${server.url}?model=gpt-live-1`, { headers: { Authorization: 'Bearer sk-test' } });
    const [, res] = (await once(refused, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(res.statusCode).toBe(400);
    const unauthorised = new WebSocket(server.url, { headers: { Authorization: 'Bearer nope' } });
    const [, res401] = (await once(unauthorised, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(res401.statusCode).toBe(401);
  });

  it('rejects anything before session.start, and audio before session.started', async () => {
    const server = await startLive({ startDelayMs: 100 });
    const peer = await connect(server.url);
    peer.send({ type: 'session.input_audio.append', audio: 'AAAA', event_id: 'a1' });
    expect((await peer.next('error')).error).toMatchObject({ code: 'session_not_started', client_event_id: 'a1' });
    peer.send(START);
    peer.send({ type: 'session.input_audio.append', audio: 'AAAA', event_id: 'a2' }); // between start and started
    expect((await peer.next('error')).error).toMatchObject({ code: 'session_not_started', client_event_id: 'a2' });
    const started = await peer.next('session.started');
    expect(started.session).toMatchObject({ model: 'gpt-live-1.1', status: 'active', audio: { format: { type: 'audio/pcmu', rate: 8000 } } });
    expect(started.session.expires_at).toBeGreaterThan(Date.now() / 1000 + 3000);
    const connection = server.connections[0];
    peer.send({ type: 'session.input_audio.append', audio: 'AAAA' });
    await connection.waitForAppendedBytes(3);
    expect(connection.errors).toHaveLength(2);
  });

  it.for<[string, Record<string, unknown>, RegExp]>([
    ['an unknown session field', { ...START.session, voice: 'marin' }, /Unknown parameter: 'session.voice'/],
    ['a Realtime-style turn detection', { ...START.session, audio: { ...START.session.audio, input: { turn_detection: null } } }, /session.audio.input/],
    ['μ-law without its rate', { ...START.session, audio: { format: { type: 'audio/pcmu' } } }, /session.audio.format.rate/],
    ['a model that is not GPT-Live', { ...START.session, model: 'gpt-realtime-2.1' }, /does not exist/],
    ['an unknown backend field', { ...START.session, delegation: { type: 'responses', responses: { model: 'm', temperature: 1 } } }, /responses.temperature/],
    [
      'a history message with two parts',
      { ...START.session, input: [{ type: 'message', role: 'user', content: [{ text: 'a' }, { text: 'b' }] }] },
      /exactly one text part/,
    ],
  ])('refuses session.start with %s, naming the parameter', async ([, session, message]) => {
    const server = await startLive();
    const peer = await connect(server.url);
    peer.send({ type: 'session.start', event_id: 'start', session });
    const error = await peer.next('error');
    expect(error.error.message).toMatch(message);
    expect(error.error.client_event_id).toBe('start');
    expect(server.connections[0].started).toBe(false);
  });

  it('holds commentary to the protocol: delegation_id required, no ids with Responses delegation, 500 tokens', async () => {
    const server = await startLive();
    const peer = await connect(server.url);
    peer.send(START);
    await peer.next('session.started');
    peer.send({ type: 'session.commentary.append', event_id: 'c1', content: 'Say hi.' });
    expect((await peer.next('error')).error).toMatchObject({ code: 'missing_required_parameter', client_event_id: 'c1' });
    peer.send({ type: 'session.commentary.append', event_id: 'c2', delegation_id: 'dlg_x', content: 'Say hi.' });
    expect((await peer.next('error')).error).toMatchObject({ code: 'invalid_value', client_event_id: 'c2' });
    peer.send({ type: 'session.commentary.append', event_id: 'c3', delegation_id: null, content: 'x'.repeat(2001) });
    expect((await peer.next('error')).error).toMatchObject({ code: 'content_too_long' });
    peer.send({ type: 'session.commentary.append', event_id: 'c4', delegation_id: null, content: 'Greet the caller.' });
    expect(await peer.next('session.commentary.appended')).toMatchObject({ client_event_id: 'c4' });
    // Model, instructions and audio are fixed at start; only the delegation's settings may change.
    peer.send({ type: 'session.update', event_id: 'u1', session: { instructions: 'New.' } });
    expect((await peer.next('error')).error).toMatchObject({ code: 'immutable_parameter', param: 'session.instructions' });
    peer.send({ type: 'session.update', event_id: 'u2', session: { delegation: { type: 'responses', responses: { tools: [] } } } });
    expect(await peer.next('session.updated')).toMatchObject({ client_event_id: 'u2' });
  });

  it('session.update changes the backend as the types allow (instructions, model, reasoning, tools), sparsely, and nothing else', async () => {
    const server = await startLive();
    const peer = await connect(server.url);
    peer.send(START);
    await peer.next('session.started');
    const connection = server.connections[0];
    const refusals: [object, string][] = [
      [{ responses: { model: null } }, 'session.delegation.responses.model'], // may be omitted, never null
      [{ responses: { instructions: 42 } }, 'session.delegation.responses.instructions'],
      [{ responses: { voice: 'sage' } }, 'session.delegation.responses.voice'],
      [{ responses: { reasoning: { effort: 'extreme' } } }, 'session.delegation.responses.reasoning.effort'],
      [{ responses: { tool_choice: 'sometimes' } }, 'session.delegation.responses.tool_choice'],
      [{ acknowledgement_delay_ms: -1 }, 'session.delegation.acknowledgement_delay_ms'],
      [{ decisions: {} }, 'session.delegation.decisions'],
    ];
    for (const [i, [fields, param]] of refusals.entries()) {
      peer.send({ type: 'session.update', event_id: `bad${i}`, session: { delegation: { type: 'responses', ...fields } } });
      expect((await peer.next('error', (m) => m.error.client_event_id === `bad${i}`)).error).toMatchObject({ param });
    }
    peer.send({ type: 'session.update', event_id: 'owner', session: { delegation: { type: 'client' } } });
    expect((await peer.next('error', (m) => m.error.client_event_id === 'owner')).error).toMatchObject({ code: 'immutable_parameter' });
    expect(connection.updates).toEqual([]);

    peer.send({
      type: 'session.update',
      event_id: 'u1',
      session: { delegation: { type: 'responses', responses: { instructions: 'Only talk about trains.', model: 'gpt-5.4', reasoning: { effort: 'low' } } } },
    });
    const updated = await peer.next('session.updated', (m) => m.client_event_id === 'u1');
    // Omitted settings (the tools) keep their values; the Live model's own instructions are untouched.
    const backend = { ...START.session.delegation.responses, instructions: 'Only talk about trains.', model: 'gpt-5.4', reasoning: { effort: 'low' } };
    expect(updated.session.delegation).toEqual({ type: 'responses', responses: backend });
    expect(updated.session.instructions).toBe('Be brief.');
    expect(connection.backend).toEqual(backend);
    expect(connection.updates).toEqual([
      { delegation: { type: 'responses', responses: expect.objectContaining({ instructions: 'Only talk about trains.' }) } },
    ]);
    // What session.start sent stays as sent.
    expect(connection.start?.delegation).toEqual(START.session.delegation);
  });

  it('delegates function calls to the backend and takes outputs only for calls it made', async () => {
    const server = await startLive();
    const peer = await connect(server.url);
    peer.send(START);
    await peer.next('session.started');
    const connection = server.connections[0];
    const { callIds, responseId } = connection.delegate([{ name: 'get_weather', arguments: '{"city":"Paris"}' }]);
    expect(await peer.next('session.delegation.created')).toMatchObject({ delegation: { target: 'responses', response_id: responseId } });
    const done = await peer.next('response.event', (m) => m.event.type === 'response.output_item.done');
    expect(done.event.item).toMatchObject({ type: 'function_call', call_id: callIds[0], name: 'get_weather', arguments: '{"city":"Paris"}' });
    const completed = await peer.next('response.event', (m) => m.event.type === 'response.completed');
    expect(completed.event.response).toMatchObject({ id: responseId, status: 'completed', usage: { total_tokens: expect.any(Number) } });
    peer.send({ type: 'response.item.create', event_id: 'o1', item: { type: 'function_call_output', call_id: 'call_unknown', output: '{}' } });
    expect((await peer.next('error')).error).toMatchObject({ param: 'item.call_id', client_event_id: 'o1' });
    peer.send({ type: 'response.item.create', item: { type: 'function_call_output', call_id: callIds[0], output: '{"temp":18}' } });
    peer.send({ type: 'response.create', event_id: 'r1' });
    await connection.waitFor('response.create');
    expect(connection.toolOutputs).toEqual([{ callId: callIds[0], output: '{"temp":18}' }]);
    expect(connection.pendingCalls).toEqual([]);
  });

  it('reports cumulative usage, closes with close_requested on session.close, and expires on its own', async () => {
    const server = await startLive({ usageIntervalMs: 50, sessionSeconds: 0.4 });
    const peer = await connect(server.url);
    peer.send(START);
    await peer.next('session.started');
    const first = await peer.next('session.usage.updated');
    const second = await peer.next('session.usage.updated');
    expect(second.usage.seconds).toBeGreaterThanOrEqual(first.usage.seconds);
    const closed = await peer.next('session.closed', () => true, 2_000);
    expect(closed).toMatchObject({ reason: 'expired', usage: { seconds: expect.any(Number) } });
    expect(closed.usage.seconds).toBeGreaterThanOrEqual(0.35);
    await once(peer.ws, 'close');

    const again = await connect(server.url);
    again.send(START);
    await again.next('session.started');
    again.send({ type: 'session.close' });
    expect(await again.next('session.closed')).toMatchObject({ reason: 'close_requested' });
  });

  it('answers pings until frozen', async () => {
    const server = await startLive();
    const peer = await connect(server.url);
    peer.ws.ping();
    await once(peer.ws, 'pong');
    server.connections[0].freeze();
    let ponged = false;
    peer.ws.on('pong', () => (ponged = true));
    peer.ws.ping();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ponged).toBe(false);
    expect(server.connections[0].pings).toBe(2);
  });

  it('scripted model: greets on commentary, faster than real time, and stops by itself when the caller talks', async () => {
    const model = new ScriptedLiveModel({ chunkMs: 100, speedUp: 4, lateChunks: 1 });
    const server = await startLive({ onConnection: (c) => model.attach(c) });
    const peer = await connect(server.url);
    peer.send(START);
    await peer.next('session.started');
    const t0 = performance.now();
    peer.send({ type: 'session.commentary.append', delegation_id: null, content: 'Speak to the caller now. Greet them.' });
    await peer.next('session.output_audio.delta');
    const loud = Buffer.alloc(160, 0x10).toString('base64');
    await new Promise((resolve) => setTimeout(resolve, 150));
    // Time spoken is compared with the time until the caller talked, not with the wait after it
    // (which a loaded machine stretches while the cut model rightly sends nothing).
    const elapsedAtCut = performance.now() - t0;
    for (let i = 0; i < 5; i++) peer.send({ type: 'session.input_audio.append', audio: loud });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const audio = peer.log.items.filter((m) => m.type === 'session.output_audio.delta');
    const sentMs = audio.reduce((sum, m) => sum + Buffer.from(m.delta, 'base64').length / 8, 0);
    // Faster than real time: more audio than the time it took.
    expect(sentMs).toBeGreaterThan(elapsedAtCut);
    expect(server.connections[0].isSpeaking).toBe(false);
  });
});
