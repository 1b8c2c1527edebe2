// The developer tools as a user runs them, in child processes: `npm run demo` (the README's run
// command) on each voice engine, `npm run simulate` against a running instance that checks Twilio
// signatures, and the benchmark in smoke mode (numbers not asserted: they depend on the machine).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe } from 'vitest';
import { mulawToWav, readWav, silenceMulaw, toneMulaw } from '../emulator/audio-codec';
import { ScriptedVoiceModel } from '../emulator/voice-model';
import { expect, it, test } from './support/fixture';
import type { TestApp } from './support/test-app';

const ROOT = join(__dirname, '..');
const TOOLS = join(ROOT, 'dist-tools', 'scripts');

interface Run {
  code: number | null;
  out: string;
}

function run(command: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGINT');
      reject(new Error(`${command} ${args.join(' ')} did not finish in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** Starts a long-running tool and resolves once its output matches `ready` (it keeps running). */
function startUntil(args: string[], ready: RegExp, timeoutMs: number): Promise<{ child: ChildProcess; out: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGINT');
      reject(new Error(`${args.join(' ')} did not print ${ready} in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const collect = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve({ child, out: () => out });
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited (${code}) before printing ${ready}:\n${out}`));
    });
  });
}

/** Each line matched in this order, each after the previous one. */
function expectInOrder(out: string, lines: RegExp[]): void {
  let from = 0;
  for (const line of lines) {
    const match = line.exec(out.slice(from));
    expect(match, `${line} after offset ${from} in:\n${out}`).not.toBeNull();
    from += match!.index + match![0].length;
  }
}

// dist/ and dist-tools/ are built once by test/global-setup.ts (what `npm run demo` does first).

/** The demo call as printed, the same on both engines: greeting, barge-in, weather function call, goodbye and hang-up. */
const DEMO_CALL: RegExp[] = [
  /assistant +"Hello! This is the demo voice assistant\. How can I help you today\?"/,
  /caller +"Hi! What can you do for me\?"/,
  /barge-in +the caller talked over the answer: playback cleared, answer cut at \d+ ms/,
  /assistant +"I can look up the current weather[^"]*" +\[interrupted\]/,
  /caller +"Sorry to interrupt\. What is the weather in Paris right now\?"/,
  /function call +get_weather_from_coords\(\{"latitude":48\.8566,"longitude":2\.3522\}\)/,
  /function result +get_weather_from_coords → \{[^}]*"temperature_c":18\.4/,
  /assistant +"Right now in Paris it is 18 degrees, with wind at 11 kilometres per hour\."/,
  /caller +"Great, thank you\. Goodbye!"/,
  /function call +end_call\(/,
  /assistant +"You're welcome\. Goodbye!"/,
  /call ended +agent-ended/,
];

const tmp = mkdtempSync(join(tmpdir(), 'voice-tools-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('developer tools', () => {
  it('the demo (npm run demo): one command places a full call offline and exits 0', { timeout: 180_000 }, async () => {
    const demo = await run(process.execPath, [join(TOOLS, 'demo.js')], 170_000);
    expect(demo.code, demo.out).toBe(0);
    const expected = [
      /dashboard +http:\/\/localhost:\d+\/dashboard/,
      /call started +CA[0-9a-f]{32}/,
      /model connected +handshake \d+ ms/,
      ...DEMO_CALL,
      /stream start → first greeting audio +[\d.]+ ms/,
      /speech_started → clear on the phone +[\d.]+ ms/,
      /Demo call complete/,
    ];
    expectInOrder(demo.out, expected);
  });

  it(
    'the demo on GPT-Live (npm run demo -- --engine live): the same call, cleared within 300 ms of the caller talking over it',
    { timeout: 120_000 },
    async () => {
      const demo = await run(process.execPath, [join(TOOLS, 'demo.js'), '--engine', 'live'], 110_000);
      expect(demo.code, demo.out).toBe(0);
      const expected = [
        /model +GPT-Live emulator at ws:\/\/127\.0\.0\.1:\d+\/v1\/live\/sessions/,
        /call started +CA[0-9a-f]{32}/,
        /model connected +handshake \d+ ms/,
        // The same call on GPT-Live (the weather function call goes through the Responses backend).
        ...DEMO_CALL,
        /stream start → first greeting audio +[\d.]+ ms/,
        /caller starts talking → clear on the phone +[\d.]+ ms/,
        /GPT-Live session time billed +[\d.]+ s/,
        /Demo call complete on GPT-Live: greeted, answered, interrupted, a function call, and a clean hang-up\./,
      ];
      expectInOrder(demo.out, expected);
      // The demo's own verdict, checked here too: the caller stopped hearing the assistant within 300 ms of talking over it.
      const clearMs = Number(/caller starts talking → clear on the phone +([\d.]+) ms/.exec(demo.out)![1]);
      expect(clearMs).toBeLessThanOrEqual(300);
      expect(demo.out).not.toMatch(/DEMO FAILED|emulator rejected events/);
    },
  );

  it('npm run demo -- --keep prints a dashboard link and commands that work exactly as printed', { timeout: 180_000 }, async () => {
    const demo = await startUntil([join(TOOLS, 'demo.js'), '--keep'], /Ctrl-C to stop\./, 170_000);
    try {
      const out = demo.out();
      const link = /dashboard +(http:\/\/localhost:\d+\/dashboard)#token=(\S+)/.exec(out);
      expect(link, out).not.toBeNull();
      const base = link![1].replace('localhost', '127.0.0.1').replace('/dashboard', '');
      expect((await fetch(`${base}/session-config`, { headers: { authorization: `Bearer ${link![2]}` } })).status).toBe(200);
      const curl = /curl -H 'Authorization: Bearer (\S+)' (\S+\/metrics)/.exec(out);
      expect(curl, out).not.toBeNull();
      expect((await fetch(curl![2], { headers: { authorization: `Bearer ${curl![1]}` } })).status).toBe(200);

      // The printed simulate command, run as printed (its npm script builds the tools, then runs this file).
      const command = /npm run simulate -- (.+)/.exec(out);
      expect(command, out).not.toBeNull();
      const args = command![1].trim().split(/\s+/);
      const answer = join(tmp, 'kept-demo-answer.wav');
      args[args.indexOf('--out') + 1] = answer; // the same file name, somewhere the test may write
      const sim = await run(process.execPath, [join(TOOLS, 'simulate.js'), ...args, '--wait', '1'], 90_000);
      expect(sim.code, sim.out).toBe(0);
      expect(sim.out).toMatch(/caller +"Hi! What can you do for me\?"/); // the live transcript: the dashboard token worked
      expect(sim.out).toMatch(/Heard [\d.]+ s of assistant audio/);
      expect(existsSync(answer)).toBe(true);
    } finally {
      demo.child.kill('SIGINT');
    }
  });

  describe('npm run simulate against a server that checks Twilio signatures', () => {
    const TOKEN = 'twilio-auth-token-for-simulate';
    /** `server`: the app checking signatures with TOKEN, on an emulator that plays a scripted voice model. */
    const it = test.extend<{ server: TestApp }>({
      server: async ({ startRealtime, startApp }, use) => {
        const model = new ScriptedVoiceModel();
        const emulator = await startRealtime({ onConnection: (c) => model.attach(c) });
        await use(await startApp({ OPENAI_REALTIME_URL: emulator.url, TWILIO_AUTH_TOKEN: TOKEN }));
      },
    });

    it('signs the webhook and the stream, speaks a WAV file and saves the answer as WAV', { timeout: 90_000 }, async ({ server }) => {
      const question = join(tmp, 'question.wav');
      writeFileSync(question, mulawToWav(toneMulaw(800)));
      const answer = join(tmp, 'answer.wav');
      const sim = await run(
        process.execPath,
        [
          join(TOOLS, 'simulate.js'),
          '--url',
          server.httpUrl,
          '--audio',
          question,
          '--out',
          answer,
          '--signature-token',
          TOKEN,
          '--wait',
          '1',
          '--max-seconds',
          '30',
          '--no-logs',
        ],
        60_000,
      );
      expect(sim.code, sim.out).toBe(0);
      expect(sim.out).toMatch(/Heard [\d.]+ s of assistant audio/);
      // The emulator's answer to a turn it cannot understand, several seconds of it.
      const wav = readWav(readFileSync(answer));
      expect(wav.sampleRate).toBe(8000);
      expect(wav.samples.length / 8000).toBeGreaterThan(1);
    });

    it('fails clearly when the server rejects the signature', { timeout: 60_000 }, async ({ server }) => {
      const sim = await run(
        process.execPath,
        [join(TOOLS, 'simulate.js'), '--url', server.httpUrl, '--out', join(tmp, 'x.wav'), '--signature-token', 'wrong-token-123', '--no-logs'],
        30_000,
      );
      expect(sim.code).toBe(1);
      expect(sim.out).toMatch(/did not connect the call \(HTTP 403\)/);
      expect(sim.out).toMatch(/The signature did not match: --signature-token must be the server's TWILIO_AUTH_TOKEN/);
    });

    it('says to pass --signature-token when the server checks signatures and none was given', { timeout: 60_000 }, async ({ server }) => {
      const sim = await run(process.execPath, [join(TOOLS, 'simulate.js'), '--url', server.httpUrl, '--out', join(tmp, 'x.wav'), '--no-logs'], 30_000);
      expect(sim.code).toBe(1);
      expect(sim.out).toMatch(
        /did not connect the call \(HTTP 403\)\nThe server checks Twilio signatures: pass --signature-token with its TWILIO_AUTH_TOKEN\./,
      );
    });

    it('names a missing audio file or output folder before calling, without a stack trace', { timeout: 60_000 }, async ({ server }) => {
      const missing = await run(process.execPath, [join(TOOLS, 'simulate.js'), '--url', server.httpUrl, '--audio', 'no-such-question.wav'], 30_000);
      expect(missing.code).toBe(1);
      expect(missing.out).toMatch(/^--audio no-such-question\.wav: no such file \(.*no-such-question\.wav\); paths are relative to /m);
      expect(missing.out).not.toMatch(/ENOENT|\n\s+at /);
      const folder = await run(process.execPath, [join(TOOLS, 'simulate.js'), '--url', server.httpUrl, '--out', join(tmp, 'nope', 'answer.wav')], 30_000);
      expect(folder.code).toBe(1);
      expect(folder.out).toMatch(/--out .*answer\.wav: the folder .*nope does not exist/);
    });

    it('measures the first answer from where the caller stopped talking, and says how to see the transcript', { timeout: 90_000 }, async ({ server }) => {
      // 0.8 s of speech, then 2 s of silence: the model answers during the silence.
      const question = join(tmp, 'question-with-silence.wav');
      writeFileSync(question, mulawToWav(Buffer.concat([toneMulaw(800), silenceMulaw(2000)])));
      const sim = await run(
        process.execPath,
        [join(TOOLS, 'simulate.js'), '--url', server.httpUrl, '--audio', question, '--out', join(tmp, 'a.wav'), '--signature-token', TOKEN, '--wait', '1'],
        60_000,
      );
      expect(sim.code, sim.out).toBe(0);
      expect(sim.out).toMatch(
        /no live transcript: it needs the dashboard token; pass --dashboard-token with DASHBOARD_TOKEN, or the token in the dashboard link/,
      );
      const first = /First answer audio (\d+) ms after the caller stopped talking/.exec(sim.out);
      expect(first, sim.out).not.toBeNull();
      // The model's end-of-turn wait (VAD_SILENCE_DURATION_MS, 500 ms) is in it; the file's 2 s of silence is not.
      expect(Number(first![1])).toBeGreaterThanOrEqual(400);
      expect(Number(first![1])).toBeLessThan(2000);
    });
  });

  it('npm run bench -- --smoke measures a few calls and writes the table and JSON', { timeout: 180_000 }, async () => {
    const out = join(tmp, 'bench');
    const bench = await run(process.execPath, [join(TOOLS, 'bench.js'), '--smoke', '--out', out], 170_000);
    expect(bench.code, bench.out).toBe(0);
    expect(bench.out).toMatch(/\| calls \| server CPU ms per call-s \|/);
    expect(bench.out).toMatch(/^\| 1 \| [\d.]+ \|/m);
    expect(bench.out).toMatch(/^\| 4 \| [\d.]+ \|/m);
    expect(bench.out).toMatch(/Targets \(reported, not asserted\)/);
    const file = readdirSync(out).find((f) => /^bench-.*\.json$/.test(f));
    expect(file).toBeDefined();
    const json = JSON.parse(readFileSync(join(out, file!), 'utf8'));
    expect(json.results.map((r: { calls: number }) => r.calls)).toEqual([1, 4]);
    for (const r of json.results) {
      expect(r.connected).toBe(r.calls);
      expect(r.relayInMs.count).toBeGreaterThan(0);
      expect(r.relayOutMs.count).toBeGreaterThan(0);
      expect(Number.isFinite(r.serverCpuMsPerCallSecond)).toBe(true);
    }
    expect(existsSync(join(out, 'latest.json'))).toBe(true);
  });

  it('npm run bench -- --against DIR compares two builds under one load generator and prints the ratios', { timeout: 180_000 }, async () => {
    const out = join(tmp, 'bench-ab');
    // This checkout against itself: the mode, not the numbers, is under test.
    const args = [join(TOOLS, 'bench.js'), '--calls', '2', '--duration', '2', '--against', '.', '--rounds', '2', '--out', out];
    const bench = await run(process.execPath, args, 170_000);
    expect(bench.code, bench.out).toBe(0);
    expect(bench.out).toMatch(/2 calls, round 1: CPU A [\d.]+ \/ B [\d.]+ ms\/call-s/);
    expect(bench.out).toMatch(/2 calls, round 2: /);
    expect(bench.out).toMatch(/^\| 2 \| server CPU ms per call-s \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$/m);
    expect(bench.out).toMatch(/^\| 2 \| server loop delay p99 ms \| [\d.]+ \| [\d.]+ \|/m);
    const file = readdirSync(out).find((f) => /^bench-ab-.*\.json$/.test(f));
    expect(file).toBeDefined();
    const json = JSON.parse(readFileSync(join(out, file!), 'utf8'));
    expect(json.runs.map((r: { round: number }) => r.round)).toEqual([1, 2]);
    for (const { a, b } of json.runs) for (const r of [a, b]) expect(r.connected).toBe(2);
    // A checkout that was never built is named, with what to do.
    const unbuilt = await run(process.execPath, [join(TOOLS, 'bench.js'), '--against', tmp], 30_000);
    expect(unbuilt.code).not.toBe(0);
    expect(unbuilt.out).toMatch(/dist\/main\.js not found: build that checkout first/);
  });
});
