// The one set-up every end-to-end test shares: the real app on an ephemeral port, the Realtime
// and GPT-Live emulators, and calls placed with the emulator's phone (webhook, TwiML, signed
// media stream), all torn down after each test whatever happened in it.
//
//   import { test, expect } from './support/fixture';
//   test('…', async ({ startApp, placeCall }) => {
//     const app = await startApp({ AGENT_GREETING: 'Say hi.' });   // pointed at `realtime`
//     const { call, model } = await placeCall(app);
//   });
//   test('… on GPT-Live', async ({ startLiveApp, placeLiveCall }) => {
//     const app = await startLiveApp();                              // VOICE_ENGINE=live, pointed at `live`
//     const { call, model } = await placeLiveCall(app);              // model: the FakeLiveConnection, started
//   });
import { test as base } from 'vitest';
import { FakeLiveServer, type FakeLiveConnection, type FakeLiveServerOptions } from '../../emulator/fake-live-server';
import { FakeRealtimeServer, type FakeRealtimeConnection, type FakeRealtimeServerOptions } from '../../emulator/fake-realtime-server';
import { dial, newCallSid, type DialOptions } from '../../emulator/phone';
import type { TwilioCallSimulator } from '../../emulator/twilio-call-simulator';
import type { AgentTool } from '../../src/tools/agent-tool';
import { startTestApp, TEST_AUTH_TOKEN, type SignedApp, type TestApp, type TestAppOptions } from './test-app';

export { expect } from 'vitest';

/** A call whose model never answered (the emulator refused the pre-dial). */
export interface UnansweredCall {
  call: TwilioCallSimulator;
  callSid: string;
  /** The TwiML the webhook answered with. */
  twiml: string;
}

export interface PlacedCall extends UnansweredCall {
  /** The emulator's side of this call's model connection (the one pre-dialled by the webhook). */
  model: FakeRealtimeConnection;
}

export interface PlaceCallOptions extends Partial<Pick<DialOptions, 'callSid' | 'from' | 'to' | 'simulator' | 'streamDelayMs'>> {
  /** The emulator that receives this call's model connection (default: the `realtime` fixture). */
  realtime?: FakeRealtimeServer;
  /** Wait for the model's `session.update` before opening the stream (default true). */
  waitForConfig?: boolean;
  /** Runs once the pre-dialled model is there (and configured), before the stream opens. */
  beforeStream?: (model: FakeRealtimeConnection) => Promise<void>;
}

export interface LiveCall extends UnansweredCall {
  /** The GPT-Live emulator's side of this call's model connection (the one pre-dialled by the webhook). */
  model: FakeLiveConnection;
}

export interface PlaceLiveCallOptions extends Partial<Pick<DialOptions, 'callSid' | 'from' | 'to' | 'simulator' | 'streamDelayMs'>> {
  /** The emulator that receives this call's model connection (default: the `live` fixture). */
  live?: FakeLiveServer;
  /** Wait for session.started before opening the stream (default true). */
  waitForStart?: boolean;
  /** Runs once the pre-dialled model is there, before the stream opens. */
  beforeStream?: (model: FakeLiveConnection) => Promise<void>;
}

export interface CallFixtures {
  /** A Realtime emulator with default options, started on first use. */
  realtime: FakeRealtimeServer;
  /** Starts another emulator (fault injection, scripted models…); closed after the test. */
  startRealtime(opts?: FakeRealtimeServerOptions): Promise<FakeRealtimeServer>;
  /**
   * Starts the real app. `OPENAI_REALTIME_URL` defaults to the `realtime` fixture and
   * `TWILIO_AUTH_TOKEN` to TEST_AUTH_TOKEN (signatures checked, as in production); pass '' to unset.
   */
  startApp(env?: Record<string, string>, extraTools?: AgentTool[], opts?: TestAppOptions): Promise<TestApp>;
  /**
   * Places a call as Twilio does (signed webhook, then the signed stream with the TwiML's
   * parameters) and returns it with its model connection. Calls placed at once on one emulator
   * are told apart by order: each waits for its pre-dial before the next webhook is posted.
   * With `withModel: false` (a model that refuses the pre-dial) the stream opens at once.
   */
  placeCall(app: SignedApp, opts?: PlaceCallOptions & { withModel?: true }): Promise<PlacedCall>;
  placeCall(app: SignedApp, opts: Omit<PlaceCallOptions, 'waitForConfig' | 'beforeStream'> & { withModel: false }): Promise<UnansweredCall>;
  /** A GPT-Live emulator with default options, started on first use. */
  live: FakeLiveServer;
  /** Starts another GPT-Live emulator; closed after the test. */
  startLive(opts?: FakeLiveServerOptions): Promise<FakeLiveServer>;
  /** startApp with VOICE_ENGINE=live and OPENAI_LIVE_URL at the `live` fixture (both overridable). */
  startLiveApp(env?: Record<string, string>, extraTools?: AgentTool[], opts?: TestAppOptions): Promise<TestApp>;
  /** placeCall for a GPT-Live call: its model is the live emulator's connection, started unless told otherwise. */
  placeLiveCall(app: SignedApp, opts?: PlaceLiveCallOptions): Promise<LiveCall>;
}

export const test = base.extend<CallFixtures>({
  realtime: async ({}, use) => {
    const server = await FakeRealtimeServer.start();
    await use(server);
    await server.close();
  },

  startRealtime: async ({}, use) => {
    const started: FakeRealtimeServer[] = [];
    await use(async (opts) => {
      const server = await FakeRealtimeServer.start(opts);
      started.push(server);
      return server;
    });
    await Promise.all(started.map((s) => s.close()));
  },

  startApp: async ({ realtime }, use) => {
    const apps: TestApp[] = [];
    await use(async (env = {}, extraTools = [], opts = {}) => {
      const app = await startTestApp({ OPENAI_REALTIME_URL: realtime.url, TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN, ...env }, extraTools, opts);
      apps.push(app);
      return app;
    });
    // Apps first: closing them ends their calls, so the emulators see clean closes.
    for (const app of apps.reverse()) await app.close();
  },

  placeCall: async ({ realtime }, use) => {
    let calls: TwilioCallSimulator[] = [];
    // The emulator cannot tell which call a connection belongs to, only the order they came in:
    // placements on one emulator take turns from the webhook until their pre-dial has arrived.
    const turns = new Map<FakeRealtimeServer, Promise<void>>();
    const place = async (
      app: SignedApp,
      opts: PlaceCallOptions & { withModel?: boolean } = {},
    ): Promise<UnansweredCall & { model?: FakeRealtimeConnection }> => {
      const server = opts.realtime ?? realtime;
      const previous = turns.get(server) ?? Promise.resolve();
      let release = (): void => undefined;
      const mine = new Promise<void>((resolve) => (release = resolve));
      turns.set(
        server,
        previous.then(() => mine),
      );
      await previous;
      let model: FakeRealtimeConnection | undefined;
      try {
        const before = server.connections.length;
        const callSid = opts.callSid ?? newCallSid();
        const token = app.config.TWILIO_AUTH_TOKEN;
        const placed = await dial({
          baseUrl: app.httpUrl,
          publicWebhookUrl: app.config.publicUrl('/twiml'),
          signatureToken: token,
          callSid,
          from: opts.from,
          to: opts.to,
          simulator: opts.simulator,
          streamDelayMs: opts.streamDelayMs,
          beforeStream: async () => {
            if (opts.withModel === false) return release();
            const connection = await server.waitForConnection(before);
            model = connection;
            release();
            if (opts.waitForConfig !== false) await connection.waitFor('session.update');
            await opts.beforeStream?.(connection);
          },
        });
        // Only calls still open need closing: keeping ended ones would hold their recordings (churn measures the heap).
        calls = calls.filter((c) => !c.closed);
        calls.push(placed.call);
        return { call: placed.call, model, callSid, twiml: placed.twiml };
      } finally {
        release();
      }
    };
    await use(place as CallFixtures['placeCall']);
    for (const call of calls) if (!call.closed) call.close();
  },

  live: async ({}, use) => {
    const server = await FakeLiveServer.start();
    await use(server);
    await server.close();
  },

  startLive: async ({}, use) => {
    const started: FakeLiveServer[] = [];
    await use(async (opts) => {
      const server = await FakeLiveServer.start(opts);
      started.push(server);
      return server;
    });
    await Promise.all(started.map((s) => s.close()));
  },

  startLiveApp: async ({ live, startApp }, use) => {
    await use((env = {}, extraTools = [], opts = {}) => startApp({ VOICE_ENGINE: 'live', OPENAI_LIVE_URL: live.url, ...env }, extraTools, opts));
  },

  placeLiveCall: async ({ live }, use) => {
    let calls: TwilioCallSimulator[] = [];
    // As placeCall: connections on one emulator are told apart by order, so placements take turns.
    const turns = new Map<FakeLiveServer, Promise<void>>();
    await use(async (app, opts = {}) => {
      const server = opts.live ?? live;
      const previous = turns.get(server) ?? Promise.resolve();
      let release = (): void => undefined;
      const mine = new Promise<void>((resolve) => (release = resolve));
      turns.set(
        server,
        previous.then(() => mine),
      );
      await previous;
      let model: FakeLiveConnection | undefined;
      try {
        const before = server.connections.length;
        const callSid = opts.callSid ?? newCallSid();
        const placed = await dial({
          baseUrl: app.httpUrl,
          publicWebhookUrl: app.config.publicUrl('/twiml'),
          signatureToken: app.config.TWILIO_AUTH_TOKEN,
          callSid,
          from: opts.from,
          to: opts.to,
          simulator: opts.simulator,
          streamDelayMs: opts.streamDelayMs,
          beforeStream: async () => {
            const connection = await server.waitForConnection(before);
            model = connection;
            release();
            if (opts.waitForStart !== false) await connection.waitForStarted();
            await opts.beforeStream?.(connection);
          },
        });
        calls = calls.filter((c) => !c.closed);
        calls.push(placed.call);
        return { call: placed.call, model: model!, callSid, twiml: placed.twiml };
      } finally {
        release();
      }
    });
    for (const call of calls) if (!call.closed) call.close();
  },
});

export const it = test;
