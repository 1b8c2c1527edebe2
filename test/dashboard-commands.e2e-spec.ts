import { describe, vi } from 'vitest';
import { OperatorDesk } from '../src/tools/operator-desk.service';
import { expect, test } from './support/fixture';
import { LogsClient } from './support/logs-client';
import { getJson, markOf, operatorHeaders, postTwiml, testAudio, type TestApp } from './support/test-app';

type SessionUpdate = { type: 'session.update'; session: Record<string, any> };

/** The app with a dashboard connected (which also makes ask_operator available). */
const it = test.extend<{ start: (env?: Record<string, string>) => Promise<{ app: TestApp; logs: LogsClient }> }>({
  start: async ({ startApp }, use) => {
    const clients: LogsClient[] = [];
    await use(async (env) => {
      const app = await startApp(env);
      const logs = await LogsClient.connect(app);
      clients.push(logs);
      await logs.waitFor('snapshot');
      return { app, logs };
    });
    for (const logs of clients) logs.close();
  },
});

describe('the dashboard socket: commands', () => {
  it('config.update without a callSid changes the configuration of the next calls', async ({ start, placeCall }) => {
    const { app, logs } = await start();
    const reply = await logs.command({
      type: 'config.update',
      config: { instructions: 'Only talk about trains.', voice: 'sage', turnDetection: { type: 'server_vad', threshold: 0.8 }, enabledTools: ['end_call'] },
    });
    expect(reply).toMatchObject({
      v: 1,
      type: 'command.ok',
      command: 'config.update',
      callSid: null,
      config: {
        instructions: 'Only talk about trains.',
        voice: 'sage',
        enabledTools: ['end_call'],
        turnDetection: { type: 'server_vad', threshold: 0.8, prefixPaddingMs: 300, silenceDurationMs: 500 },
      },
    });
    const { model, call } = await placeCall(app);
    const update = model.received.find((e) => e.type === 'session.update') as SessionUpdate;
    expect(update.session).toMatchObject({
      instructions: 'Only talk about trains.',
      audio: { input: { turn_detection: { type: 'server_vad', threshold: 0.8, silence_duration_ms: 500 } }, output: { voice: 'sage' } },
    });
    expect(update.session.tools.map((t: { name: string }) => t.name)).toEqual(['end_call']);
    expect(model.errors).toEqual([]);
    call.sendStop();
  });

  it('config.update with a callSid changes that live call only, and refuses a new voice once the assistant has spoken', async ({
    realtime: fake,
    start,
    placeCall,
  }) => {
    const { app, logs } = await start();
    const a = await placeCall(app);
    const b = await placeCall(app); // placeCall has seen each call's first session.update

    // Before any audio the voice may change; only the named fields are sent.
    const first = await logs.command({ type: 'config.update', callSid: a.callSid, config: { instructions: 'Be brief.', voice: 'ash' } });
    expect(first).toMatchObject({ type: 'command.ok', callSid: a.callSid, applied: ['instructions', 'voice'] });
    const live = (await a.model.waitFor('session.update')) as SessionUpdate;
    expect(live.session).toEqual({ type: 'realtime', instructions: 'Be brief.', audio: { output: { voice: 'ash' } } });
    expect(a.model.session.instructions).toBe('Be brief.');
    expect(a.model.session.audio.output.voice).toBe('ash');
    expect(a.model.session.audio.input.format).toEqual({ type: 'audio/pcmu' }); // untouched

    const vad = await logs.command({
      type: 'config.update',
      callSid: a.callSid,
      config: { turnDetection: { type: 'semantic_vad', eagerness: 'low' }, enabledTools: ['get_weather_from_coords'] },
    });
    expect(vad.type).toBe('command.ok');
    const next = (await a.model.waitFor('session.update')) as SessionUpdate;
    expect(next.session.audio.input.turn_detection).toEqual({ type: 'semantic_vad', eagerness: 'low', create_response: true, interrupt_response: true });
    expect(next.session.tools.map((t: { name: string }) => t.name)).toEqual(['get_weather_from_coords']);

    // After the assistant has spoken, a new voice is refused here, before OpenAI would refuse it.
    const { itemId } = await a.model.audioResponse({ chunks: [testAudio(800, 1)] });
    await a.call.waitFor('mark', (m) => markOf(m) === `${itemId}:100`);
    const sent = a.model.received.filter((e) => e.type === 'session.update').length;
    const refused = await logs.command({ type: 'config.update', callSid: a.callSid, config: { voice: 'verse' } });
    expect(refused).toMatchObject({
      type: 'command.error',
      command: 'config.update',
      callSid: a.callSid,
      message: 'the voice cannot change once the assistant has spoken',
    });
    a.call.sendDtmf('1'); // a later event as a sync point
    await a.model.waitFor('conversation.item.create');
    expect(a.model.received.filter((e) => e.type === 'session.update')).toHaveLength(sent);
    expect(a.model.errors).toEqual([]);

    // The change outlives the connection: a reconnect configures the new session with it.
    a.model.drop();
    const reconnected = await fake.waitForConnection(2);
    const replayed = (await reconnected.waitFor('session.update')) as SessionUpdate;
    expect(replayed.session).toMatchObject({
      instructions: 'Be brief.',
      audio: { output: { voice: 'ash' }, input: { turn_detection: { type: 'semantic_vad', eagerness: 'low' } } },
    });
    expect(replayed.session.tools.map((t: { name: string }) => t.name)).toEqual(['get_weather_from_coords']);
    await logs.waitFor('model.status', (e) => e.callSid === a.callSid && e.status === 'connected' && e.reconnectMs !== undefined);

    // The other call and the saved configuration were not touched.
    expect(b.model.received.filter((e) => e.type === 'session.update')).toHaveLength(1);
    expect(b.model.session.instructions).not.toBe('Be brief.');
    const saved = await getJson(`${app.httpUrl}/session-config`, operatorHeaders(app));
    expect(saved.voice).toBe('marin');
    a.call.sendStop();
    b.call.sendStop();
  });

  it("function_call.answer settles a waiting ask_operator call with the operator's answer", async ({ start, placeCall }) => {
    const { app, logs } = await start();
    const { call, model, callSid: sid } = await placeCall(app);
    const offered = (model.received.find((e) => e.type === 'session.update') as SessionUpdate).session.tools.map((t: { name: string }) => t.name);
    expect(offered).toContain('ask_operator'); // a dashboard is open

    const { callIds } = model.functionCallResponse([{ name: 'ask_operator', arguments: '{"question":"Is the shop open on Sunday?"}' }]);
    await logs.waitFor('function_call.started', (e) => e.callId === callIds[0]);
    const answered = await logs.command({ type: 'function_call.answer', callSid: sid, callId: callIds[0], output: 'Yes, 10 to 4.' });
    expect(answered).toMatchObject({ type: 'command.ok', command: 'function_call.answer', callSid: sid, callId: callIds[0] });

    const output = await model.waitFor('conversation.item.create', (e) => e.item.type === 'function_call_output');
    expect(output.item).toMatchObject({ call_id: callIds[0], output: '{"answer":"Yes, 10 to 4."}' });
    await model.waitFor('response.create');
    expect(await logs.waitFor('function_call.finished')).toMatchObject({ callId: callIds[0], answeredBy: 'operator', output: '{"answer":"Yes, 10 to 4."}' });
    expect(model.errors).toEqual([]);

    // Once settled, the same call cannot be answered again; JSON answers pass through as JSON.
    expect(await logs.command({ type: 'function_call.answer', callSid: sid, callId: callIds[0], output: 'again' })).toMatchObject({
      type: 'command.error',
      message: `no running function call ${callIds[0]} in call ${sid}`,
    });
    const second = model.functionCallResponse([{ name: 'ask_operator', arguments: '{"question":"Price?"}' }]);
    await logs.waitFor('function_call.started', (e) => e.callId === second.callIds[0]);
    await logs.command({ type: 'function_call.answer', callSid: sid, callId: second.callIds[0], output: '{"price_eur": 12}' });
    const json = await model.waitFor('conversation.item.create', (e) => e.item.type === 'function_call_output');
    expect(json.item).toMatchObject({ output: '{"price_eur": 12}' });
    call.sendStop();
  });

  it('ask_operator is not offered without a dashboard, and fails fast if the operator has left', async ({ start, startApp, placeCall }) => {
    const app = await startApp({ OPERATOR_ANSWER_TIMEOUT_MS: '60000' });
    const { call, model } = await placeCall(app);
    const offered = (model.received.find((e) => e.type === 'session.update') as SessionUpdate).session.tools.map((t: { name: string }) => t.name);
    expect(offered).toEqual(['get_weather_from_coords', 'end_call']);
    // Not offered to this call, so it does not run, even if the model asks for it.
    const { callIds } = model.functionCallResponse([{ name: 'ask_operator', arguments: '{"question":"Anyone there?"}' }]);
    const output = await model.waitFor('conversation.item.create', (e) => e.item.type === 'function_call_output', 2000);
    expect(output.item).toMatchObject({ call_id: callIds[0], output: '{"error":"Tool \\"ask_operator\\" is not available in this call"}' });
    call.sendStop();

    // Offered while someone watched; the operator leaves; the model asks: it fails at once, not after 60 s.
    const watched = await start({ OPERATOR_ANSWER_TIMEOUT_MS: '60000' });
    const second = await placeCall(watched.app);
    const tools = (second.model.received.find((e) => e.type === 'session.update') as SessionUpdate).session.tools.map((t: { name: string }) => t.name);
    expect(tools).toContain('ask_operator');
    watched.logs.close();
    await vi.waitFor(() => expect(watched.app.app.get(OperatorDesk).isWatched).toBe(false));
    const asked = second.model.functionCallResponse([{ name: 'ask_operator', arguments: '{"question":"Anyone there?"}' }]);
    const answer = await second.model.waitFor('conversation.item.create', (e) => e.item.type === 'function_call_output', 2000);
    expect(answer.item).toMatchObject({ call_id: asked.callIds[0], output: '{"error":"No operator is watching right now"}' });
    second.call.sendStop();
  });

  it('call.hangup ends the call cleanly (reason operator), and Twilio is told to hang up', async ({ start, placeCall }) => {
    const { app, logs } = await start();
    const { call, model, callSid: sid } = await placeCall(app);
    const reply = await logs.command({ type: 'call.hangup', callSid: sid });
    expect(reply).toMatchObject({ type: 'command.ok', command: 'call.hangup', callSid: sid });
    expect(await logs.waitFor('call.ended')).toMatchObject({ callSid: sid, reason: 'operator' });
    expect((await call.waitForClose()).code).toBe(1000);
    expect((await model.waitForClose()).code).toBe(1000);
    const next = await postTwiml(app, { CallSid: sid }, { path: '/twiml/stream-ended' });
    expect(next.body).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>');
    expect(await logs.command({ type: 'call.hangup', callSid: sid })).toMatchObject({ type: 'command.error', message: `no live call ${sid}` });
  });

  it('answers malformed or invalid commands with command.error, forwards nothing, and keeps the socket open', async ({ start, placeCall }) => {
    const { app, logs } = await start();
    const { call, model, callSid: sid } = await placeCall(app);
    const before = model.received.length;

    const reply = (text: string | Buffer) => {
      const count = logs.messages.filter((m) => m.type === 'command.error').length;
      logs.send(text);
      return logs.waitFor('command.error', () => logs.messages.filter((m) => m.type === 'command.error').length > count);
    };
    expect(await reply('{"type":')).toMatchObject({ v: 1, callSid: null, id: null, command: null, message: 'not JSON' });
    expect(await reply(Buffer.from([1, 2, 3]))).toMatchObject({ message: 'commands are JSON text frames' });
    expect(await reply('{"type":"session.update","session":{"instructions":"pwned"}}')).toMatchObject({
      command: 'session.update',
      message: 'unknown command type "session.update"',
    });
    expect(await reply('{"type":"response.create"}')).toMatchObject({ message: 'unknown command type "response.create"' });

    const invalid: [Record<string, unknown>, RegExp][] = [
      [{ type: 'config.update', config: { voice: 'robot' } }, /voice must be one of/],
      [{ type: 'config.update', config: { turnDetection: { type: 'server_vad', threshold: 2 } } }, /turnDetection\.threshold must not be greater than 1/],
      [{ type: 'config.update', config: { instructions: '' } }, /instructions must be longer than or equal to 1/],
      [{ type: 'config.update', config: { enabledTools: ['rm_rf'] } }, /enabledTools: unknown tool "rm_rf"/],
      [{ type: 'config.update', config: { model: 'gpt-4' } }, /property model should not exist/],
      [{ type: 'config.update', callSid: sid, config: { turnDetection: 'eager' } }, /turnDetection must be an object/],
      [{ type: 'config.update', callSid: 'CAnope', config: { instructions: 'x' } }, /no live call CAnope/],
      [{ type: 'function_call.answer', callSid: sid, callId: 'call_nope', output: 'x' }, /no running function call call_nope/],
      [{ type: 'call.hangup', callSid: 'CAnope' }, /no live call CAnope/],
    ];
    for (const [command, message] of invalid) {
      const result = await logs.command(command);
      expect(result, JSON.stringify(command)).toMatchObject({ type: 'command.error', command: command.type, message: expect.stringMatching(message) });
    }
    const withErrors = await logs.command({ type: 'config.update', config: { voice: 'robot', turnDetection: { type: 'fast' } } });
    expect(withErrors.errors).toHaveLength(2);

    // Nothing reached the model, the saved configuration is unchanged, the call and the socket are fine.
    call.sendDtmf('8');
    await model.waitFor('conversation.item.create');
    expect(model.received.slice(before).map((e) => e.type)).toEqual(['conversation.item.create']);
    expect(model.errors).toEqual([]);
    const saved = await getJson(`${app.httpUrl}/session-config`, operatorHeaders(app));
    expect(saved).toMatchObject({ voice: 'marin', enabledTools: ['get_weather_from_coords', 'end_call', 'ask_operator'] });
    expect(logs.closed).toBe(false);
    expect(await logs.command({ type: 'subscribe' })).toMatchObject({ type: 'command.ok' });
    call.sendStop();
  });
});
