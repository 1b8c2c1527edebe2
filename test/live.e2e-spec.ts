// A GPT-Live call over real sockets, against the GPT-Live emulator: what the service is sent
// (and never sent), audio held until session.started, the greeting, both transcripts, tools
// under Responses delegation, interruption, keypresses, and what a running call may change.
import { describe, vi } from 'vitest';
import type { FakeLiveConnection } from '../emulator/fake-live-server';
import { ScriptedLiveModel } from '../emulator/live-voice-model';
import { loadClip } from '../emulator/speech';
import type { AgentTool } from '../src/tools/agent-tool';
import { CallerMicrophone } from '../emulator/caller-microphone';
import { DEMO_SCRIPT } from '../emulator/demo-conversation';
import { expect, test, type LiveCall } from './support/fixture';
import { LogsClient } from './support/logs-client';
import { chunks, markOf, testAudio } from './support/test-app';

const echoTool: AgentTool<{ text: string }> = {
  name: 'echo_text',
  description: 'Repeats the text.',
  parameters: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false },
  run: async ({ text }) => ({ echoed: text }),
};
const throwingTool: AgentTool = {
  name: 'throwing_tool',
  description: 'Always fails.',
  parameters: { type: 'object', properties: {} },
  run: async () => {
    throw new Error('database is on fire');
  },
};
const slowTool: AgentTool = {
  name: 'slow_tool',
  description: 'Never answers in time.',
  parameters: { type: 'object', properties: {} },
  run: (_args, { signal }) => new Promise((resolve) => signal.addEventListener('abort', () => resolve('too late'))),
};

/** The model's answer: `ms` of audio in 100 ms chunks, with its transcript. */
function speech(ms: number, seed: number): Buffer[] {
  return chunks(testAudio(ms * 8, seed), 800);
}

/** The model speaks `text` and the phone plays all of it (its last mark echoed). */
async function speakAndPlay(model: FakeLiveConnection, call: { echoedMarks: { name: string; cleared: boolean }[] }, text: string, seed: number) {
  await model.speak({ chunks: speech(200, seed), transcript: text });
  await vi.waitFor(() => expect(call.echoedMarks.some((m) => !m.cleared && markOf({ mark: m }).endsWith(':200'))).toBe(true), { timeout: 3000, interval: 5 });
}

describe('a GPT-Live call', () => {
  test('starts the session with exactly the fields GPT-Live defines: μ-law at 8 kHz, the voice, instructions, tools for the backend', async ({
    startLiveApp,
    placeLiveCall,
  }) => {
    const app = await startLiveApp({ OPENAI_VOICE: 'cedar', AGENT_INSTRUCTIONS: 'Sell bicycles.', LIVE_REASONING_EFFORT: 'low' }, [echoTool]);
    const { call, model } = await placeLiveCall(app);
    expect(model.headers.authorization).toBe(`Bearer ${app.config.OPENAI_API_KEY}`);
    // session.start was the very first message, and the service accepted it.
    expect(model.received[0]).toMatchObject({ type: 'session.start' });
    expect(model.start).toEqual({
      model: 'gpt-live-1.1',
      instructions: 'Sell bicycles.',
      audio: { format: { type: 'audio/pcmu', rate: 8000 }, output: { voice: 'cedar' } },
      delegation: {
        type: 'responses',
        responses: {
          model: 'gpt-5.4-mini',
          instructions: 'Sell bicycles.',
          tool_choice: 'auto',
          reasoning: { effort: 'low' },
          tools: expect.arrayContaining([
            { type: 'function', name: 'echo_text', description: 'Repeats the text.', parameters: echoTool.parameters },
            expect.objectContaining({ type: 'function', name: 'end_call' }),
          ]),
        },
      },
    });
    // toEqual above is exact: nothing of the Realtime protocol (turn detection, transcription, output modalities…) leaks in.
    expect(JSON.stringify(model.start)).not.toMatch(/turn_detection|transcription|output_modalities|noise_reduction/);
    expect(model.errors).toEqual([]);
    call.sendStop();
    // Hang-up: session.close, and the service's session.closed.
    await model.waitFor('session.close');
    expect(model.closedReason).toBe('close_requested');
  });

  test('with client delegation, offers no tools and answers a delegated task it cannot do', async ({ startLiveApp, placeLiveCall }) => {
    const app = await startLiveApp({ LIVE_DELEGATION: 'client' });
    const { call, model } = await placeLiveCall(app);
    expect(model.start?.delegation).toEqual({ type: 'client' });
    const id = model.delegateToClient();
    await model.waitFor('session.thinking.append');
    expect(model.appended.at(-1)).toMatchObject({ type: 'thinking', delegationId: id, content: expect.stringMatching(/No backend is connected/) });
    expect(model.errors).toEqual([]);
    call.sendStop();
  });

  test('holds caller audio until session.started, then sends it in order; nothing goes out before', async ({ startLive, startLiveApp, placeLiveCall }) => {
    const live = await startLive({ startDelayMs: 400 });
    const app = await startLiveApp({ OPENAI_LIVE_URL: live.url });
    const { call, model } = await placeLiveCall(app, { live, waitForStart: false });
    expect(model.started).toBe(false);
    const audio = testAudio(160 * 12, 7);
    for (const frame of chunks(audio, 160)) call.sendMedia(frame);
    await model.waitForStarted();
    await model.waitForAppendedBytes(audio.length);
    expect(model.appendedAudio().equals(audio)).toBe(true);
    // The emulator refuses anything before session.started: it refused nothing.
    expect(model.errors).toEqual([]);
    expect(model.received.findIndex((e) => e.type === 'session.input_audio.append')).toBeGreaterThan(0);
    call.sendStop();
  });

  test('speaks first when AGENT_GREETING is set (commentary worded as an instruction), and the caller hears it', async ({ startLiveApp, placeLiveCall }) => {
    const app = await startLiveApp({ AGENT_GREETING: 'Greet the caller and offer help.' });
    const logs = await LogsClient.connect(app);
    const { call, model } = await placeLiveCall(app);
    const started = await logs.waitFor('call.started');
    expect(started).toMatchObject({ engine: 'live', model: 'gpt-live-1.1', voice: 'marin' });
    const commentary = await model.waitFor('session.commentary.append');
    expect(commentary).toMatchObject({ delegation_id: null, content: 'Speak to the caller now. Greet the caller and offer help.' });
    const greeting = speech(300, 1);
    await model.speak({ chunks: greeting, transcript: 'Hello! How can I help?' });
    await vi.waitFor(() => expect(call.heardAudio().equals(Buffer.concat(greeting))).toBe(true), { timeout: 3000, interval: 10 });
    expect((await logs.waitFor('transcript.done', (e) => e.role === 'assistant')).text).toBe('Hello! How can I help?');
    expect(model.errors).toEqual([]);
    logs.close();
    call.sendStop();
  });

  test('shows both sides of the conversation on the dashboard, turns inferred from the delta streams', async ({ startLiveApp, placeLiveCall }) => {
    const app = await startLiveApp();
    const logs = await LogsClient.connect(app);
    const { call, model } = await placeLiveCall(app);
    model.hearCaller('What time do you open?');
    await speakAndPlay(model, call, 'We open at nine.', 2);
    const user = await logs.waitFor('transcript.done', (e) => e.role === 'user');
    const assistant = await logs.waitFor('transcript.done', (e) => e.role === 'assistant');
    expect(user.text).toBe('What time do you open?');
    expect(assistant.text).toBe('We open at nine.');
    expect(user.itemId).not.toBe(assistant.itemId);
    // The phone's marks name the assistant item the dashboard shows.
    expect(call.echoedMarks.map((m) => markOf({ mark: m }))).toContain(`${assistant.itemId}:200`);
    model.hearCaller('And on Sundays?');
    await speakAndPlay(model, call, 'Closed on Sundays.', 3);
    const second = await logs.waitFor('transcript.done', (e) => e.role === 'assistant' && e.itemId !== assistant.itemId);
    expect(second.text).toBe('Closed on Sundays.');
    logs.close();
    call.sendStop();
  });

  test('passes a keypress to the model as silent context', async ({ startLiveApp, placeLiveCall }) => {
    const app = await startLiveApp();
    const { call, model } = await placeLiveCall(app);
    call.sendDtmf('5');
    await model.waitFor('session.thinking.append');
    expect(model.appended.at(-1)).toMatchObject({
      type: 'thinking',
      delegationId: null,
      content: 'Caller: [The caller pressed the "5" key on the phone keypad.]',
    });
    expect(model.errors).toEqual([]);
    call.sendStop();
  });
});

describe('GPT-Live tools under Responses delegation', () => {
  const it = test.extend<{ start: () => Promise<LiveCall & { logs: LogsClient }> }>({
    start: async ({ startLiveApp, placeLiveCall }, use) => {
      await use(async () => {
        const app = await startLiveApp({ TOOL_TIMEOUT_MS: '300' }, [echoTool, throwingTool, slowTool]);
        const logs = await LogsClient.connect(app);
        return { ...(await placeLiveCall(app)), logs };
      });
    },
  });

  /** The backend calls `name`; resolves with the output the app sent back and the response.create after it. */
  async function roundTrip(model: FakeLiveConnection, name: string, args: string) {
    const { callIds } = model.delegate([{ name, arguments: args }]);
    const create = await model.waitFor('response.create');
    const output = model.toolOutputs.find((o) => o.callId === callIds[0]);
    const outputIndex = model.received.findIndex((e) => e.type === 'response.item.create');
    expect(outputIndex).toBeGreaterThan(-1);
    expect(outputIndex).toBeLessThan(model.received.indexOf(create));
    return { output: output ? JSON.parse(output.output) : undefined, callId: callIds[0] };
  }

  it('runs a registered tool and sends its output, then asks the backend to go on; the answer is spoken', async ({ start }) => {
    const { call, model, logs } = await start();
    const { output, callId } = await roundTrip(model, 'echo_text', '{"text":"hi"}');
    expect(output).toEqual({ echoed: 'hi' });
    expect(await logs.waitFor('function_call.finished')).toMatchObject({ callId, name: 'echo_text', answeredBy: 'tool' });
    model.backendAnswer('It said hi.');
    await speakAndPlay(model, call, 'It said hi.', 4);
    expect(model.errors).toEqual([]);
    logs.close();
    call.sendStop();
  });

  it('answers a throwing tool, bad arguments and an unknown tool with error outputs, never exceptions', async ({ start }) => {
    const { call, model, logs } = await start();
    expect((await roundTrip(model, 'throwing_tool', '{}')).output).toEqual({ error: 'The throwing_tool tool failed; try again later or do without it.' });
    expect((await roundTrip(model, 'echo_text', '{"text":42}')).output.error).toMatch(/Invalid arguments/);
    expect((await roundTrip(model, 'launch_rockets', '{}')).output).toEqual({ error: 'Unknown tool "launch_rockets"' });
    // The tool's own error stays in the server log: the model never hears internals.
    expect(model.toolOutputs.map((o) => o.output).join()).not.toMatch(/on fire/);
    expect(model.errors).toEqual([]);
    expect(call.closed).toBe(false);
    logs.close();
    call.sendStop();
  });

  it('times a slow tool out with an error output', async ({ start }) => {
    const { call, model, logs } = await start();
    const startedAt = performance.now();
    const { output } = await roundTrip(model, 'slow_tool', '{}');
    expect(output.error).toMatch(/timed out after 300 ms/);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(290);
    expect(await logs.waitFor('function_call.finished')).toMatchObject({ name: 'slow_tool', error: expect.stringMatching(/timed out/) });
    logs.close();
    call.sendStop();
  });

  it('lets an operator answer a function call from the dashboard (ask_operator, offered while a dashboard watches)', async ({ start }) => {
    const { call, model, logs, callSid } = await start();
    expect(model.start?.delegation).toMatchObject({ responses: { tools: expect.arrayContaining([expect.objectContaining({ name: 'ask_operator' })]) } });
    const { callIds } = model.delegate([{ name: 'ask_operator', arguments: '{"question":"Open on Sunday?"}' }]);
    await logs.waitFor('function_call.started', (e) => e.callId === callIds[0]);
    expect(await logs.command({ type: 'function_call.answer', callSid, callId: callIds[0], output: 'Yes, 10 to 4.' })).toMatchObject({ type: 'command.ok' });
    await model.waitFor('response.create');
    expect(model.toolOutputs).toEqual([{ callId: callIds[0], output: '{"answer":"Yes, 10 to 4."}' }]);
    expect(await logs.waitFor('function_call.finished')).toMatchObject({ answeredBy: 'operator' });
    logs.close();
    call.sendStop();
  });

  it('hangs up on end_call only after the spoken goodbye has played', async ({ start }) => {
    const { call, model, logs } = await start();
    await roundTrip(model, 'end_call', '{"reason":"done"}');
    model.backendAnswer('Goodbye!');
    const goodbye = speech(600, 9);
    void model.speak({ chunks: goodbye, transcript: 'Goodbye!' });
    await call.waitForClose(5000);
    // Every byte of the goodbye was played before the stream closed.
    expect(call.heardAudio().equals(Buffer.concat(goodbye))).toBe(true);
    expect(await logs.waitFor('call.ended')).toMatchObject({ reason: 'agent-ended' });
    logs.close();
  });
});

describe('GPT-Live interruption', () => {
  test('clears the phone within 300 ms of the caller starting to talk, and the rest of the cut answer is never played', async ({
    startLive,
    startLiveApp,
    placeLiveCall,
  }) => {
    // The scripted model streams twice as fast as real time and stops by itself when it hears the caller.
    const voice = new ScriptedLiveModel({ script: DEMO_SCRIPT, chunkMs: 100, speedUp: 2, lateChunks: 3 });
    await voice.prepare();
    const live = await startLive({ onConnection: (c) => voice.attach(c) });
    const app = await startLiveApp({ OPENAI_LIVE_URL: live.url, AGENT_GREETING: 'Greet the caller.' });
    const logs = await LogsClient.connect(app);
    const { call, model } = await placeLiveCall(app, { live });
    const mic = new CallerMicrophone(call);
    mic.start();
    await logs.waitFor('transcript.done', (e) => e.role === 'assistant', 10_000);
    await vi.waitFor(() => expect(call.playbackRemainingMs()).toBe(0), { timeout: 10_000, interval: 20 });
    // The caller asks; the long answer starts, produced faster than real time…
    await mic.say(loadClip('caller-1.ulaw'));
    await logs.waitFor('transcript.delta', (e) => e.role === 'assistant', 10_000);
    await vi.waitFor(() => expect(call.playbackRemainingMs()).toBeGreaterThan(1000), { timeout: 10_000, interval: 10 });
    // …and the caller talks over it.
    const talking = mic.say(loadClip('caller-2.ulaw'));
    await call.waitFor('clear', () => true, 2000);
    const clearedAt = performance.now();
    // Measured on the phone: from the caller's first frame of speech to the clear arriving.
    expect(clearedAt - mic.lastSpeechStartedAt).toBeLessThanOrEqual(300);
    const bargeIn = await logs.waitFor('barge_in');
    expect(bargeIn.sentMs).toBeGreaterThan(bargeIn.audioEndMs);
    await talking;
    // What was heard is kept (for the dashboard and any replay), ending on a word.
    const cut = await logs.waitFor('transcript.done', (e) => e.role === 'assistant' && e.itemId === bargeIn.itemId, 5000);
    const answer = DEMO_SCRIPT.turns[0].reply as { say: string };
    expect(answer.say.startsWith(cut.text)).toBe(true);
    expect(cut.text.length).toBeGreaterThan(0);
    expect(cut.text.length).toBeLessThan(answer.say.length * 0.7);
    // Nothing of the cut answer reached the phone after the clear (the model's in-flight audio was dropped).
    const clearIndex = call.received.findIndex((m) => m.event === 'clear');
    const markAfter = call.received.slice(clearIndex + 1).find((m) => m.event === 'mark' && markOf(m).startsWith(`${bargeIn.itemId}:`));
    expect(markAfter).toBeUndefined();
    expect(model.errors).toEqual([]);
    expect(call.protocolErrors).toEqual([]);
    mic.stop();
    logs.close();
    call.sendStop();
  });
});
