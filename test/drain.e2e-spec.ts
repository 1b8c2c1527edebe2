import { describe } from 'vitest';
import { newCallSid } from '../emulator/phone';
import { expect, test as base } from './support/fixture';
import { eventually, startServerProcess, type ServerProcess } from './support/server-process';
import { markOf, postTwiml, TEST_API_KEY, TEST_AUTH_TOKEN, TEST_PUBLIC_URL, testAudio } from './support/test-app';

/** The production server as a child process, pointed at the `realtime` emulator and killed after the test. */
const it = base.extend<{ startServer: (env?: Record<string, string>) => Promise<ServerProcess> }>({
  startServer: async ({ realtime }, use) => {
    const servers: ServerProcess[] = [];
    await use(async (env = {}) => {
      const server = await startServerProcess({
        OPENAI_API_KEY: TEST_API_KEY,
        PUBLIC_URL: TEST_PUBLIC_URL,
        OPENAI_REALTIME_URL: realtime.url,
        TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
        ...env,
      });
      servers.push(server);
      return server;
    });
    for (const server of servers) server.child.kill('SIGKILL');
  },
});

/** The production entry point (`node dist/main.js`) receiving real signals. */
describe('graceful shutdown', () => {
  it('on SIGTERM stops taking calls but lets live ones finish, then exits 0', async ({ realtime: fake, startServer, placeCall }) => {
    const server = await startServer({ DRAIN_TIMEOUT_S: '30' });
    const { call, model } = await placeCall(server.urls);
    server.child.kill('SIGTERM');
    await eventually(async () => (await fetch(`${server.urls.httpUrl}/health/ready`)).status === 503);
    expect((await fetch(`${server.urls.httpUrl}/health/live`)).status).toBe(200); // alive while draining
    const busy = await postTwiml(server.urls, { CallSid: newCallSid() });
    expect(busy.body).toMatch(/<Say>Sorry, all our lines are busy[^<]*<\/Say><Hangup\/>/);
    expect(fake.connections).toHaveLength(1); // the refused call was not dialled

    // The live call carries on, both ways.
    const audio = testAudio(1600, 1);
    await call.sendAudio(audio, { paced: false });
    await model.waitForAppendedBytes(audio.length);
    const { itemId } = await model.audioResponse({ chunks: [testAudio(800, 2)] });
    await call.waitFor('mark', (m) => markOf(m) === `${itemId}:100`);
    expect(server.child.exitCode).toBeNull();

    call.sendStop();
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('draining 1 live call(s)');
  }, 30_000);

  it('ends calls still live at DRAIN_TIMEOUT_S cleanly, tells the caller why, and exits 0', async ({ startServer, placeCall }) => {
    const server = await startServer({ DRAIN_TIMEOUT_S: '1' });
    const { call, model, callSid: sid } = await placeCall(server.urls);
    server.child.kill('SIGTERM');
    const closed = await call.waitForClose(5000);
    expect(closed).toMatchObject({ code: 1000, reason: 'shutdown' });
    await model.waitForClose();
    // Twilio then asks what to say; the server is still there to answer.
    const next = await postTwiml(server.urls, { CallSid: sid }, { path: '/twiml/stream-ended' });
    expect(next.body).toMatch(/<Say>We have to end this call now[^<]*<\/Say><Hangup\/>/);
    expect(await server.exited).toEqual({ code: 0, signal: null });
  }, 30_000);

  it('exits 0 at once on SIGINT with no live calls', async ({ startServer }) => {
    const server = await startServer();
    server.child.kill('SIGINT');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  }, 30_000);
});
