// Call records end to end: the real app with its embedded database (PGlite in a temporary
// DATA_DIR; PostgreSQL too when DATABASE_URL is set), real calls through the emulators, and the
// records read back over the HTTP API — after the call, after a restart, after retention.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, vi } from 'vitest';
import type { AgentTool } from '../src/tools/agent-tool';
import { RecordRetention } from '../src/cleanup/record-retention.service';
import { PriceTable } from '../src/records/price-table';
import { expect, test } from './support/fixture';
import { createTestSchema, TEST_DATABASES } from './support/records-db';
import { chunks, operatorHeaders, startTestApp, testAudio, TEST_AUTH_TOKEN, type TestApp } from './support/test-app';

const lookupOrder: AgentTool = {
  name: 'lookup_order',
  description: 'Finds an order.',
  parameters: { type: 'object', properties: { order: { type: 'string' } }, required: ['order'] },
  run: async (args) => ({ order: (args as { order: string }).order, status: 'shipped' }),
};

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Where a test's app keeps its records: a fresh DATA_DIR, or a fresh PostgreSQL schema. */
async function storage(kind: 'pglite' | 'postgres'): Promise<Record<string, string>> {
  if (kind === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'records-e2e-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return { RECORDS: 'on', DATA_DIR: dir };
  }
  const schema = await createTestSchema();
  cleanups.push(() => schema.drop());
  return { RECORDS: 'on', DATABASE_URL: schema.url };
}

/** The records API with the app's dashboard token. */
async function getJson(app: TestApp, path: string, method = 'GET'): Promise<{ status: number; body: any }> {
  const res = await fetch(`${app.httpUrl}${path}`, { method, headers: operatorHeaders(app) });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

/** Polls GET /calls/{sid} until the record satisfies `check`. */
async function record(app: TestApp, callSid: string, check: (r: any) => void = (r) => expect(r.endedAt).not.toBeNull()): Promise<any> {
  let last: any;
  await vi.waitFor(
    async () => {
      const res = await getJson(app, `/calls/${callSid}`);
      expect(res.status).toBe(200);
      last = res.body;
      check(last);
    },
    { timeout: 8000, interval: 50 },
  );
  return last;
}

describe.each(TEST_DATABASES)('call records (%s)', (kind) => {
  test('a call is recorded (transcript with the interrupted item, tool call, events, cost from usage) and still there after a restart, with the saved configuration', async ({
    realtime,
    placeCall,
  }) => {
    const env = { ...(await storage(kind)), OPENAI_MODEL: 'gpt-realtime-2.1', OPENAI_REALTIME_URL: realtime.url, TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN };
    const first = await startTestApp(env, [lookupOrder]);
    let second: TestApp | undefined;
    try {
      // Saved from the dashboard before the call: the call records its version.
      const put = await fetch(`${first.httpUrl}/session-config`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', ...operatorHeaders(first) },
        body: JSON.stringify({ instructions: 'You are the Acme order desk.' }),
      });
      expect(put.status).toBe(200);

      const { call, model, callSid } = await placeCall(first, { from: '+15550001111', to: '+15550002222' });
      const userItem = model.speechStarted();
      model.speechStopped(userItem);
      model.userTranscript(userItem, 'Where is my order 42?');
      const { callIds } = model.functionCallResponse([{ name: 'lookup_order', arguments: '{"order":"42"}' }]);
      await model.waitFor('response.create');
      // 3 s of answer arrives at once; the caller cuts in after about half a second of it.
      const answer = model.audioResponse({
        chunks: chunks(testAudio(24000, 1), 1600),
        paceMs: 0,
        transcript: 'Your order 42 has shipped and should arrive tomorrow.',
      });
      await vi.waitFor(() => expect(call.playedMs()).toBeGreaterThanOrEqual(500), { timeout: 3000, interval: 5 });
      model.speechStarted();
      const truncate = await model.waitFor('conversation.item.truncate');
      await answer;
      call.sendStop();
      await call.waitForClose();

      const saved = await record(first, callSid);
      expect(saved).toMatchObject({
        callSid,
        from: '+15550001111',
        to: '+15550002222',
        direction: 'inbound',
        endReason: 'caller-hung-up',
        engine: 'realtime',
        model: 'gpt-realtime-2.1',
        voice: 'marin',
        configVersion: expect.any(Number),
        bargeIns: 1,
      });
      expect(saved.durationMs).toBeGreaterThan(0);
      expect(saved.firstAudioMs).toBeGreaterThan(0);
      expect(saved.transcript.map((t: any) => [t.role, t.text])).toEqual([
        ['user', 'Where is my order 42?'],
        ['assistant', expect.stringContaining('Your order')],
      ]);
      const cut = saved.transcript[1];
      expect(cut.itemId).toBe(truncate.item_id);
      expect(cut.interruptedAtMs).toBe(truncate.audio_end_ms);
      expect(cut.startMs).toBeGreaterThanOrEqual(0);
      expect(cut.endMs).toBeGreaterThanOrEqual(cut.startMs);
      expect(saved.toolCalls).toEqual([
        expect.objectContaining({ callId: callIds[0], name: 'lookup_order', arguments: '{"order":"42"}', outcome: 'success', answeredBy: 'tool', error: null }),
      ]);
      expect(JSON.parse(saved.toolCalls[0].output)).toEqual({ order: '42', status: 'shipped' });
      const types = saved.timeline.map((e: any) => e.type);
      for (const type of ['call.started', 'model.status', 'function_call.started', 'function_call.finished', 'barge_in', 'call.ended'])
        expect(types).toContain(type);
      expect(types).not.toContain('transcript.delta');

      // Cost: the sum of the responses' usage at the table's prices, cached tokens counted once.
      const { body: raw } = await getJson(first, `/calls/${callSid}/events`);
      const usages = raw.events.filter((e: any) => e.type === 'usage').map((e: any) => e.data);
      expect(usages.length).toBeGreaterThanOrEqual(2);
      const prices = new PriceTable();
      const expected = usages.reduce((sum: number, u: any) => sum + prices.cost(u.model, u)!, 0);
      expect(saved.costUsd).toBeCloseTo(expected, 9);
      expect(saved.costUsd).toBeGreaterThan(0);
      expect(saved.usage.responses).toBe(usages.length);
      expect(saved.usage.inputTokens).toBe(usages.reduce((s: number, u: any) => s + u.inputTokens, 0));
      expect(raw.events.filter((e: any) => e.type === 'cost').at(-1).data.totalUsd).toBeCloseTo(expected, 9);

      await first.close();

      // A new server on the same storage: the record and the saved configuration are still there.
      second = await startTestApp(env, [lookupOrder]);
      expect((await getJson(second, `/calls/${callSid}`)).body).toEqual(saved);
      expect((await getJson(second, '/session-config')).body.instructions).toBe('You are the Acme order desk.');
      const listed = await getJson(second, '/calls?q=order&number=0001111');
      expect(listed.body.calls.map((c: any) => c.callSid)).toEqual([callSid]);
      expect((await getJson(second, '/calls?q=weather')).body.calls).toEqual([]);
      // The engine and direction filters: this call under its own, none under the others.
      expect((await getJson(second, '/calls?engine=realtime&direction=inbound')).body.calls.map((c: any) => c.callSid)).toEqual([callSid]);
      expect((await getJson(second, '/calls?engine=live')).body.calls).toEqual([]);
      expect((await getJson(second, '/calls?direction=outbound-api')).body.calls).toEqual([]);
      const today = await getJson(second, `/stats?from=${new Date(Date.now() - 3_600_000).toISOString()}`);
      expect(today.body).toMatchObject({ calls: 1, bargeIns: 1, failures: 0, endReasons: { 'caller-hung-up': 1 } });
      expect(today.body.costUsd).toBeCloseTo(expected, 6);
    } finally {
      await first.close().catch(() => undefined);
      await second?.close();
    }
  });

  test('a GPT-Live call is recorded with its engine, its transcript, the seconds billed and their cost', async ({ live, startApp, placeLiveCall }) => {
    const app = await startApp({ ...(await storage(kind)), VOICE_ENGINE: 'live', OPENAI_LIVE_URL: live.url });
    const { call, model, callSid } = await placeLiveCall(app);
    model.hearCaller('Is the shop open?');
    await model.speak({ chunks: chunks(testAudio(1600, 3), 800), transcript: 'Yes, until six.' });
    await record(app, callSid, (r) => expect(r.transcript).toHaveLength(2)); // reached the app before the hang-up
    call.sendStop();
    const saved = await record(app, callSid); // ended: call.ended comes after the session's final count
    expect(saved).toMatchObject({ engine: 'live', model: 'gpt-live-1.1', endReason: 'caller-hung-up' });
    expect(saved.transcript.map((t: any) => [t.role, t.text])).toEqual([
      ['user', 'Is the shop open?'],
      ['assistant', 'Yes, until six.'],
    ]);
    // The session's final count (session.closed) is in, and priced at $0.05 a minute.
    expect(saved.usage.billedSeconds).toBeCloseTo(model.seconds, 3);
    expect(saved.costUsd).toBeCloseTo((model.seconds / 60) * 0.05, 9);
    // Listed under its engine (and direction), not under the other engine.
    expect((await getJson(app, '/calls?engine=live&direction=inbound')).body.calls.map((c: any) => c.callSid)).toEqual([callSid]);
    expect((await getJson(app, '/calls?engine=realtime')).body.calls).toEqual([]);
  });

  test('retention deletes calls older than CALL_RETENTION_DAYS; DELETE /calls/{sid} removes one with everything under it', async ({ startApp, placeCall }) => {
    const app = await startApp({ ...(await storage(kind)), CALL_RETENTION_DAYS: '30' });
    const older = await placeCall(app);
    older.call.sendStop();
    const olderRecord = await record(app, older.callSid);
    const newer = await placeCall(app);
    newer.model.userTranscript(newer.model.speechStarted(), 'Hello there');
    await record(app, newer.callSid, (r) => expect(r.transcript).toHaveLength(1)); // reached the app before the hang-up
    newer.call.sendStop();
    const newerRecord = await record(app, newer.callSid);
    expect(Date.parse(newerRecord.startedAt)).toBeGreaterThan(Date.parse(olderRecord.startedAt));

    // The sweeper's pass, 30 days after the newer call started: the older one is past retention.
    const deleted = await app.app.get(RecordRetention).sweep(Date.parse(newerRecord.startedAt) + 30 * 86_400_000);
    expect(deleted).toBe(1);
    expect((await getJson(app, `/calls/${older.callSid}`)).status).toBe(404);
    expect((await getJson(app, `/calls/${newer.callSid}`)).status).toBe(200);

    expect((await getJson(app, `/calls/${newer.callSid}`, 'DELETE')).status).toBe(204);
    expect((await getJson(app, `/calls/${newer.callSid}`)).status).toBe(404);
    expect((await getJson(app, `/calls/${newer.callSid}/events`)).status).toBe(404);
    expect((await getJson(app, `/calls/${newer.callSid}`, 'DELETE')).status).toBe(404);
    expect((await getJson(app, '/calls')).body.calls).toEqual([]);
  });
});

test('the records API follows the dashboard rule (the dashboard token, loopback included); bad input is a 400', async ({ startApp }) => {
  const app = await startApp({ ...(await storage('pglite')), DASHBOARD_TOKEN: 'records-token-0123456789' });
  for (const path of ['/calls', '/stats', '/calls/CA0000000000000000000000000000dead', '/calls/CA0000000000000000000000000000dead/events']) {
    expect([path, (await fetch(`${app.httpUrl}${path}`)).status]).toEqual([path, 401]);
  }
  expect((await fetch(`${app.httpUrl}/calls`, { headers: { authorization: 'Bearer not-the-token-000000' } })).status).toBe(401);
  expect((await fetch(`${app.httpUrl}/calls/CA0000000000000000000000000000dead`, { method: 'DELETE' })).status).toBe(401);
  const auth = { authorization: 'Bearer records-token-0123456789' };
  const ok = await fetch(`${app.httpUrl}/calls?limit=5`, { headers: auth });
  expect(ok.status).toBe(200);
  expect(await ok.json()).toEqual({ calls: [], nextCursor: null });
  for (const path of [
    '/calls?limit=0',
    '/calls?from=yesterday',
    '/calls?cursor=nonsense',
    '/calls?engine=gpt',
    '/calls/not%20a%20sid',
    '/stats?from=2030-01-02&to=2030-01-01',
  ]) {
    expect([path, (await fetch(`${app.httpUrl}${path}`, { headers: auth })).status]).toEqual([path, 400]);
  }
  expect((await fetch(`${app.httpUrl}/calls/CA0000000000000000000000000000dead`, { headers: auth })).status).toBe(404);
});

test('with RECORDS=off the API says so (503) and /health reports the store as disabled', async ({ startApp }) => {
  const app = await startApp({ RECORDS: 'off' });
  const res = await fetch(`${app.httpUrl}/calls`, { headers: operatorHeaders(app) });
  expect(res.status).toBe(503);
  expect(((await res.json()) as { message: string }).message).toMatch(/RECORDS=off/);
  const health: any = await (await fetch(`${app.httpUrl}/health`, { headers: operatorHeaders(app) })).json();
  expect(health.details.database).toEqual({ status: 'up', enabled: false });
});
