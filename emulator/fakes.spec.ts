// Checks the two network fakes on their own and against each other, without the app: plain
// `ws` peers stand in for the app, and a tiny relay joins the fakes for one full call.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { FakeRealtimeServer } from './fake-realtime-server';
import { TwilioCallSimulator } from './twilio-call-simulator';
import { MessageLog } from './waiters';

// A JSON peer over a plain socket, with the same cursor-style waits as the fakes.
class Peer {
  readonly log = new MessageLog<any>();

  constructor(
    readonly ws: WebSocket,
    private readonly key: 'type' | 'event',
  ) {
    ws.on('message', (data) => this.log.push(JSON.parse(data.toString())));
  }

  send(message: object | string): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  next(kind: string, predicate: (m: any) => boolean = () => true, timeoutMs = 3_000): Promise<any> {
    return this.log.waitFor(
      (m) => m[this.key] === kind && predicate(m),
      timeoutMs,
      kind,
      (m) => String(m[this.key]),
    );
  }

  all(kind: string): any[] {
    return this.log.items.filter((m) => m[this.key] === kind);
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startRealtime(opts?: Parameters<typeof FakeRealtimeServer.start>[0]): Promise<FakeRealtimeServer> {
  const server = await FakeRealtimeServer.start(opts);
  cleanups.push(() => server.close());
  return server;
}

async function openRealtimeClient(server: FakeRealtimeServer, key = 'sk-test'): Promise<Peer> {
  const ws = new WebSocket(`${server.url}?model=gpt-realtime`, { headers: { Authorization: `Bearer ${key}` } });
  const peer = new Peer(ws, 'type');
  cleanups.push(() => ws.terminate());
  await once(ws, 'open');
  return peer;
}

// A stand-in for the app's Twilio endpoint: hands each accepted socket to the test.
async function startAppEndpoint(): Promise<{ url: string; nextSocket: () => Promise<Peer> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  cleanups.push(
    () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(resolve);
      }),
  );
  const peers = new MessageLog<Peer>();
  wss.on('connection', (ws) => peers.push(new Peer(ws, 'event')));
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/ws/call`,
    nextSocket: () =>
      peers.waitFor(
        () => true,
        3_000,
        'app connection',
        () => 'peer',
      ),
  };
}

async function connectCall(url: string, opts?: Parameters<typeof TwilioCallSimulator.connect>[1]): Promise<TwilioCallSimulator> {
  const call = await TwilioCallSimulator.connect(url, opts);
  cleanups.push(() => call.close());
  return call;
}

const mulaw = (ms: number, fill: number): Buffer => Buffer.alloc(ms * 8, fill);
const pcmuSession = { type: 'realtime', audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' } } } };

describe('FakeRealtimeServer', () => {
  it('greets with session.created and merges session.update', async () => {
    const server = await startRealtime();
    const client = await openRealtimeClient(server);
    const created = await client.next('session.created');
    expect(created.event_id).toMatch(/^event_/);
    expect(created.session).toMatchObject({ type: 'realtime', model: 'gpt-realtime', audio: { output: { format: { type: 'audio/pcm' } } } });

    const conn = await server.waitForConnection(0);
    expect(conn.model).toBe('gpt-realtime');
    expect(conn.headers.authorization).toBe('Bearer sk-test');

    client.send({ type: 'session.update', session: { ...pcmuSession, instructions: 'Be brief.' } });
    const updated = await client.next('session.updated');
    expect(updated.session.audio.input.format).toEqual({ type: 'audio/pcmu' });
    expect(updated.session.audio.input.turn_detection.type).toBe('server_vad'); // kept from before
    expect(updated.session.audio.output.voice).toBe('marin');
    expect(conn.session.instructions).toBe('Be brief.');
    expect(await conn.waitFor('session.update')).toMatchObject({ session: { instructions: 'Be brief.' } });

    // Beta-era shapes are refused, as by the GA service.
    client.send({ type: 'session.update', session: { type: 'realtime', input_audio_format: 'g711_ulaw' } });
    expect((await client.next('error')).error).toMatchObject({ type: 'invalid_request_error', code: 'unknown_parameter' });
    client.send({ type: 'session.update', session: { instructions: 'x' } });
    expect((await client.next('error')).error.param).toBe('session.type');
  });

  it('rejects a wrong API key with 401 and can delay the handshake', async () => {
    const server = await startRealtime({ requireApiKey: 'sk-right', handshakeDelayMs: 150 });
    const bad = new WebSocket(server.url, { headers: { Authorization: 'Bearer sk-wrong' } });
    const [error] = await once(bad, 'error');
    expect(String(error)).toContain('Unexpected server response: 401');

    const startedAt = performance.now();
    await openRealtimeClient(server, 'sk-right');
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(140);
    expect(server.connections).toHaveLength(1);
  });

  it('streams an audio response in order and validates truncation', async () => {
    const server = await startRealtime();
    const client = await openRealtimeClient(server);
    const conn = await server.waitForConnection();
    client.send({ type: 'session.update', session: pcmuSession });
    await client.next('session.updated');

    const chunks = [mulaw(100, 1), mulaw(100, 2), mulaw(50, 3)];
    const { responseId, itemId } = await conn.audioResponse({ chunks, transcript: 'Hello there, caller.' });
    const done = await client.next('response.done');
    expect(done.response).toMatchObject({ id: responseId, status: 'completed', output: [{ id: itemId, type: 'message', role: 'assistant' }] });

    const types = client.log.items.map((m) => m.type).filter((t) => t.startsWith('response.') || t.startsWith('conversation.'));
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.output_item.added', 'conversation.item.added', 'response.content_part.added']);
    expect(types.slice(-6)).toEqual([
      'response.output_audio.done',
      'response.output_audio_transcript.done',
      'response.content_part.done',
      'response.output_item.done',
      'conversation.item.done',
      'response.done',
    ]);
    const deltas = client.all('response.output_audio.delta');
    expect(deltas.every((d) => d.item_id === itemId && d.response_id === responseId)).toBe(true);
    expect(Buffer.concat(deltas.map((d) => Buffer.from(d.delta, 'base64')))).toEqual(Buffer.concat(chunks));
    expect(
      client
        .all('response.output_audio_transcript.delta')
        .map((d) => d.delta)
        .join(''),
    ).toBe('Hello there, caller.');

    // 250 ms of audio were produced (2000 bytes of mu-law).
    client.send({ type: 'conversation.item.truncate', item_id: 'item_unknown', content_index: 0, audio_end_ms: 10 });
    expect((await client.next('error')).error).toMatchObject({ type: 'invalid_request_error', param: 'item_id' });
    client.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: 251 });
    const beyond = await client.next('error');
    expect(beyond.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_value' });
    expect(beyond.error.message).toContain('audio_end_ms');
    client.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: 120 });
    expect(await client.next('conversation.item.truncated')).toMatchObject({ item_id: itemId, content_index: 0, audio_end_ms: 120 });
    expect(conn.truncations).toEqual([{ itemId, audioEndMs: 120 }]);
  });

  it('cancels a paced response on speech_started, after the late deltas', async () => {
    const server = await startRealtime();
    const client = await openRealtimeClient(server);
    const conn = await server.waitForConnection();
    client.send({ type: 'session.update', session: pcmuSession });
    await client.next('session.updated');

    const chunks = Array.from({ length: 20 }, (_, i) => mulaw(40, i));
    const response = conn.audioResponse({ chunks, paceMs: 20, lateDeltas: 2 });
    await client.next('response.output_audio.delta');
    await client.next('response.output_audio.delta');
    const userItem = conn.speechStarted();
    const { itemId } = await response;

    const done = await client.next('response.done');
    expect(done.response.status).toBe('cancelled');
    expect(done.response.status_details).toEqual({ type: 'cancelled', reason: 'turn_detected' });
    const types = client.log.items.map((m) => m.type);
    const started = types.indexOf('input_audio_buffer.speech_started');
    const deltasBefore = types.slice(0, started).filter((t) => t === 'response.output_audio.delta').length;
    const deltasAfter = types.slice(started).filter((t) => t === 'response.output_audio.delta').length;
    expect(deltasAfter).toBe(2);
    expect(deltasBefore).toBeLessThan(chunks.length - 2);
    expect(client.log.items[started].item_id).toBe(userItem);

    // Truncation is checked against what was actually produced, late deltas included.
    const producedMs = (deltasBefore + deltasAfter) * 40;
    client.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: producedMs });
    await client.next('conversation.item.truncated');

    client.send({ type: 'response.cancel' });
    expect((await client.next('error')).error.code).toBe('response_cancel_not_active');
  });

  it('round-trips a function call and returns successive matches from waitFor', async () => {
    const server = await startRealtime();
    const client = await openRealtimeClient(server);
    const conn = await server.waitForConnection();

    const { callIds } = conn.functionCallResponse([
      { name: 'lookup', arguments: '{"q":1}', callId: 'call_1' },
      { name: 'other', arguments: '{}' },
    ]);
    const argsDone = await client.next('response.function_call_arguments.done');
    expect(argsDone).toMatchObject({ call_id: 'call_1', name: 'lookup', arguments: '{"q":1}' });
    expect((await client.next('response.done')).response.output.map((i: any) => i.call_id)).toEqual(callIds);

    for (const callId of callIds) {
      client.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: callId, output: '{"ok":true}' } });
    }
    client.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_nope', output: '{}' } });
    client.send({ type: 'response.create' });
    client.send({ type: 'response.create', response: { instructions: 'again' } });

    const added = await client.next('conversation.item.added', (m) => m.item.type === 'function_call_output');
    expect(added.item.id).toMatch(/^item_/);
    await client.next('conversation.item.done', (m) => m.item.id === added.item.id);
    expect((await client.next('error')).error.param).toBe('item.call_id');

    const first = await conn.waitFor('response.create');
    const second = await conn.waitFor('response.create');
    expect(first.response).toBeUndefined();
    expect(second.response?.instructions).toBe('again');
    await expect(conn.waitFor('response.create', undefined, 50)).rejects.toThrow(/timed out/);
  });

  it('survives invalid JSON and counts appended audio', async () => {
    const server = await startRealtime();
    const client = await openRealtimeClient(server);
    const conn = await server.waitForConnection();
    client.send('{not json');
    expect((await client.next('error')).error.type).toBe('invalid_request_error');

    client.send({ type: 'input_audio_buffer.append', audio: mulaw(20, 7).toString('base64') });
    client.send({ type: 'input_audio_buffer.append', audio: mulaw(20, 8).toString('base64') });
    await conn.waitForAppendedBytes(320);
    expect(conn.appendCount()).toBe(2);
    expect(conn.appendedAudio()).toEqual(Buffer.concat([mulaw(20, 7), mulaw(20, 8)]));

    conn.close(4000, 'session expired');
    expect((await conn.waitForClose()).code).toBe(4000);
    expect(conn.closed).toBe(true);
  });
});

describe('TwilioCallSimulator', () => {
  it('opens the stream like Twilio and paces caller audio', async () => {
    const app = await startAppEndpoint();
    const call = await connectCall(app.url, { customParameters: { tenant: 'acme' } });
    const socket = await app.nextSocket();

    expect(await socket.next('connected')).toEqual({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    const start = await socket.next('start');
    expect(start).toMatchObject({
      sequenceNumber: '1',
      streamSid: call.streamSid,
      start: {
        callSid: call.callSid,
        tracks: ['inbound'],
        customParameters: { tenant: 'acme' },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });

    const startedAt = performance.now();
    await call.sendAudio(mulaw(200, 5)); // 10 frames, the last due 180 ms after the first
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(170);
    const last = await socket.next('media', (m) => m.media.chunk === '10');
    expect(last).toMatchObject({ sequenceNumber: '11', streamSid: call.streamSid, media: { track: 'inbound', timestamp: '180' } });
    expect(Buffer.from(last.media.payload, 'base64')).toHaveLength(160);

    call.sendDtmf('5');
    expect((await socket.next('dtmf')).dtmf).toEqual({ track: 'inbound_track', digit: '5' });
    call.sendStop();
    expect((await socket.next('stop')).stop).toEqual({ accountSid: call.accountSid, callSid: call.callSid });
    socket.ws.close(1000);
    expect((await call.waitForClose()).code).toBe(1000);
  });

  it('echoes a mark once the audio before it has played', async () => {
    const app = await startAppEndpoint();
    const call = await connectCall(app.url);
    const socket = await app.nextSocket();
    await socket.next('start');

    const audio = mulaw(200, 9);
    const sentAt = performance.now();
    socket.send({ event: 'media', streamSid: call.streamSid, media: { payload: audio.toString('base64') } });
    socket.send({ event: 'mark', streamSid: call.streamSid, mark: { name: 'a:200' } });
    const echo = await socket.next('mark');
    const elapsed = performance.now() - sentAt;
    expect(echo).toMatchObject({ streamSid: call.streamSid, mark: { name: 'a:200' } });
    expect(elapsed).toBeGreaterThan(150);
    expect(elapsed).toBeLessThan(400);
    expect(call.playedMs()).toBe(200);
    expect(call.heardAudio()).toEqual(audio);
    expect(call.echoedMarks).toEqual([{ name: 'a:200', cleared: false }]);

    // With nothing queued, a mark comes straight back.
    socket.send({ event: 'mark', streamSid: call.streamSid, mark: { name: 'idle' } });
    await socket.next('mark', (m) => m.mark.name === 'idle', 100);
    expect(call.protocolErrors).toEqual([]);
  });

  it('clear drops unplayed audio and echoes pending marks at once', async () => {
    const app = await startAppEndpoint();
    const call = await connectCall(app.url);
    const socket = await app.nextSocket();
    await socket.next('start');

    const first = Buffer.concat([mulaw(100, 1), mulaw(100, 2), mulaw(100, 3), mulaw(100, 4)]);
    for (let i = 0; i < 4; i++) {
      socket.send({ event: 'media', streamSid: call.streamSid, media: { payload: first.subarray(i * 800, (i + 1) * 800).toString('base64') } });
      socket.send({ event: 'mark', streamSid: call.streamSid, mark: { name: `m${i + 1}` } });
    }
    await socket.next('mark', (m) => m.mark.name === 'm1');
    const clearedAt = performance.now();
    socket.send({ event: 'clear', streamSid: call.streamSid });
    for (const name of ['m2', 'm3', 'm4']) await socket.next('mark', (m) => m.mark.name === name);
    expect(performance.now() - clearedAt).toBeLessThan(60);
    expect(call.echoedMarks).toEqual([
      { name: 'm1', cleared: false },
      { name: 'm2', cleared: true },
      { name: 'm3', cleared: true },
      { name: 'm4', cleared: true },
    ]);
    const atClear = call.clears[0].atPlayedMs;
    expect(atClear).toBeGreaterThanOrEqual(100);
    expect(atClear).toBeLessThan(200);

    // New audio plays from where the clear left off: played time grows only by it.
    const second = mulaw(100, 7);
    socket.send({ event: 'media', streamSid: call.streamSid, media: { payload: second.toString('base64') } });
    socket.send({ event: 'mark', streamSid: call.streamSid, mark: { name: 'after' } });
    await socket.next('mark', (m) => m.mark.name === 'after');
    expect(call.playedMs()).toBe(atClear + 100);
    expect(call.heardAudio()).toEqual(Buffer.concat([first.subarray(0, atClear * 8), second]));
    expect(call.receivedAudio()).toEqual(Buffer.concat([first, second]));
    expect(call.protocolErrors).toEqual([]);
  });

  it('records messages the real Twilio would reject', async () => {
    const app = await startAppEndpoint();
    const call = await connectCall(app.url);
    const socket = await app.nextSocket();
    await socket.next('start');

    socket.send('not json');
    socket.send({ streamSid: call.streamSid });
    socket.send({ event: 'media', streamSid: 'MZother', media: { payload: 'AAAA' } });
    socket.send({ event: 'media', streamSid: call.streamSid, media: {} });
    socket.send({ event: 'mark', streamSid: call.streamSid, mark: {} });
    socket.send({ event: 'mark', streamSid: call.streamSid, mark: { name: 'sync' } });
    await socket.next('mark');
    expect(call.protocolErrors).toHaveLength(5);
    expect(call.received.map((m) => m.event)).toEqual([undefined, 'media', 'media', 'mark', 'mark']);
  });
});

describe('the fakes against each other', () => {
  it('relays a call both ways and truncates at what the caller heard', async () => {
    const realtime = await startRealtime();
    const app = await startAppEndpoint();
    const call = await connectCall(app.url);
    const twilio = await app.nextSocket();
    const model = await openRealtimeClient(realtime);
    const conn = await realtime.waitForConnection();
    model.send({ type: 'session.update', session: pcmuSession });
    await model.next('session.updated');

    // The relay: caller audio to the model; model audio to the phone with a mark per delta
    // naming the item's cumulative ms; on speech_started, clear and truncate at the last
    // played mark (a simpler rule than the app's, but one the fake must accept).
    let itemId = '';
    let sentMs = 0;
    let heardMs = 0;
    let interrupted = false; // marks echoed because of our clear were not heard
    twilio.ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.event === 'media') model.send({ type: 'input_audio_buffer.append', audio: m.media.payload });
      if (m.event === 'mark' && !interrupted) heardMs = Number(m.mark.name);
    });
    model.ws.on('message', (data) => {
      const e = JSON.parse(data.toString());
      if (e.type === 'response.output_audio.delta') {
        itemId = e.item_id;
        sentMs += Buffer.from(e.delta, 'base64').length / 8;
        twilio.send({ event: 'media', streamSid: call.streamSid, media: { payload: e.delta } });
        twilio.send({ event: 'mark', streamSid: call.streamSid, mark: { name: String(sentMs) } });
      }
      if (e.type === 'input_audio_buffer.speech_started' && heardMs < sentMs) {
        interrupted = true;
        twilio.send({ event: 'clear', streamSid: call.streamSid });
        model.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: heardMs });
      }
    });

    const callerAudio = mulaw(100, 0x55);
    await call.sendAudio(callerAudio, { paced: false });
    await conn.waitForAppendedBytes(callerAudio.length);
    expect(conn.appendedAudio()).toEqual(callerAudio);

    // The model answers faster than real time: 1 s of audio in 10 quick deltas.
    const reply = Array.from({ length: 10 }, (_, i) => mulaw(100, 0x10 + i));
    const { itemId: replyItem } = await conn.audioResponse({ chunks: reply, paceMs: 5 });
    await call.waitFor('mark', (m) => m.mark.name === '300', 2_000);
    await twilio.next('mark', (m) => m.mark.name === '300');
    conn.speechStarted();

    const truncate = await conn.waitFor('conversation.item.truncate');
    expect(truncate).toMatchObject({ item_id: replyItem, audio_end_ms: 300 });
    await model.next('conversation.item.truncated');
    expect(conn.errors).toEqual([]);
    await call.waitFor('clear');
    expect(call.echoedMarks.filter((m) => m.cleared).length).toBeGreaterThan(0);
    // The caller heard the first 300 ms in full and at most a little of the fourth chunk.
    const heard = call.heardAudio();
    expect(heard.subarray(0, 2400)).toEqual(Buffer.concat(reply.slice(0, 3)));
    expect(heard.length).toBeLessThan(3200);
    expect(call.protocolErrors).toEqual([]);
  });
});
