// Both voice engines in one server: the dashboard's saved configuration chooses the engine for
// new calls, calls on either run side by side without crossing, and a running call changes
// only what its engine allows.
import { describe, vi } from 'vitest';
import { expect, it } from './support/fixture';
import { LogsClient } from './support/logs-client';
import { scrapeUntil, valueOf } from './support/metrics-client';
import { chunks, operatorHeaders, type TestApp, testAudio } from './support/test-app';

async function putConfig(app: TestApp, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${app.httpUrl}/session-config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...operatorHeaders(app) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

describe('two voice engines', () => {
  it('runs a Realtime call and a GPT-Live call at the same time without crossing audio, transcripts or usage', async ({
    live,
    realtime,
    startApp,
    placeCall,
    placeLiveCall,
  }) => {
    const app = await startApp({ OPENAI_LIVE_URL: live.url, LIVE_DELEGATION: 'responses' });
    const logs = await LogsClient.connect(app);
    // Realtime by default…
    const a = await placeCall(app);
    // …and the saved configuration moves new calls to GPT-Live; the running one stays where it is.
    const saved = await putConfig(app, { engine: 'live' });
    expect(saved).toMatchObject({ status: 200, body: { engine: 'live', availableEngines: ['realtime', 'live'] } });
    const b = await placeLiveCall(app);
    expect(realtime.connections).toHaveLength(1);
    expect(live.connections).toHaveLength(1);
    const startedA = await logs.waitFor('call.started', (e) => e.callSid === a.callSid);
    const startedB = await logs.waitFor('call.started', (e) => e.callSid === b.callSid);
    expect(startedA).toMatchObject({ engine: 'realtime', model: 'gpt-realtime-2.1' });
    expect(startedB).toMatchObject({ engine: 'live', model: 'gpt-live-1.1' });

    // Caller audio goes to its own model only.
    const audioA = testAudio(160 * 10, 1);
    const audioB = Buffer.alloc(160 * 10, 0xfe); // quiet: no barge-in on B's side
    await Promise.all([a.call.sendAudio(audioA, { paced: false }), b.call.sendAudio(audioB, { paced: false })]);
    await a.model.waitForAppendedBytes(audioA.length);
    await b.model.waitForAppendedBytes(audioB.length);
    expect(a.model.appendedAudio().equals(audioA)).toBe(true);
    expect(b.model.appendedAudio().equals(audioB)).toBe(true);

    // Each model's voice reaches its own phone only, both at once.
    const answerA = chunks(testAudio(1600, 2), 800);
    const answerB = chunks(testAudio(1600, 3), 800);
    b.model.hearCaller('Hello from B.');
    await Promise.all([
      a.model.audioResponse({ chunks: answerA, transcript: 'Answer for A.' }),
      b.model.speak({ chunks: answerB, transcript: 'Answer for B.' }),
    ]);
    await vi.waitFor(
      () => {
        expect(a.call.receivedAudio().equals(Buffer.concat(answerA))).toBe(true);
        expect(b.call.receivedAudio().equals(Buffer.concat(answerB))).toBe(true);
      },
      { timeout: 3000, interval: 10 },
    );
    const doneA = await logs.waitFor('transcript.done', (e) => e.callSid === a.callSid && e.role === 'assistant');
    const doneB = await logs.waitFor('transcript.done', (e) => e.callSid === b.callSid && e.role === 'assistant');
    expect([doneA.text, doneB.text]).toEqual(['Answer for A.', 'Answer for B.']);
    expect(logs.events.filter((e) => e.type === 'transcript.done' && e.callSid === a.callSid && e.text.includes('B'))).toEqual([]);

    a.call.sendStop();
    b.call.sendStop();
    await logs.waitFor('call.ended', (e) => e.callSid === a.callSid);
    await logs.waitFor('call.ended', (e) => e.callSid === b.callSid);
    // Token usage for the Realtime call, seconds for the GPT-Live call, each on its engine.
    const usageA = logs.events.filter((e) => e.type === 'usage' && e.callSid === a.callSid);
    const usageB = logs.events.filter((e) => e.type === 'usage' && e.callSid === b.callSid);
    expect(usageA.length).toBeGreaterThan(0);
    expect(usageA.every((e) => e.engine === 'realtime' && e.model === 'gpt-realtime-2.1' && e.billedSeconds === undefined)).toBe(true);
    expect(usageB.length).toBeGreaterThan(0);
    expect(usageB.every((e) => e.engine === 'live' && e.model === 'gpt-live-1.1' && e.billedSeconds > 0)).toBe(true);
    await scrapeUntil(app, (s) => {
      expect(valueOf(s, 'voice_agent_model_seconds_total', { engine: 'live' })).toBeGreaterThan(0);
      expect(valueOf(s, 'voice_agent_model_seconds_total', { engine: 'realtime' })).toBe(0);
    });
    expect(a.model.errors).toEqual([]);
    expect(b.model.errors).toEqual([]);
    logs.close();
  });

  it('changes on a running GPT-Live call only what GPT-Live allows, and never the engine', async ({ startLiveApp, placeLiveCall }) => {
    const app = await startLiveApp();
    const logs = await LogsClient.connect(app);
    const { call, model, callSid } = await placeLiveCall(app);
    const update = (config: Record<string, unknown>) => logs.command({ type: 'config.update', callSid, config });

    expect(await update({ engine: 'realtime' })).toMatchObject({
      type: 'command.error',
      message: expect.stringMatching(/voice engine cannot change during a call/),
    });
    expect(await update({ voice: 'sage' })).toMatchObject({ type: 'command.error', message: expect.stringMatching(/GPT-Live fixes the voice/) });
    expect(await update({ instructions: 'x'.repeat(5000) })).toMatchObject({
      type: 'command.error',
      message: expect.stringMatching(/only append instructions/),
    });

    // The voice model's instructions are appended to (they cannot be replaced); the Responses backend's
    // instructions and tools are replaced in one session.update; turn detection does not apply (accepted, nothing sent).
    expect(await update({ instructions: 'Only talk about trains.', enabledTools: ['end_call'], turnDetection: { type: 'semantic_vad' } })).toMatchObject({
      type: 'command.ok',
    });
    const appended = await model.waitFor('session.instructions.append');
    expect(appended.content).toMatch(/Only talk about trains\.$/);
    const backend = await model.waitFor('session.update');
    expect(backend.session).toEqual({
      delegation: {
        type: 'responses',
        responses: { instructions: 'Only talk about trains.', tools: [expect.objectContaining({ type: 'function', name: 'end_call' })] },
      },
    });
    expect((backend.session.delegation as { responses: { tools: unknown[] } }).responses.tools).toHaveLength(1);
    // Both accepted by the service (a keypress after them is a sync point: one socket, handled in order).
    call.sendDtmf('1');
    await model.waitFor('session.thinking.append');
    expect(model.errors).toEqual([]);
    // The backend now works on the new instructions (its model and reasoning untouched); the voice model's start-up ones stay.
    expect(model.backend).toMatchObject({
      model: 'gpt-5.4-mini',
      instructions: 'Only talk about trains.',
      tools: [expect.objectContaining({ name: 'end_call' })],
    });
    expect(model.session?.instructions).toBe(model.start?.instructions);
    expect(model.start?.instructions).not.toBe('Only talk about trains.');

    // Instructions alone reach the backend too, and tools alone leave its instructions as they are.
    expect(await update({ instructions: 'Only talk about buses.' })).toMatchObject({ type: 'command.ok' });
    await vi.waitFor(() => expect(model.backend?.instructions).toBe('Only talk about buses.'), { timeout: 3000, interval: 10 });
    expect(model.updates.at(-1)).toEqual({ delegation: { type: 'responses', responses: { instructions: 'Only talk about buses.' } } });
    expect(await update({ enabledTools: ['end_call', 'get_weather_from_coords'] })).toMatchObject({ type: 'command.ok' });
    await vi.waitFor(() => expect(model.backend?.tools).toHaveLength(2), { timeout: 3000, interval: 10 });
    expect(model.backend?.instructions).toBe('Only talk about buses.');
    expect(model.errors).toEqual([]);
    // The same voice and the same engine are no change at all.
    expect(await update({ voice: 'marin', engine: 'live' })).toMatchObject({ type: 'command.ok' });

    // The saved configuration refuses an unknown engine, naming the field.
    const bad = await putConfig(app, { engine: 'gemini' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toEqual([expect.stringMatching(/^engine must be one of the following values: realtime, live/)]);
    logs.close();
    call.sendStop();
  });
});
