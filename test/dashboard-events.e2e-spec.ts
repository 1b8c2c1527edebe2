import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'vitest';
import { expect, it } from './support/fixture';
import { LogsClient, type LogEvent } from './support/logs-client';
import { chunks, markOf, testAudio } from './support/test-app';

/** The documented contract (README, "Call events"): required and optional fields of each call event. */
const CONTRACT: Record<string, { required: Record<string, string>; optional?: Record<string, string> }> = {
  'call.started': {
    required: {
      streamSid: 'string',
      from: 'string',
      to: 'string',
      direction: 'string',
      startedAt: 'string',
      engine: 'string',
      model: 'string',
      voice: 'string',
    },
  },
  'call.ended': {
    required: {
      reason: 'string',
      durationMs: 'number',
      framesIn: 'number',
      framesOut: 'number',
      badFrames: 'number',
      lateDeltasDropped: 'number',
      firstAudioMs: 'number|null',
      bargeIns: 'number',
      reconnects: 'number',
    },
    optional: { detail: 'string', audioInMs: 'number', audioOutMs: 'number' },
  },
  'model.status': {
    required: { status: 'string' },
    optional: {
      connectMs: 'number',
      detail: 'string',
      attempt: 'number',
      reconnectMs: 'number',
      heldFrames: 'number',
      droppedFrames: 'number',
      problem: 'object',
    },
  },
  'transcript.delta': { required: { role: 'string', itemId: 'string', delta: 'string' } },
  'transcript.done': { required: { role: 'string', itemId: 'string', text: 'string' } },
  barge_in: { required: { itemId: 'string', audioEndMs: 'number', sentMs: 'number', items: 'number', cuts: 'object' } },
  'function_call.started': { required: { callId: 'string', name: 'string', arguments: 'string' } },
  'function_call.finished': {
    required: { callId: 'string', name: 'string', output: 'string', durationMs: 'number', answeredBy: 'string' },
    optional: { error: 'string' },
  },
  dtmf: { required: { digit: 'string' } },
  usage: {
    required: {
      responseId: 'string',
      status: 'string',
      model: 'string',
      inputTokens: 'number',
      outputTokens: 'number',
      totalTokens: 'number',
      inputAudioTokens: 'number',
      outputAudioTokens: 'number',
      cachedTokens: 'number',
    },
    optional: { engine: 'string', cachedAudioTokens: 'number', cachedTextTokens: 'number', billedSeconds: 'number' },
  },
  // Published by the records' cost meter after each priced usage (null: the model has no price).
  cost: { required: { responseId: 'string', model: 'string', usd: 'number|null', totalUsd: 'number|null' } },
  error: { required: { source: 'string', message: 'string' }, optional: { code: 'string' } },
  latency: { required: { kind: 'string', ms: 'number' } },
};

function expectContract(event: LogEvent): void {
  const spec = CONTRACT[event.type];
  expect(spec, `undocumented event type ${event.type}`).toBeDefined();
  const { v, type, callSid, ts, ...fields } = event;
  expect({ v, type, callSid: typeof callSid, ts }).toEqual({
    v: 1,
    type: event.type,
    callSid: 'string',
    ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
  });
  const kindOf = (value: unknown) => (value === null ? 'null' : typeof value);
  for (const [name, kinds] of Object.entries(spec.required)) expect(kinds.split('|'), `${event.type}.${name}`).toContain(kindOf(fields[name]));
  for (const [name, value] of Object.entries(fields)) {
    const kinds = spec.required[name] ?? spec.optional?.[name];
    expect(kinds, `${event.type} has an undocumented field ${name}`).toBeDefined();
    expect(kinds.split('|'), `${event.type}.${name}`).toContain(kindOf(value));
  }
}

describe('the dashboard socket: events', () => {
  it('sends every kind of call event in the documented envelope, and nothing else', async ({ startApp, placeCall }) => {
    const app = await startApp();
    const logs = await LogsClient.connect(app);
    const { call, model, callSid: sid } = await placeCall(app);
    await logs.waitFor('model.status', (e) => e.status === 'connected');

    const user = model.speechStarted();
    model.speechStopped(user);
    model.userTranscript(user, 'Hello?');
    const { itemId } = await model.audioResponse({ chunks: [testAudio(8000, 1), testAudio(8000, 2)], transcript: 'Hi there, how can I help?' });
    await logs.waitFor('usage');
    model.speechStarted(); // the 2 s answer is still playing
    await logs.waitFor('barge_in');
    model.functionCallResponse([{ name: 'no_such_tool', arguments: '{"x":1}' }]);
    await logs.waitFor('function_call.finished');
    call.sendDtmf('4');
    await logs.waitFor('dtmf');
    model.error({ code: 'oops', message: 'Something went wrong' });
    await logs.waitFor('error');
    call.sendStop();
    await logs.waitFor('call.ended');

    const types = new Set(logs.events.map((e) => e.type));
    expect([...types].sort()).toEqual(Object.keys(CONTRACT).sort());
    for (const event of logs.events) {
      expectContract(event);
      expect(event.callSid).toBe(sid);
    }
    expect(logs.events.find((e) => e.type === 'barge_in')).toMatchObject({ itemId, sentMs: 2000 });
    expect(logs.events.find((e) => e.type === 'usage')).toMatchObject({ status: 'completed', totalTokens: expect.any(Number) });
    expect(logs.events.find((e) => e.type === 'usage')!.totalTokens).toBeGreaterThan(0);
    expect(logs.events.find((e) => e.type === 'function_call.finished')).toMatchObject({ answeredBy: 'tool', error: 'Unknown tool "no_such_tool"' });
    // Every kind is documented in the README's contract too.
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    for (const type of Object.keys(CONTRACT)) expect(readme).toContain(`\`${type}\``);
    logs.close();
  });

  it('gives a dashboard that joins mid-call the live calls and their transcript so far, then live events', async ({ startApp, placeCall }) => {
    const app = await startApp();
    const early = await LogsClient.connect(app); // makes ask_operator available, and watches
    const a = await placeCall(app);
    const b = await placeCall(app);
    const user = a.model.speechStarted();
    a.model.speechStopped(user);
    a.model.userTranscript(user, 'Can I talk to a person?');
    const answer = await a.model.audioResponse({ chunks: chunks(testAudio(16000, 3), 1600), transcript: 'Let me ask my colleague.' });
    a.model.speechStarted();
    await early.waitFor('barge_in');
    const { callIds } = a.model.functionCallResponse([{ name: 'ask_operator', arguments: '{"question":"Transfer?"}' }]);
    await early.waitFor('function_call.started');

    const late = await LogsClient.connect(app);
    const snapshot = await late.waitFor('snapshot');
    expect(late.messages[0]).toBe(snapshot); // first, before any live event
    expect(snapshot).toMatchObject({ v: 1, callSid: null, id: null, ts: expect.any(String) });
    const calls = snapshot.calls as any[];
    expect(calls.map((c) => c.callSid).sort()).toEqual([a.callSid, b.callSid].sort());
    const callA = calls.find((c) => c.callSid === a.callSid);
    expect(callA).toMatchObject({
      streamSid: a.call.streamSid,
      from: '+15551230000',
      to: '+15559870000',
      direction: 'inbound',
      startedAt: expect.any(String),
      modelStatus: 'connected',
    });
    expect(callA.transcript).toEqual([
      { itemId: user, role: 'user', text: 'Can I talk to a person?', final: true, at: expect.any(String) },
      { itemId: answer.itemId, role: 'assistant', text: 'Let me ask my colleague.', final: true, interruptedAtMs: expect.any(Number), at: expect.any(String) },
    ]);
    expect(callA.functionCalls).toEqual([{ callId: callIds[0], name: 'ask_operator', arguments: '{"question":"Transfer?"}', status: 'running' }]);
    expect(calls.find((c) => c.callSid === b.callSid)).toMatchObject({ transcript: [], functionCalls: [] });

    // Then live events follow, and an ended call leaves the snapshot.
    b.model.userTranscript('item_live', 'Still there?');
    expect(await late.waitFor('transcript.done')).toMatchObject({ callSid: b.callSid, text: 'Still there?' });
    a.call.sendStop();
    await late.waitFor('call.ended', (e) => e.callSid === a.callSid);
    const later = await LogsClient.connect(app);
    expect(((await later.waitFor('snapshot')).calls as any[]).map((c) => c.callSid)).toEqual([b.callSid]);
    for (const client of [early, late, later]) client.close();
    b.call.sendStop();
  });

  it('filters events to one call for a client that asks (query parameter or subscribe command)', async ({ startApp, placeCall }) => {
    const app = await startApp();
    const all = await LogsClient.connect(app);
    const a = await placeCall(app);
    const b = await placeCall(app);
    const onlyA = await LogsClient.connect(app, { query: { callSid: a.callSid } });
    expect((await onlyA.waitFor('snapshot')).calls.map((c: any) => c.callSid)).toEqual([a.callSid]);
    const switcher = await LogsClient.connect(app);
    await switcher.waitFor('snapshot');
    expect(await switcher.command({ type: 'subscribe', callSid: b.callSid })).toMatchObject({ type: 'command.ok', callSid: b.callSid });
    expect(await switcher.waitFor('snapshot', (e) => e.callSid === b.callSid)).toMatchObject({ calls: [{ callSid: b.callSid }] });

    // B speaks first (seen by the all-calls client, so it has been published), then A.
    b.call.sendDtmf('2');
    await all.waitFor('dtmf', (e) => e.callSid === b.callSid);
    a.call.sendDtmf('1');
    await all.waitFor('dtmf', (e) => e.callSid === a.callSid);
    expect(await onlyA.waitFor('dtmf')).toMatchObject({ callSid: a.callSid, digit: '1' });
    expect(await switcher.waitFor('dtmf')).toMatchObject({ callSid: b.callSid, digit: '2' });
    // Sockets are ordered: by the time each saw its own call's event, the other one would have arrived too.
    b.call.sendDtmf('3');
    await switcher.waitFor('dtmf', (e) => e.digit === '3');
    a.call.sendDtmf('5');
    await onlyA.waitFor('dtmf', (e) => e.digit === '5');
    expect(onlyA.events.every((e) => e.callSid === a.callSid)).toBe(true);
    expect(switcher.events.every((e) => e.callSid === b.callSid)).toBe(true);

    // Back to all calls.
    expect(await switcher.command({ type: 'subscribe', callSid: null })).toMatchObject({ type: 'command.ok' });
    expect((await switcher.waitFor('snapshot', (e) => e.callSid === null)).calls).toHaveLength(2);
    a.call.sendDtmf('7');
    expect(await switcher.waitFor('dtmf', (e) => e.digit === '7')).toMatchObject({ callSid: a.callSid });

    // A malformed filter is refused outright.
    const bad = await LogsClient.connect(app, { query: { callSid: 'not a sid!' } });
    expect((await bad.waitForClose()).code).toBe(1008);
    for (const client of [all, onlyA, switcher]) client.close();
    a.call.sendStop();
    b.call.sendStop();
  });

  it('drops a dashboard that stops reading (close 4008) while a concurrent call and other dashboards go on untouched', async ({ startApp, placeCall }) => {
    const app = await startApp();
    const fast = await LogsClient.connect(app);
    const slow = await LogsClient.connect(app);
    await slow.waitFor('snapshot');
    // Stop reading from the socket, like a dashboard on a stalled network or a frozen tab.
    const tcp = (slow.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    tcp.pause();

    const talker = await placeCall(app);
    const flooder = await placeCall(app);
    // The flood: 16 MB of transcript deltas (each under the 4000 characters an event may carry), far
    // more than the kernel's socket buffers plus the 1 MB bound. Sent in batches the fast dashboard
    // has read, so only the slow one falls behind.
    const flood = async () => {
      const itemId = 'item_flood';
      const padding = 'x'.repeat(3900);
      for (let batch = 0; batch < 128; batch++) {
        for (let i = 0; i < 32; i++) {
          flooder.model.send({
            type: 'response.output_audio_transcript.delta',
            event_id: `e${batch}_${i}`,
            response_id: 'resp_flood',
            item_id: itemId,
            output_index: 0,
            content_index: 0,
            delta: `${batch}:${i}:${padding}`,
          });
        }
        await fast.waitFor('transcript.delta', (e) => e.delta.startsWith(`${batch}:31:`), 10_000);
      }
    };
    // Meanwhile the other call talks both ways in real time.
    const spoken = testAudio(8000, 11); // 1 s
    const answer = chunks(testAudio(8000, 12), 800); // 1 s in 100 ms chunks
    const [, , response] = await Promise.all([
      flood(),
      talker.call.sendAudio(spoken, { paced: true }),
      talker.model.audioResponse({ chunks: answer, paceMs: 100 }),
    ]);

    // The call heard every byte, in order, and the model got every caller byte, in order.
    await talker.model.waitForAppendedBytes(spoken.length);
    expect(talker.model.appendedAudio().equals(spoken)).toBe(true);
    await talker.call.waitFor('mark', (m) => markOf(m) === `${response.itemId}:1000`);
    expect(talker.call.receivedAudio().equals(Buffer.concat(answer))).toBe(true);
    expect(talker.call.protocolErrors).toEqual([]);
    expect(talker.call.closed || flooder.call.closed).toBe(false);
    expect(fast.closed).toBe(false);

    // The slow dashboard gets what was already on its way, then the close code.
    tcp.resume();
    const closed = await slow.waitForClose(10_000);
    expect(closed).toEqual({ code: 4008, reason: 'too slow' });
    const got = slow.events.filter((e) => e.type === 'transcript.delta').length;
    expect(got).toBeLessThan(128 * 32);
    expect(fast.events.filter((e) => e.type === 'transcript.delta')).toHaveLength(128 * 32);
    // A dropped dashboard can come back and start over from a snapshot.
    const back = await LogsClient.connect(app);
    expect((await back.waitFor('snapshot')).calls).toHaveLength(2);
    for (const client of [fast, back]) client.close();
    talker.call.sendStop();
    flooder.call.sendStop();
  }, 30_000);
});
