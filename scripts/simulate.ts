// `npm run simulate -- --url <server> --audio question.wav [--out answer.wav]`: a phone call
// without a phone, against any running instance (including one connected to the real OpenAI
// API). Posts the voice webhook as Twilio does, opens the media stream from the TwiML, speaks
// the audio in real time (20 ms frames, silence before and after, as a phone line sends), plays
// the answer like Twilio's player (echoing marks, honouring clear), and saves what the caller
// heard to a WAV file.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { mulawToWav, UnsupportedWavError, wavToMulaw } from '../emulator/audio-codec';
import { CallerMicrophone } from '../emulator/caller-microphone';
import { DEMO_CALLER } from '../emulator/demo-conversation';
import { CallRefusedError, dial } from '../emulator/phone';
import { loadClip } from '../emulator/speech';

const USAGE = `usage: npm run simulate -- --url <server base URL> [--audio question.wav] [--out answer.wav] [options]

  --url URL               where the server is reachable, e.g. http://localhost:8081
  --audio FILE            what the caller says: WAV (any rate, PCM/float/mu-law), raw 8 kHz mu-law (.ulaw),
                          or anything sox reads if sox is installed. Default: a shipped clip,
                          "${DEMO_CALLER[0].text}"
  --out FILE              where to save what the caller heard (PCM16 WAV, 8 kHz). Default: answer.wav
  --signature-token TOKEN the server's TWILIO_AUTH_TOKEN: sign the webhook and the stream upgrade like Twilio
  --public-url URL        the server's PUBLIC_URL, which signatures cover (default: asked from GET /public-url)
  --use-twiml-url         connect to the stream URL exactly as the TwiML says (default: its path on --url)
  --dashboard-token TOKEN for the live transcript from /ws/logs: DASHBOARD_TOKEN, or the token in the dashboard
                          link the server printed at start
  --no-logs               do not read /ws/logs
  --wait SECONDS          hang up after the assistant has been quiet this long (default 2)
  --max-seconds SECONDS   hang up after this long whatever happens (default 60)`;

interface Options {
  url: string;
  audio?: string;
  out: string;
  signatureToken?: string;
  publicUrl?: string;
  useTwimlUrl: boolean;
  dashboardToken?: string;
  logs: boolean;
  waitMs: number;
  maxMs: number;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      audio: { type: 'string' },
      out: { type: 'string', default: 'answer.wav' },
      'signature-token': { type: 'string' },
      'public-url': { type: 'string' },
      'use-twiml-url': { type: 'boolean', default: false },
      'dashboard-token': { type: 'string' },
      'no-logs': { type: 'boolean', default: false },
      wait: { type: 'string', default: '2' },
      'max-seconds': { type: 'string', default: '60' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!values.url) throw new Error(`--url is required\n\n${USAGE}`);
  const waitS = Number(values.wait);
  const maxS = Number(values['max-seconds']);
  if (!(waitS > 0) || !(maxS > 0)) throw new Error('--wait and --max-seconds must be positive numbers');
  // `npm run` works in the package root; paths the user typed are relative to where they typed them.
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const audio = values.audio && resolve(cwd, values.audio);
  const out = resolve(cwd, values.out);
  // Checked before the call, not after a minute of it.
  if (audio && !existsSync(audio)) throw new Error(`--audio ${values.audio}: no such file (${audio}); paths are relative to ${cwd}`);
  if (audio && statSync(audio).isDirectory()) throw new Error(`--audio ${values.audio}: is a folder, not an audio file`);
  if (!existsSync(dirname(out))) throw new Error(`--out ${values.out}: the folder ${dirname(out)} does not exist`);
  return {
    url: values.url,
    audio,
    out,
    signatureToken: values['signature-token'],
    publicUrl: values['public-url'],
    useTwimlUrl: values['use-twiml-url'],
    dashboardToken: values['dashboard-token'],
    logs: !values['no-logs'],
    waitMs: waitS * 1000,
    maxMs: maxS * 1000,
  };
}

function hasSox(): boolean {
  try {
    execFileSync('sox', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The caller's audio as 8 kHz mu-law. WAV and raw mu-law are read here; sox handles the rest. */
export function loadCallerAudio(path: string): Buffer {
  const ext = extname(path).toLowerCase();
  if (ext === '.ulaw' || ext === '.mulaw' || ext === '.ul') return readFileSync(path);
  if (ext === '.wav') {
    try {
      return wavToMulaw(readFileSync(path));
    } catch (err) {
      if (!(err instanceof UnsupportedWavError) || !hasSox()) throw err;
    }
  }
  if (!hasSox()) throw new Error(`cannot read ${path}: only WAV and raw mu-law are supported without sox (apt-get install sox)`);
  return execFileSync('sox', [path, '-r', '8000', '-c', '1', '-e', 'mu-law', '-t', 'raw', '-'], { maxBuffer: 256 * 1024 * 1024 });
}

/** What Twilio requests (and signs): PUBLIC_URL + /twiml, as the server itself reports it. */
async function webhookUrl(opts: Options): Promise<string | undefined> {
  if (opts.publicUrl) return opts.publicUrl.replace(/\/+$/, '') + '/twiml';
  try {
    // In production the server tells its URLs to the operator only.
    const headers: Record<string, string> = opts.dashboardToken ? { authorization: `Bearer ${opts.dashboardToken}` } : {};
    const res = await fetch(opts.url.replace(/\/+$/, '') + '/public-url', { headers });
    if (res.ok) return ((await res.json()) as { webhookUrl?: string }).webhookUrl ?? undefined;
    if (res.status === 401) {
      console.log(
        '(the server keeps its PUBLIC_URL to the operator: signing over --url; pass --public-url, or --dashboard-token, if that is not what it expects)',
      );
    }
  } catch {
    // fall back to --url below
  }
  return undefined;
}

/** What to do about a refusal, for the refusals a user can fix from here. */
function refusalHint(status: number | undefined, opts: Options): string | undefined {
  if (status === 403 && !opts.signatureToken) {
    return 'The server checks Twilio signatures: pass --signature-token with its TWILIO_AUTH_TOKEN.';
  }
  if (status === 403) {
    return (
      "The signature did not match: --signature-token must be the server's TWILIO_AUTH_TOKEN, and the URL signed must be its PUBLIC_URL" +
      ' (pass --public-url if the server is reached through another address).'
    );
  }
  return undefined;
}

/** Prints this call's events from /ws/logs, best effort (the stream may be protected or absent). */
async function followLogs(opts: Options, callSid: () => string): Promise<WebSocket | null> {
  const url = new URL(opts.url);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = '/ws/logs';
  const headers: Record<string, string> = {};
  if (opts.dashboardToken) {
    url.searchParams.set('token', opts.dashboardToken);
    headers.authorization = `Bearer ${opts.dashboardToken}`;
  }
  const socket = new WebSocket(url, { headers });
  let status: number | undefined;
  socket.once('unexpected-response', (_req, res) => {
    status = res.statusCode;
    res.resume();
    socket.terminate();
  });
  try {
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  } catch (err) {
    if (status === 401) {
      const which = opts.dashboardToken ? 'that --dashboard-token was not accepted' : 'it needs the dashboard token';
      console.log(
        `(no live transcript: ${which}; pass --dashboard-token with DASHBOARD_TOKEN, or the token in the dashboard link the server printed at start; or --no-logs)`,
      );
    } else {
      console.log(`(no live transcript: ${url.origin}/ws/logs refused the connection: ${status ? `HTTP ${status}` : (err as Error).message})`);
    }
    return null;
  }
  socket.on('error', () => undefined);
  socket.on('message', (data) => {
    const e = JSON.parse(data.toString());
    if (e.callSid !== callSid()) return;
    if (e.type === 'transcript.done') console.log(`  ${e.role === 'user' ? 'caller   ' : 'assistant'}  "${e.text}"`);
    else if (e.type === 'barge_in') console.log(`  barge-in   answer cut at ${e.audioEndMs} ms`);
    else if (e.type === 'function_call.started') console.log(`  function   ${e.name}(${e.arguments})`);
    else if (e.type === 'function_call.finished') console.log(`  result     ${e.output}`);
    else if (e.type === 'call.ended') console.log(`  ended      ${e.reason}`);
    else if (e.type === 'error') console.log(`  error      (${e.source}) ${e.message}`);
  });
  return socket;
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const speech = opts.audio ? loadCallerAudio(opts.audio) : loadClip(DEMO_CALLER[0].clip);
  console.log(`Caller audio: ${opts.audio ?? `shipped clip "${DEMO_CALLER[0].text}"`} (${(speech.length / 8000).toFixed(1)} s of 8 kHz mu-law)`);

  let sid = '';
  const logs = opts.logs ? await followLogs(opts, () => sid) : null;
  const publicWebhook = opts.signatureToken ? await webhookUrl(opts) : undefined;
  let lastAudioAt = 0;
  const audioArrivals: number[] = []; // when each piece of assistant audio arrived
  let placed;
  try {
    placed = await dial({
      baseUrl: opts.url,
      publicWebhookUrl: publicWebhook,
      signatureToken: opts.signatureToken,
      useTwimlStreamUrl: opts.useTwimlUrl,
      streamDelayMs: 200,
      simulator: {
        onMessage: (m, at) => {
          if (m.event !== 'media') return;
          lastAudioAt = at;
          audioArrivals.push(at);
        },
      },
    });
  } catch (err) {
    logs?.close();
    if (err instanceof CallRefusedError) {
      const hint = refusalHint(err.status, opts);
      throw new Error(hint ? `${err.message}\n${hint}` : `${err.message}\nAnswer: ${err.twiml}`, { cause: err });
    }
    // The stream upgrade is signed too (ws: "Unexpected server response: 403").
    const upgrade = /Unexpected server response: (\d+)/.exec((err as Error).message);
    const hint = upgrade ? refusalHint(Number(upgrade[1]), opts) : undefined;
    if (hint) throw new Error(`the server refused the media stream (HTTP ${upgrade![1]})\n${hint}`, { cause: err });
    throw err;
  }
  const { call, callSid } = placed;
  sid = callSid;
  console.log(`Call ${callSid}: stream open, the line is live.`);
  const mic = new CallerMicrophone(call);
  mic.start();

  const startedAt = performance.now();
  const deadline = startedAt + opts.maxMs;
  const over = (): boolean => call.closed || performance.now() > deadline;
  // The line is quiet when nothing has arrived for a while and nothing is left to play.
  const quietFor = (ms: number): boolean => call.playbackRemainingMs() === 0 && performance.now() - Math.max(lastAudioAt, startedAt) >= ms;

  // Let a greeting (AGENT_GREETING) finish before talking, as a polite caller would.
  while (!over() && !quietFor(1000)) await delay(20);
  console.log(`Caller speaks (${(speech.length / 8000).toFixed(1)} s)…`);
  await mic.say(speech);
  // Where the caller stopped talking, not where the file ended: the model answers during a recording's
  // trailing silence (its VAD waits for silence), so that audio counts as the answer.
  const stoppedAt = mic.lastVoiceAt || mic.lastSpeechEndedAt || performance.now();
  const firstAnswerAt = (): number => audioArrivals.find((at) => at > stoppedAt) ?? 0;
  const answered = (): boolean => lastAudioAt > stoppedAt;
  while (!over() && !(answered() && quietFor(opts.waitMs))) {
    if (!answered() && performance.now() - stoppedAt > 20_000) break; // no answer at all
    await delay(20);
  }

  const hungUpByServer = call.closed;
  mic.stop();
  if (!call.closed) {
    call.sendStop();
    call.close();
  }
  const closed = await call.waitForClose(5000).catch(() => null);
  logs?.close();

  const heard = call.heardAudio();
  try {
    writeFileSync(opts.out, mulawToWav(heard));
  } catch (err) {
    throw new Error(`cannot save what the caller heard to ${opts.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  console.log('');
  console.log(`Heard ${(heard.length / 8000).toFixed(1)} s of assistant audio → ${resolve(opts.out)}`);
  if (answered())
    console.log(`First answer audio ${Math.round(firstAnswerAt() - stoppedAt)} ms after the caller stopped talking (includes the model's end-of-turn wait).`);
  if (call.clears.length > 0) console.log(`The server cleared playback ${call.clears.length} time(s) (barge-in).`);
  console.log(hungUpByServer ? `The server ended the call (close code ${closed?.code ?? '?'}).` : 'The caller hung up (stop).');
  if (call.protocolErrors.length > 0) console.log(`Messages the real Twilio would reject: ${call.protocolErrors.join('; ')}`);
  if (!answered()) {
    console.error('The assistant said nothing after the caller spoke.');
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
