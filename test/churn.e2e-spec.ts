import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe } from 'vitest';
import type { FakeRealtimeServer } from '../emulator/fake-realtime-server';
import { CallRegistry } from '../src/call-gateway/call-registry.service';
import { CallEventBus } from '../src/call-gateway/call-events';
import { type CallFixtures, expect, it } from './support/fixture';
import { LogsClient } from './support/logs-client';
import { markOf, type TestApp, testAudio } from './support/test-app';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

type Ending = 'caller-stop' | 'caller-vanishes' | 'model-refuses' | 'model-fatal-error';
const ENDINGS: Ending[] = ['caller-stop', 'caller-vanishes', 'model-refuses', 'model-fatal-error'];

/** What the calls of a churn run need: the app, its emulator, the phone, and a dashboard watching. */
interface Churn {
  app: TestApp;
  fake: FakeRealtimeServer;
  placeCall: CallFixtures['placeCall'];
  logs: LogsClient;
}

describe('churn', () => {
  let index = 0;

  /** One short call that talks a little, hears a little, and ends one of four ways. */
  async function shortCall({ app, fake, placeCall, logs }: Churn, ending: Ending): Promise<void> {
    const n = index++;
    const { call, model, callSid: sid } = await placeCall(app);
    call.sendMedia(testAudio(160, n));
    await model.waitForAppendedBytes(160);
    const { itemId } = await model.audioResponse({ chunks: [testAudio(160, n + 1)] });
    await call.waitFor('mark', (m) => markOf(m) === `${itemId}:20`);
    switch (ending) {
      case 'caller-stop':
        call.sendStop();
        break;
      case 'caller-vanishes':
        call.terminate();
        break;
      case 'model-refuses':
        model.close(1008, 'policy violation');
        break;
      case 'model-fatal-error':
        model.error({ type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' });
        break;
    }
    await logs.waitFor('call.ended', (e) => e.callSid === sid);
    await model.waitForClose();
    if (!call.closed) await call.waitForClose();
    // Let the fake forget this connection, so the heap measures the app, not the test's records.
    (fake.connections as unknown[])[fake.connections.indexOf(model)] = undefined;
  }

  async function run(churn: Churn, calls: number, concurrency: number): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < calls) {
          const i = next++;
          await shortCall(churn, ENDINGS[i % ENDINGS.length]);
        }
      }),
    );
  }

  it('returns to baseline after 500 short calls ending abruptly from either side', async ({ realtime: fake, startApp, placeCall }) => {
    const app = await startApp({ MAX_CONCURRENT_CALLS: '1000' });
    const registry = app.app.get(CallRegistry);
    const bus = app.app.get(CallEventBus);
    const logs = await LogsClient.connect(app);
    const churn = { app, fake, placeCall, logs };
    await run(churn, 40, 10); // warm-up: JIT, lazy modules, pools
    logs.events.length = 0;
    const baselineResources = resources();
    const baselineHeap = heapMb();
    const listeners = bus.listenerCount;

    const started = Date.now();
    await run(churn, 500, 25);
    const seconds = (Date.now() - started) / 1000;
    logs.events.length = 0;

    expect(registry.activeCount).toBe(0);
    expect(registry.reservedCount).toBe(0);
    expect(bus.listenerCount).toBe(listeners);
    // Sockets and timers of the calls are all gone (polled: closes finish asynchronously).
    const deadline = Date.now() + 5000;
    let after = resources();
    const leaked = () => Object.entries(after).filter(([name, count]) => count > (baselineResources[name] ?? 0));
    while (leaked().length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      after = resources();
    }
    expect(leaked()).toEqual([]);
    const heapAfter = heapMb();
    console.log(
      `churn: 500 calls in ${seconds.toFixed(1)} s; heap ${baselineHeap.toFixed(1)} MB → ${heapAfter.toFixed(1)} MB ` +
        `(${(heapAfter - baselineHeap).toFixed(1)} MB); resources before ${JSON.stringify(baselineResources)} after ${JSON.stringify(after)}`,
    );
    expect(heapAfter - baselineHeap).toBeLessThan(8);
    logs.close();
  }, 120_000);
});
