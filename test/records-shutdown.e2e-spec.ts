import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe } from 'vitest';
import { expect, test } from './support/fixture';
import { eventually, startServerProcess, type ServerProcess } from './support/server-process';
import { operatorHeaders, startTestApp, TEST_API_KEY, TEST_AUTH_TOKEN, TEST_PUBLIC_URL, type TestApp } from './support/test-app';

/** A server with call records in `dataDir`, on the Realtime emulator at `realtimeUrl`, signed as in production. */
function recordsEnv(realtimeUrl: string, dataDir: string): Record<string, string> {
  return {
    OPENAI_API_KEY: TEST_API_KEY,
    PUBLIC_URL: TEST_PUBLIC_URL,
    OPENAI_REALTIME_URL: realtimeUrl,
    TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
    RECORDS: 'on',
    DATA_DIR: dataDir,
  };
}

/** The production entry point on SIGTERM: what is queued reaches the database before the process exits. */
describe('call records at shutdown', () => {
  let server: ServerProcess | undefined;
  let app: TestApp | undefined;
  let dataDir: string | undefined;
  afterEach(async () => {
    server?.child.kill('SIGKILL');
    await app?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    server = app = dataDir = undefined;
  });

  test('SIGTERM with a live call: the call is ended at the drain timeout, its record is flushed, and the next server reads it', async ({
    realtime,
    placeCall,
  }) => {
    dataDir = mkdtempSync(join(tmpdir(), 'records-shutdown-'));
    const env = recordsEnv(realtime.url, dataDir);
    server = await startServerProcess({ ...env, DRAIN_TIMEOUT_S: '1', RECORDS_FLUSH_MS: '60000' }); // nothing flushes before the shutdown does
    const { call, model, callSid } = await placeCall(server.urls);
    model.userTranscript(model.speechStarted(), 'Are you still there?');
    await model.audioResponse({ chunks: [Buffer.alloc(800, 0xff)], transcript: 'Yes, I am here.' });
    server.child.kill('SIGTERM');
    expect(await call.waitForClose(5000)).toMatchObject({ reason: 'shutdown' });
    expect(await server.exited).toEqual({ code: 0, signal: null });
    server = undefined;

    app = await startTestApp(env);
    const res = await fetch(`${app.httpUrl}/calls/${callSid}`, { headers: operatorHeaders(app) });
    expect(res.status).toBe(200);
    const record: any = await res.json();
    expect(record).toMatchObject({ callSid, endReason: 'shutdown' });
    expect(record.transcript.map((t: any) => t.text)).toEqual(['Are you still there?', 'Yes, I am here.']);
    expect(record.timeline.at(-1)).toMatchObject({ type: 'call.ended', data: { reason: 'shutdown' } });
  }, 40_000);

  test('kill -9 with a live call: the next server ends its record as server-lost at the last moment recorded; its own silent live call is kept open', async ({
    realtime,
    placeCall,
  }) => {
    dataDir = mkdtempSync(join(tmpdir(), 'records-killed-'));
    const env = {
      ...recordsEnv(realtime.url, dataDir),
      DASHBOARD_TOKEN: 'killed-server-dashboard-token',
      RECORDS_FLUSH_MS: '50',
      RECORDS_LIVE_TIMEOUT_S: '3', // rows rewritten every second; 3 s unwritten = lost
    };
    const headers = { authorization: `Bearer ${env.DASHBOARD_TOKEN}` };
    server = await startServerProcess(env);
    const killed = await placeCall(server.urls);
    killed.model.userTranscript(killed.model.speechStarted(), 'Hello?');
    const serverUrl = server.urls.httpUrl;
    await eventually(async () => (await fetch(`${serverUrl}/calls/${killed.callSid}`, { headers })).status === 200);
    server.child.kill('SIGKILL');
    expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const killedAt = Date.now();
    server = undefined;

    app = await startTestApp(env);
    const survivor = await placeCall(app);
    const record = async (callSid: string) => (await (await fetch(`${app!.httpUrl}/calls/${callSid}`, { headers: operatorHeaders(app!) })).json()) as any;
    await eventually(async () => (await record(killed.callSid)).endReason === 'server-lost', 10_000);
    const lost = await record(killed.callSid);
    expect(Date.parse(lost.endedAt)).toBeLessThanOrEqual(killedAt);
    expect(Date.parse(lost.endedAt)).toBeGreaterThan(killedAt - 2000); // its last heartbeat or event, not the sweep's time
    expect(lost.durationMs).toBe(Date.parse(lost.endedAt) - Date.parse(lost.startedAt));
    expect(lost.transcript.map((t: any) => t.text)).toEqual(['Hello?']);
    // The new server's own call has said nothing for longer than the timeout: its heartbeat keeps it open.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(await record(survivor.callSid)).toMatchObject({ endedAt: null, endReason: null });
    const stats: any = await (await fetch(`${app.httpUrl}/stats`, { headers: operatorHeaders(app) })).json();
    expect(stats.endReasons).toMatchObject({ 'server-lost': 1 });
  }, 40_000);
});
