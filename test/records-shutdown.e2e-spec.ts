import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe } from 'vitest';
import { expect, test } from './support/fixture';
import { startServerProcess, type ServerProcess } from './support/server-process';
import { operatorHeaders, startTestApp, TEST_API_KEY, TEST_AUTH_TOKEN, TEST_PUBLIC_URL, type TestApp } from './support/test-app';

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
    const env = {
      OPENAI_API_KEY: TEST_API_KEY,
      PUBLIC_URL: TEST_PUBLIC_URL,
      OPENAI_REALTIME_URL: realtime.url,
      TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
      RECORDS: 'on',
      DATA_DIR: dataDir,
    };
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
});
