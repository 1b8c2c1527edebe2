import { describe, vi } from 'vitest';
import { CallRegistry } from '../src/call-gateway/call-registry.service';
import { newCallSid } from '../emulator/phone';
import { expect, it } from './support/fixture';
import { postTwiml, type TestApp } from './support/test-app';

interface Probe {
  status: number;
  body: any;
}

async function probe(app: TestApp, path: string): Promise<Probe> {
  const res = await fetch(`${app.httpUrl}${path}`);
  return { status: res.status, body: await res.json() };
}

async function probeAll(app: TestApp): Promise<{ live: Probe; ready: Probe; health: Probe }> {
  return { live: await probe(app, '/health/live'), ready: await probe(app, '/health/ready'), health: await probe(app, '/health') };
}

/** Keeps the event loop busy (a deliberate stall, the condition under test; not a wait). */
function blockEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

describe('health endpoints', () => {
  it('normal: live, ready and healthy, with details (calls, capacity, heap, event loop, uptime, model)', async ({ startApp }) => {
    const app = await startApp();
    const { live, ready, health } = await probeAll(app);
    expect(live.status).toBe(200);
    expect(live.body.details.process).toMatchObject({ status: 'up', pid: process.pid });
    expect(ready.status).toBe(200);
    expect(Object.keys(ready.body.details).sort()).toEqual(['calls', 'config', 'drain', 'eventLoop']);
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('ok');
    const d = health.body.details;
    expect(d.calls).toEqual({ status: 'up', active: 0, reserved: 0, capacity: 100 });
    expect(d.config.status).toBe('up');
    expect(d.drain).toEqual({ status: 'up', draining: false });
    expect(d.heap.status).toBe('up');
    expect(d.eventLoop).toMatchObject({ status: 'up', limitMs: 1000 });
    expect(typeof d.eventLoop.delayMaxMs).toBe('number');
    expect(d.process.uptimeS).toBeGreaterThanOrEqual(0);
    expect(d.process.rssMb).toBeGreaterThan(0);
    expect(d.process.loadAverage).toHaveLength(3);
    expect(d.model).toMatchObject({ status: 'up', reachable: true, recent: 0, failures: 0, problem: null });
    expect(d.warnings).toEqual({ status: 'up', warnings: [] });
  });

  it('at capacity: not ready (503), /health 503, still live', async ({ startApp }) => {
    const app = await startApp({ MAX_CONCURRENT_CALLS: '1' });
    await postTwiml(app, { CallSid: newCallSid() }); // reserves the only slot
    const { live, ready, health } = await probeAll(app);
    expect(live.status).toBe(200);
    expect(ready.status).toBe(503);
    expect(ready.body.error.calls).toEqual({ status: 'down', active: 0, reserved: 1, capacity: 1 });
    expect(health.status).toBe(503);
    expect(health.body.error).toHaveProperty('calls');
  });

  it('draining: not ready (503) from the moment the shutdown path starts draining, still live', async ({ startApp }) => {
    const app = await startApp();
    expect((await probe(app, '/health/ready')).status).toBe(200);
    app.app.get(CallRegistry).startDraining(); // what SIGTERM/SIGINT do first (src/main.ts)
    const { live, ready, health } = await probeAll(app);
    expect(live.status).toBe(200);
    expect(ready.status).toBe(503);
    expect(ready.body.error.drain).toEqual({ status: 'down', draining: true });
    expect(ready.body.info.calls.status).toBe('up'); // draining is not reported as being at capacity
    expect(health.status).toBe(503);
  });

  it('not configured: not ready (503) naming what is missing, still live', async ({ startApp }) => {
    const app = await startApp({ OPENAI_API_KEY: '', PUBLIC_URL: '' });
    const { live, ready, health } = await probeAll(app);
    expect(live.status).toBe(200);
    expect(ready.status).toBe(503);
    expect(ready.body.error.config.missing).toEqual(['OPENAI_API_KEY', 'PUBLIC_URL']);
    expect(health.status).toBe(503);
  });

  it('event loop stalled: not ready (503) after the loop was blocked past HEALTH_MAX_EVENT_LOOP_DELAY_MS, still live', async ({ startApp }) => {
    const app = await startApp({ HEALTH_MAX_EVENT_LOOP_DELAY_MS: '150' });
    // The monitor measures from its first tick on: wait until it has, then stall the loop.
    await vi.waitFor(async () => expect((await probe(app, '/health/ready')).body.details.eventLoop.samples).toBeGreaterThan(0), {
      timeout: 5000,
      interval: 10,
    });
    blockEventLoop(400);
    const { live, ready } = await probeAll(app);
    expect(live.status).toBe(200);
    expect(ready.status).toBe(503);
    expect(ready.body.error.eventLoop).toMatchObject({ status: 'down', limitMs: 150 });
    expect(ready.body.error.eventLoop.delayMaxMs).toBeGreaterThanOrEqual(150);
  });

  it('model unreachable: /health reports it as degraded (still 200) after 3 failed connections; readiness unaffected', async ({ startApp, placeCall }) => {
    // Nothing listens there: a network failure, which may be transient, so it takes three in a row.
    const app = await startApp({ OPENAI_REALTIME_URL: 'ws://127.0.0.1:9/v1/realtime', MODEL_RECONNECT_MAX_ATTEMPTS: '1', MODEL_RECONNECT_BASE_DELAY_MS: '10' });
    for (let i = 0; i < 3; i++) {
      const { call } = await placeCall(app, { withModel: false });
      expect((await call.waitForClose()).code).toBe(1011);
      const model = (await probe(app, '/health')).body.details.model;
      expect(model.reachable).toBe(i < 2);
    }
    const { ready, health } = await probeAll(app);
    expect(ready.status).toBe(200);
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('degraded');
    expect(health.body.details.model).toMatchObject({
      status: 'degraded',
      reachable: false,
      recent: 3,
      failures: 3,
      consecutiveFailures: 3,
      lastSuccessAt: null,
      problem: { kind: 'network', message: expect.stringMatching(/check OPENAI_REALTIME_URL/) },
    });
  });

  it('model key refused: /health is degraded at the first refusal, naming OPENAI_API_KEY (a refused key never gets better)', async ({
    startRealtime,
    startApp,
    placeCall,
  }) => {
    const refusing = await startRealtime({ requireApiKey: 'sk-some-other-key-0000' });
    const app = await startApp({ OPENAI_REALTIME_URL: refusing.url });
    const { call } = await placeCall(app, { realtime: refusing, withModel: false });
    expect((await call.waitForClose()).code).toBe(1011);
    const { ready, health } = await probeAll(app);
    expect(ready.status).toBe(200);
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('degraded');
    expect(health.body.details.model).toMatchObject({
      status: 'degraded',
      reachable: false,
      failures: 1,
      lastFailure: expect.stringContaining('401'),
      problem: { kind: 'auth', message: 'the Realtime API refused the key (401): check OPENAI_API_KEY' },
    });
  });

  it('model reachable: /health remembers the last successful connection and its handshake time', async ({ startApp, placeCall }) => {
    const app = await startApp();
    const { call } = await placeCall(app);
    let model: any;
    await vi.waitFor(
      async () => {
        model = (await probe(app, '/health')).body.details.model;
        expect(model.recent).toBe(1);
      },
      { timeout: 5000, interval: 10 },
    );
    expect(model).toMatchObject({ status: 'up', reachable: true, recent: 1, failures: 0, lastSuccessAt: expect.stringMatching(/^\d{4}-/) });
    expect(typeof model.lastConnectMs).toBe('number');
    call.sendStop();
    await call.waitForClose();
  });
});
