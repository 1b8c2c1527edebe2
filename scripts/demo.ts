// `npm run demo`: the product's main job on embedded defaults, with no API key and no phone.
// Starts the real server (node dist/main.js) in a child process, a local Realtime emulator with a
// scripted voice model (or, with `-- --engine live`, the GPT-Live emulator with its full-duplex
// scripted model), and a stub weather API; then places a simulated Twilio call that speaks
// real audio, gets greeted and answered, talks over an answer (barge-in), asks for the weather
// (a function call) and says goodbye (end_call). The transcript is printed as it happens, from
// the server's own /ws/logs event stream; a latency summary follows. Exit code 0 when the whole
// call went as it should, 1 otherwise.
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { CallerMicrophone } from '../emulator/caller-microphone';
import { DEMO_CALLER, DEMO_GREETING_INSTRUCTIONS, DEMO_SCRIPT } from '../emulator/demo-conversation';
import { FakeLiveServer, type FakeLiveConnection } from '../emulator/fake-live-server';
import { FakeRealtimeServer, type FakeRealtimeConnection } from '../emulator/fake-realtime-server';
import { ScriptedLiveModel } from '../emulator/live-voice-model';
import { dial, postVoiceWebhook } from '../emulator/phone';
import { hasEspeak, loadClip, SpeechCache } from '../emulator/speech';
import { ScriptedVoiceModel, type VoiceAction } from '../emulator/voice-model';
import { freePort, startServer, type ServerProcess } from './server-process';
import { startWeatherStub, type WeatherStub } from './weather-stub';

const HANDSHAKE_MS = 300; // a realistic Realtime API handshake, hidden by pre-dial
const STREAM_DELAY_MS = 400; // Twilio's time between our TwiML and the stream's `start`
const INTERRUPT_AFTER_MS = 2000; // how much of the long answer the caller hears before talking over it
const DEMO_TIMEOUT_MS = 90_000;
/** GPT-Live: the caller must stop hearing the assistant within this of starting to talk over it. */
const LIVE_CLEAR_BUDGET_MS = 300;
const ASSISTANT_VOICE = 'en-us+f3';

interface Options {
  keep: boolean;
  verbose: boolean;
  engine: 'realtime' | 'live';
}

function parseOptions(argv: string[]): Options {
  const opts: Options = { keep: false, verbose: false, engine: 'realtime' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--keep') opts.keep = true;
    else if (arg === '--verbose') opts.verbose = true;
    else if (arg === '--engine' || arg.startsWith('--engine=')) {
      const value = arg.includes('=') ? arg.slice('--engine='.length) : argv[++i];
      if (value !== 'realtime' && value !== 'live') throw new Error(`--engine takes realtime or live, not ${value ?? 'nothing'}`);
      opts.engine = value;
    } else if (arg === '--help' || arg === '-h') {
      console.log(
        'usage: npm run demo [-- --keep] [-- --verbose] [-- --engine realtime|live]\n' +
          '  --keep     leave the server and emulator running after the call (Ctrl-C to stop)\n' +
          '  --verbose  print the server log too\n' +
          '  --engine   the voice engine: realtime (default, the Realtime emulator) or live (the GPT-Live emulator, VOICE_ENGINE=live)',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (try --help)`);
  }
  return opts;
}

/** A /ws/logs client that prints the call as it happens and keeps every event. */
class TranscriptPrinter {
  readonly events: any[] = [];
  private readonly interrupted = new Set<string>();
  private t0 = performance.now();

  constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const event = JSON.parse(data.toString());
      this.events.push(event);
      this.print(event);
    });
  }

  static async connect(url: string, token: string): Promise<TranscriptPrinter> {
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    return new TranscriptPrinter(socket);
  }

  startClock(): void {
    this.t0 = performance.now();
  }

  count(type: string, predicate: (e: any) => boolean = () => true): number {
    return this.events.filter((e) => e.type === type && predicate(e)).length;
  }

  find(type: string, predicate: (e: any) => boolean = () => true): any {
    return this.events.find((e) => e.type === type && predicate(e));
  }

  close(): void {
    this.socket.close();
  }

  line(text: string): void {
    const s = ((performance.now() - this.t0) / 1000).toFixed(1).padStart(5);
    console.log(`[${s} s] ${text}`);
  }

  private print(e: any): void {
    switch (e.type) {
      case 'call.started':
        return this.line(`call started      ${e.callSid} from ${e.from ?? '?'} (stream ${e.streamSid})`);
      case 'model.status':
        if (e.status === 'connected')
          return this.line(`model connected   handshake ${e.connectMs ?? '?'} ms, done while Twilio was still setting up the stream (pre-dial)`);
        if (e.status === 'failed' || e.status === 'closed') return this.line(`model ${e.status}      ${e.detail ?? ''}`);
        return;
      case 'transcript.done': {
        const who = e.role === 'user' ? 'caller   ' : 'assistant';
        const cut = this.interrupted.has(e.itemId) ? '  [interrupted]' : '';
        return this.line(`${who}         "${e.text}"${cut}`);
      }
      case 'barge_in':
        this.interrupted.add(e.itemId);
        return this.line(`barge-in          the caller talked over the answer: playback cleared, answer cut at ${e.audioEndMs} ms of ${e.sentMs} ms sent`);
      case 'function_call.started':
        return this.line(`function call     ${e.name}(${e.arguments})`);
      case 'function_call.finished':
        return this.line(`function result   ${e.name} → ${e.output} (${e.durationMs} ms${e.error ? `, error: ${e.error}` : ''})`);
      case 'call.ended':
        return this.line(
          `call ended        ${e.reason} after ${(e.durationMs / 1000).toFixed(1)} s (${e.framesIn} frames in, ${e.framesOut} out, ${e.badFrames} bad)`,
        );
      case 'error':
        return this.line(`error (${e.source})     ${e.message}`);
    }
  }
}

/** Polls `probe` every 10 ms (audio is real time: there is nothing to do but wait). */
async function until(probe: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!probe()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(10);
  }
}

function ms(value: number | undefined, digits = 0): string {
  return value === undefined || !Number.isFinite(value) ? 'n/a' : `${value.toFixed(digits)} ms`;
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const cleanups: (() => Promise<unknown> | void)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  const timeout = setTimeout(() => {
    console.error(`\nthe demo did not finish within ${DEMO_TIMEOUT_MS / 1000} s`);
    void cleanup().then(() => process.exit(1));
  }, DEMO_TIMEOUT_MS);

  let server: ServerProcess | undefined;
  try {
    // The model side: emulator + scripted voice (Realtime, or GPT-Live), and the weather API.
    const live = opts.engine === 'live';
    const actions: { connection: FakeRealtimeConnection | FakeLiveConnection; action: VoiceAction }[] = [];
    const speech = new SpeechCache({ voice: ASSISTANT_VOICE });
    const onAction = (connection: FakeRealtimeConnection | FakeLiveConnection, action: VoiceAction): void => void actions.push({ connection, action });
    const connections: (FakeRealtimeConnection | FakeLiveConnection)[] = [];
    let emulator: { url: string; close(): Promise<void> };
    let prepared: Promise<void>;
    if (live) {
      const voice = new ScriptedLiveModel({ script: DEMO_SCRIPT, speech, onAction });
      prepared = voice.prepare();
      emulator = await FakeLiveServer.start({
        handshakeDelayMs: HANDSHAKE_MS,
        onConnection: (connection) => {
          connections.push(connection);
          voice.attach(connection);
        },
      });
    } else {
      const voice = new ScriptedVoiceModel({ script: DEMO_SCRIPT, speech, onAction });
      prepared = voice.prepare();
      emulator = await FakeRealtimeServer.start({
        handshakeDelayMs: HANDSHAKE_MS,
        onConnection: (connection) => {
          connections.push(connection);
          voice.attach(connection);
        },
      });
    }
    cleanups.push(() => emulator.close());
    const weather: WeatherStub = await startWeatherStub();
    cleanups.push(() => weather.close());

    // The product, exactly as `npm start` runs it, on embedded defaults plus a local "OpenAI".
    const port = await freePort();
    // Signed like Twilio signs: the demo exercises the signature checks too (and works in production mode).
    const twilioToken = randomBytes(16).toString('hex');
    // The dashboard needs a token like any server's; the demo picks it, so it can print a link that works.
    const dashboardToken = randomBytes(16).toString('hex');
    server = await startServer(
      {
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        OPENAI_API_KEY: `sk-demo-offline-${randomBytes(8).toString('hex')}`,
        ...(live ? { VOICE_ENGINE: 'live', OPENAI_LIVE_URL: emulator.url } : { VOICE_ENGINE: 'realtime', OPENAI_REALTIME_URL: emulator.url }),
        WEATHER_API_URL: weather.url,
        AGENT_GREETING: DEMO_GREETING_INSTRUCTIONS,
        TWILIO_AUTH_TOKEN: twilioToken,
        DASHBOARD_TOKEN: dashboardToken,
        // Values a developer's .env may hold that would change the demo (empty = default).
        METRICS_TOKEN: '',
        MAX_CONCURRENT_CALLS: '10',
      },
      { echo: opts.verbose },
    );
    cleanups.push(() => server?.stop());
    await prepared;

    console.log('Voice agent demo: a simulated phone call, everything on this machine (no API key, no phone).');
    console.log(`  server      node dist/main.js on ${server.url} (pid ${server.pid})`);
    console.log(
      live
        ? `  model       GPT-Live emulator at ${emulator.url}, full-duplex scripted voice (faster than real time), ${HANDSHAKE_MS} ms handshake`
        : `  model       Realtime emulator at ${emulator.url}, scripted voice, ${HANDSHAKE_MS} ms handshake`,
    );
    console.log(
      `  voices      ${hasEspeak() ? 'espeak-ng speech' : 'tones (install espeak-ng for speech)'} for the assistant; the caller's lines are recorded clips`,
    );
    const dashboard = `http://localhost:${port}/dashboard#token=${dashboardToken}`;
    console.log(`  dashboard   ${dashboard}  (watch the call live${opts.keep ? '' : '; add -- --keep to keep it up afterwards'})`);
    console.log('');

    const printer = await TranscriptPrinter.connect(`ws://127.0.0.1:${port}/ws/logs`, dashboardToken);
    cleanups.push(() => printer.close());

    // What the caller's phone observes, for the latency summary.
    let receivedBytes = 0;
    let firstAudioAt = 0;
    let lastAudioEndsAt = 0;
    let clearAt = 0;
    let phone: { playbackRemainingMs(): number } | undefined = undefined;
    const itemStartBytes = new Map<string, number>();
    const firstAudioAfter = (t: number): number => audioArrivals.find((a) => a > t) ?? NaN;
    const audioArrivals: number[] = [];

    printer.startClock();
    const placed = await dial({
      baseUrl: server.url,
      signatureToken: twilioToken,
      streamDelayMs: STREAM_DELAY_MS,
      simulator: {
        onMessage: (m, at) => {
          if (m.event === 'media') {
            if (!firstAudioAt) firstAudioAt = at;
            audioArrivals.push(at);
            receivedBytes += Buffer.byteLength(m.media.payload, 'base64');
            lastAudioEndsAt = at + (phone?.playbackRemainingMs() ?? 0);
          } else if (m.event === 'mark') {
            // Marks are named item:cumulative-ms: the first one of an item says where it began.
            const [, item, sent] = String(m.mark.name).split(':');
            if (!itemStartBytes.has(item)) itemStartBytes.set(item, receivedBytes - Number(sent) * 8);
          } else if (m.event === 'clear' && !clearAt) clearAt = at;
        },
      },
    });
    const call = placed.call;
    phone = call;
    cleanups.push(() => call.close());
    const mic = new CallerMicrophone(call);
    mic.start();
    cleanups.push(() => mic.stop());

    const assistantDone = (): number => printer.count('transcript.done', (e) => e.role === 'assistant');
    const quiet = (): boolean => call.playbackRemainingMs() === 0;

    // 1. The assistant greets the caller (AGENT_GREETING).
    await until(() => assistantDone() >= 1 && firstAudioAt > 0 && quiet(), 20_000, 'the greeting');
    await delay(300);

    // 2. The caller asks a question; the long answer starts…
    await mic.say(loadClip(DEMO_CALLER[0].clip));
    const turn1End = mic.lastSpeechEndedAt;
    const playedBefore = call.playedMs();
    await until(() => call.playedMs() >= playedBefore + INTERRUPT_AFTER_MS, 20_000, 'the answer to play');

    // 3. …and the caller talks over it: barge-in, then a weather question (function call).
    const interruptAt = performance.now();
    await mic.say(loadClip(DEMO_CALLER[1].clip));
    const interruptTalkAt = mic.lastSpeechStartedAt;
    const turn2End = mic.lastSpeechEndedAt;
    await until(() => printer.count('function_call.finished') >= 1, 20_000, 'the weather function call');
    const afterTool = printer.events.length;
    await until(
      () => printer.events.slice(afterTool).some((e) => e.type === 'transcript.done' && e.role === 'assistant') && quiet(),
      20_000,
      'the weather answer',
    );
    await delay(300);

    // 4. Goodbye: the model calls end_call, says goodbye, and the server hangs up once it has played.
    await mic.say(loadClip(DEMO_CALLER[2].clip));
    const turn3End = mic.lastSpeechEndedAt;
    await call.waitForClose(20_000);
    const closedAt = performance.now();
    mic.stop();
    await until(() => printer.count('call.ended') >= 1, 5_000, 'call.ended');

    // Twilio asks what to do when the stream ends: after end_call the answer is a plain hang-up.
    const next = await postVoiceWebhook(
      { CallSid: placed.callSid, CallStatus: 'in-progress' },
      { baseUrl: server.url, path: '/twiml/stream-ended', signatureToken: twilioToken },
    );

    // ---- summary and verdict ----
    const connection = connections[0];
    const speechStarted = actions.filter((a) => a.action.type === 'speech_started' && a.action.at > interruptAt)[0]?.action.at;
    const bargeIn = printer.find('barge_in');
    // Where the server cut the answer: Realtime's truncate, or (GPT-Live has none) what the barge_in event says was heard.
    const truncation = live
      ? bargeIn && { itemId: bargeIn.itemId as string, audioEndMs: bargeIn.audioEndMs as number }
      : (connection as FakeRealtimeConnection | undefined)?.truncations[0];
    const itemStart = truncation ? itemStartBytes.get(truncation.itemId) : undefined;
    const heardMs = call.clears[0] && itemStart !== undefined ? call.clears[0].atPlayedMs - itemStart / 8 : undefined;
    const clearAfterTalkMs = clearAt - interruptTalkAt;
    const modelStatus = printer.find('model.status', (e) => e.status === 'connected');
    const weatherCall = printer.find('function_call.finished', (e) => e.name === 'get_weather_from_coords');
    const ended = printer.find('call.ended');

    console.log('');
    console.log(`Latency (measured on this machine; the emulator adds its own ${HANDSHAKE_MS} ms handshake, 500 ms VAD silence and text-to-speech):`);
    const row = (label: string, value: string, note = ''): void => console.log(`  ${label.padEnd(46)} ${value.padStart(9)}  ${note}`);
    row('model handshake (pre-dialled at POST /twiml)', ms(modelStatus?.connectMs), 'hidden from the caller: done before the stream started');
    row('stream start → first greeting audio', ms(firstAudioAt - placed.startedAt), `instead of ≥ ${HANDSHAKE_MS} ms without pre-dial`);
    row('caller stops talking → answer audio', ms(firstAudioAfter(turn1End) - turn1End), 'includes the 500 ms of silence the VAD waits for');
    row('caller stops talking → weather answer audio', ms(firstAudioAfter(turn2End) - turn2End), 'VAD + function call + emulator TTS');
    if (live) {
      row('caller starts talking → clear on the phone', ms(clearAfterTalkMs, 1), `the server's own speech check (budget ${LIVE_CLEAR_BUDGET_MS} ms)`);
      row('caller starts talking → the model stops', ms(speechStarted - interruptTalkAt, 1), 'the model hears the caller and stops by itself');
    } else {
      row('speech_started → clear on the phone', ms(clearAt - speechStarted, 1), 'how fast playback stops on barge-in');
    }
    row(
      live ? 'cut: heard position vs what was heard' : 'truncation: audio_end_ms vs what was heard',
      truncation && heardMs !== undefined ? ms(Math.abs(truncation.audioEndMs - heardMs)) : 'n/a',
      truncation && heardMs !== undefined ? `cut at ${truncation.audioEndMs} ms, caller had heard ${heardMs.toFixed(0)} ms` : '',
    );
    row('weather tool (local stub API)', ms(weatherCall?.durationMs));
    if (live) {
      // GPT-Live bills seconds of session; its backend's tokens are billed apart, at the backend model's price.
      // Both come priced from the server's own cost events (its price table; PRICES_FILE adds models).
      const usage = printer.events.filter((e) => e.type === 'usage');
      const costs = printer.events.filter((e) => e.type === 'cost');
      const seconds = usage.reduce((sum, e) => sum + (e.billedSeconds ?? 0), 0);
      const tokens = usage.reduce((sum, e) => sum + (e.billedSeconds === undefined ? e.totalTokens : 0), 0);
      const secondsIds = new Set(usage.filter((e) => e.billedSeconds !== undefined).map((e) => e.responseId));
      const secondsUsd = costs.filter((e) => secondsIds.has(e.responseId)).reduce((sum, e) => sum + (e.usd ?? 0), 0);
      const backendPriced = costs.filter((e) => !secondsIds.has(e.responseId)).every((e) => e.usd !== null);
      row(
        'GPT-Live session time billed',
        `${seconds.toFixed(1)} s`,
        `$${secondsUsd.toFixed(4)}, plus ${tokens} backend tokens${backendPriced ? '' : ' (not priced: add the backend model to PRICES_FILE)'}`,
      );
    }
    row(
      'goodbye finished playing → hang-up',
      ms(closedAt - lastAudioEndsAt),
      `after "${DEMO_CALLER[2].text}" at +${((turn3End - placed.startedAt) / 1000).toFixed(1)} s`,
    );

    const problems: string[] = [];
    if (!bargeIn || !clearAt) problems.push(`no barge-in (clear${live ? '' : ' + truncate'}) happened`);
    else if (live && !(clearAfterTalkMs <= LIVE_CLEAR_BUDGET_MS)) {
      problems.push(`the caller heard the assistant for ${clearAfterTalkMs.toFixed(0)} ms after talking over it (budget ${LIVE_CLEAR_BUDGET_MS} ms)`);
    }
    if (!weatherCall || weatherCall.error) problems.push(`the weather function call did not succeed (${weatherCall?.error ?? 'not called'})`);
    if (ended?.reason !== 'agent-ended') problems.push(`the call ended with ${ended?.reason ?? 'no call.ended event'} instead of agent-ended`);
    if (!/<Hangup\/><\/Response>$/.test(next.twiml) || /<Say>/.test(next.twiml)) problems.push(`stream-ended answered ${next.twiml}`);
    if (call.protocolErrors.length > 0) problems.push(`the server sent Twilio invalid messages: ${call.protocolErrors.join('; ')}`);
    if (connection && connection.errors.length > 0)
      problems.push(`the ${live ? 'GPT-Live' : 'Realtime'} emulator rejected events: ${connection.errors.map((e) => e.message).join('; ')}`);
    if (weather.requests < 1) problems.push('the weather stub was never called');
    if (problems.length > 0) throw new Error(problems.join('\n  '));

    console.log('');
    console.log(`Demo call complete${live ? ' on GPT-Live' : ''}: greeted, answered, interrupted, a function call, and a clean hang-up.`);
    if (opts.keep) {
      // Commands that work exactly as printed: the tokens this server was started with are in them.
      console.log(`\nStill running: server ${server.url}, emulator ${emulator.url}.`);
      console.log(`  dashboard   ${dashboard}`);
      console.log(`  metrics     curl -H 'Authorization: Bearer ${dashboardToken}' ${server.url}/metrics`);
      console.log('Place another call (the shipped caller clip; add --audio your.wav to say your own):');
      console.log(`  npm run simulate -- --url ${server.url} --signature-token ${twilioToken} --dashboard-token ${dashboardToken} --out answer.wav`);
      console.log('Ctrl-C to stop.');
      clearTimeout(timeout);
      await new Promise(() => undefined); // until SIGINT
    }
    clearTimeout(timeout);
    await cleanup();
  } catch (err) {
    clearTimeout(timeout);
    console.error(`\nDEMO FAILED: ${err instanceof Error ? err.message : String(err)}`);
    if (server && !opts.verbose) console.error(`\nLast server output:\n${server.output()}`);
    await cleanup();
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
