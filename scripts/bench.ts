// `npm run bench`: numbers, not adjectives. For each N, starts the server in its own process
// (node dist/main.js) and a load generator in another (bench-load.ts: the Realtime emulator — or,
// with `-- --engine live`, the GPT-Live emulator and VOICE_ENGINE=live — plus
// N simulated Twilio calls, 20 ms frames both ways in real time), measures one window of steady
// two-way audio, and reports server CPU and memory (from /proc: the server and its child, the
// embedded database), relay latency added in each direction, frames lost, start-to-first-audio with
// a 300 ms model handshake (pre-dial), barge-in clear latency and truncation error. Prints a markdown table and writes JSON to
// bench-results/. Targets are reported, never asserted: the numbers depend on the machine.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../emulator/speech';
import type { BenchEngine, LoadRequest, LoadResult, Stats } from './bench-load';
import { freePort, hasProc, startServer } from './server-process';

const USAGE = `usage: npm run bench [-- --calls 1,10,50,100,200] [-- --duration 20] [-- --smoke] [-- --profile]

  --calls LIST      concurrent calls to measure, one server per value (default 1,10,50,100,200)
  --duration S      seconds of steady two-way audio measured per value (default 20)
  --stream-delay MS webhook → stream start, as Twilio takes (default 400; the model handshake is 300)
  --smoke           a few seconds with tiny N (CI): --calls 1,4 --duration 3
  --profile         run the server and the load generator with --cpu-prof (bench-results/profiles/)
  --node-args="..." extra node flags for the server, e.g. --node-args="--max-semi-space-size=4" (to compare settings)
  --out DIR         where the JSON goes (default bench-results)
  --engine E        realtime (default) or live: the GPT-Live emulator and VOICE_ENGINE=live; barge-ins are the
                    caller really talking (the server's own speech check clears the phone), and there is no truncation
  --against DIR     A/B: also run the server built in another checkout (DIR/dist/main.js, e.g. a git worktree of
                    the previous commit after npm ci && npm run build) under this same load generator, alternating
                    with this build --rounds times per N, and print both side by side with the ratios
  --rounds K        A/B rounds per N (default 3)`;

interface Options {
  calls: number[];
  durationMs: number;
  streamDelayMs: number;
  smoke: boolean;
  profile: boolean;
  nodeArgs: string[];
  out: string;
  engine: BenchEngine;
  /** A/B: the other checkout's root, or null. */
  against: string | null;
  rounds: number;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      calls: { type: 'string' },
      duration: { type: 'string' },
      'stream-delay': { type: 'string', default: '400' },
      smoke: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'node-args': { type: 'string', default: '' },
      out: { type: 'string', default: 'bench-results' },
      engine: { type: 'string', default: 'realtime' },
      against: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const smoke = values.smoke;
  const calls = (values.calls ?? (smoke ? '1,4' : '1,10,50,100,200')).split(',').map((n) => Number(n.trim()));
  if (calls.some((n) => !Number.isInteger(n) || n < 1 || n > 5000)) throw new Error(`--calls: a comma-separated list of positive integers\n\n${USAGE}`);
  const duration = Number(values.duration ?? (smoke ? 3 : 20));
  if (!(duration >= 1)) throw new Error('--duration: at least 1 second');
  const engine = values.engine;
  if (engine !== 'realtime' && engine !== 'live') throw new Error(`--engine: realtime or live\n\n${USAGE}`);
  const against = values.against === undefined ? null : resolvePath(values.against);
  if (against !== null && !existsSync(join(against, 'dist', 'main.js'))) {
    throw new Error(`--against: ${join(against, 'dist', 'main.js')} not found: build that checkout first (npm ci && npm run build there)`);
  }
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds: a positive integer');
  return {
    calls,
    durationMs: duration * 1000,
    streamDelayMs: Number(values['stream-delay']),
    smoke,
    profile: values.profile,
    nodeArgs: values['node-args'].split(' ').filter(Boolean),
    out: values.out,
    engine,
    against,
    rounds,
  };
}

function once<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: { type: string; message?: string }): void => {
      if (msg.type === type) {
        cleanup();
        resolve(msg as T);
      } else if (msg.type === 'error') {
        cleanup();
        reject(new Error(`load generator: ${msg.message}`));
      }
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`the load generator exited (code ${code})`));
    };
    const cleanup = (): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

async function measure(calls: number, opts: Options, serverRoot = repoRoot(), label = 'server'): Promise<LoadResult> {
  const root = repoRoot();
  const profileDir = resolvePath(root, opts.out, 'profiles');
  if (opts.profile) mkdirSync(profileDir, { recursive: true });
  // With --profile the load generator is profiled too: is it keeping up, and what costs it most?
  const loadArgs = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=loadgen-${calls}-calls.cpuprofile`] : [];
  const load = fork(join(__dirname, 'bench-load.js'), ['--engine', opts.engine], { execArgv: loadArgs, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const { url } = await once<{ url: string }>(load, 'ready');
    const port = await freePort();
    // Every webhook and stream upgrade is signed and checked, as in production. NODE_ENV stays development
    // only because production refuses ALLOW_UNRESERVED_STREAMS (below); nothing on the measured path reads it,
    // and the log is JSON either way (stdout is not a terminal).
    const twilioAuthToken = randomBytes(16).toString('hex');
    const server = await startServer(
      {
        PORT: String(port),
        NODE_ENV: 'development',
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        OPENAI_API_KEY: 'sk-bench-offline-0000000000',
        ...(opts.engine === 'live' ? { VOICE_ENGINE: 'live', OPENAI_LIVE_URL: url } : { VOICE_ENGINE: 'realtime', OPENAI_REALTIME_URL: url }),
        MAX_CONCURRENT_CALLS: String(calls + 20),
        // The AI speaks first, so `start` → first audio measures pre-dial.
        AGENT_GREETING: 'Greet the caller.',
        TWILIO_AUTH_TOKEN: twilioAuthToken,
        // Only for the one comparison call whose stream arrives without a webhook (and so without a reservation).
        ALLOW_UNRESERVED_STREAMS: 'true',
        DASHBOARD_TOKEN: '',
      },
      {
        root: serverRoot,
        inspect: true,
        nodeArgs: [
          ...opts.nodeArgs,
          ...(opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${label}-${calls}-calls.cpuprofile`] : []),
        ],
      },
    );
    try {
      const request: LoadRequest = {
        type: 'run',
        serverUrl: server.url,
        serverPid: server.pid,
        calls,
        durationMs: opts.durationMs,
        streamDelayMs: opts.streamDelayMs,
        warmupCalls: opts.smoke ? 1 : 2,
        warmupMs: opts.smoke ? 1000 : 2000,
        inspectorUrl: server.inspectorUrl ?? undefined,
        twilioAuthToken,
      };
      load.send(request);
      const { result } = await once<{ result: LoadResult }>(load, 'result');
      return result;
    } finally {
      await server.stop();
    }
  } finally {
    load.disconnect();
  }
}

// ---- report -------------------------------------------------------------------------------

const f = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const triple = (s: Stats, digits = 1): string => `${f(s.p50, digits)} / ${f(s.p99, digits)} / ${f(s.max, digits)}`;

function saturated(r: LoadResult): boolean {
  return r.loadGenCpuPercent > 85 || r.loadGenLoopDelayMs.p99 > 20;
}

function table(results: LoadResult[], engine: BenchEngine): string {
  const header = [
    'calls',
    'server CPU ms per call-s',
    'server CPU % of a core (kernel share)',
    'relay in p50 / p99 / max ms',
    'relay out p50 / p99 / max ms',
    'frames lost in / out',
    'RSS per call KB',
    'live memory per call KB (after GC)',
    'start → first audio p50 / max ms',
    engine === 'live' ? 'clear after the caller talks p50 / max ms' : 'clear after speech_started p50 / max ms',
    'truncation error p50 / max ms',
    'load gen CPU % / loop p99 ms',
  ];
  const rows = results.map((r) => [
    r.connected === r.calls ? String(r.calls) : `${r.calls} (${r.connected} ok)`,
    f(r.serverCpuMsPerCallSecond, 2),
    `${f(r.serverCpuPercent, 0)} (${f((100 * r.serverSystemCpuMs) / Math.max(1, r.serverCpuMs), 0)} % kernel)`,
    triple(r.relayInMs),
    triple(r.relayOutMs),
    `${r.framesIn.lost} / ${r.framesOut.lost}`,
    // Below ~10 calls the per-call share is smaller than the GC's own swings (it can even come out negative).
    r.calls >= 10 ? f(r.rssPerCallKb, 0) : `(${f(r.rssPerCallKb, 0)})`,
    f(r.liveMemoryPerCallKb, 0),
    `${f(r.startToFirstAudioMs.p50)} / ${f(r.startToFirstAudioMs.max)}`,
    `${f(r.clearLatencyMs.p50, 2)} / ${f(r.clearLatencyMs.max, 2)}${r.bargeInsWithoutClear ? ` (${r.bargeInsWithoutClear} missed)` : ''}`,
    `${f(r.truncationErrorMs.p50, 0)} / ${f(r.truncationErrorMs.max, 0)}`,
    `${f(r.loadGenCpuPercent, 0)} / ${f(r.loadGenLoopDelayMs.p99, 1)}${saturated(r) ? ' ⚠' : ''}`,
  ]);
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** Each target against the worst value measured (of the runs it applies to). */
function targets(results: LoadResult[], engine: BenchEngine): string[] {
  const check = (
    target: string,
    limit: number,
    pick: (r: LoadResult) => number,
    applies: (r: LoadResult) => boolean = () => true,
    unit = 'ms',
    digits = 1,
  ): string => {
    const values = results.filter(applies).map(pick).filter(Number.isFinite);
    if (values.length === 0) return `- n/a      ${target}: not measured here`;
    const worst = Math.max(...values);
    return `- ${worst <= limit ? 'met    ' : 'NOT met'}  ${target}: worst ${f(worst, digits)} ${unit}`;
  };
  const lost = results.reduce((n, r) => n + r.framesIn.lost + r.framesOut.lost, 0);
  const missed = results.reduce((n, r) => n + r.bargeInsWithoutClear, 0);
  return [
    // A capacity figure (≥ 500 calls per core): judged at the largest N. With few calls every frame
    // wakes an idle process with cold caches and not yet optimised code, which costs far more per frame.
    check(
      `≤ 2 ms server CPU per call-second (at the largest N, ${Math.max(...results.map((r) => r.calls))} calls)`,
      2,
      (r) => r.serverCpuMsPerCallSecond,
      (r) => r.calls === Math.max(...results.map((x) => x.calls)),
      'ms',
      2,
    ),
    check(
      'p99 added latency ≤ 5 ms each way at 100 calls',
      5,
      (r) => Math.max(r.relayInMs.p99, r.relayOutMs.p99),
      (r) => r.calls === 100,
    ),
    check(
      '≤ 100 KB RSS per active call (runs with ≥ 50 calls; below, GC noise dominates)',
      100,
      (r) => r.rssPerCallKb,
      (r) => r.calls >= 50,
      'KB',
      0,
    ),
    check(
      '  … and live memory per call after a forced GC (runs with ≥ 50 calls)',
      100,
      (r) => r.liveMemoryPerCallKb,
      (r) => r.calls >= 50,
      'KB',
      0,
    ),
    `- ${lost === 0 ? 'met    ' : 'NOT met'}  zero frames lost: ${lost} lost`,
    engine === 'live'
      ? check(
          'clear ≤ 300 ms after the caller starts talking (GPT-Live: the server’s own speech check)',
          300,
          (r) => r.clearLatencyMs.max,
          undefined,
          'ms',
          1,
        ) + (missed ? ` (${missed} barge-ins got no clear)` : '')
      : check('clear ≤ 2 ms after speech_started', 2, (r) => r.clearLatencyMs.max, undefined, 'ms', 2) + (missed ? ` (${missed} barge-ins got no clear)` : ''),
    engine === 'live'
      ? '- n/a      truncation error: GPT-Live has no truncation'
      : check('truncation error ≤ 20 ms', 20, (r) => r.truncationErrorMs.max, undefined, 'ms', 0),
  ];
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  if (!hasProc()) throw new Error('the benchmark reads server CPU and memory from /proc: Linux only');
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    loadAverageAtStart: loadavg().map((l) => Number(l.toFixed(2))),
  };
  console.log(
    `Benchmark (${opts.engine === 'live' ? 'GPT-Live' : 'Realtime'} engine): ${opts.calls.join(', ')} concurrent calls, ${opts.durationMs / 1000} s of two-way real-time audio each`,
  );
  console.log(
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, Node ${machine.node}, load average ${machine.loadAverageAtStart.join(' ')}`,
  );
  if (opts.against) return compare(opts, opts.against, machine);
  const results: LoadResult[] = [];
  for (const calls of opts.calls) {
    process.stdout.write(`  ${calls} call${calls > 1 ? 's' : ''}… `);
    const result = await measure(calls, opts);
    results.push(result);
    console.log(
      `CPU ${f(result.serverCpuMsPerCallSecond, 2)} ms/call-s, relay p99 in ${f(result.relayInMs.p99)} / out ${f(result.relayOutMs.p99)} ms, ` +
        `lost ${result.framesIn.lost}/${result.framesOut.lost}, RSS ${f(result.rssPerCallKb, 0)} KB/call` +
        (result.failed.length ? `, ${result.failed.length} failed: ${result.failed[0]}` : '') +
        (saturated(result) ? ' — load generator saturated, numbers at this N are not the server alone' : ''),
    );
  }

  const report = [
    '',
    table(results, opts.engine),
    '',
    "relay = time from a tagged frame leaving one peer to its arrival at the other, through the server (plus two loopback hops and the load generator's own event-loop delay).",
    'start → first audio: stream `start` sent → first greeting audio heard, with the model handshake (300 ms) done at POST /twiml (pre-dial); ' +
      `without the webhook (the server dials on \`start\`) it took ${results.map((r) => f(r.startToFirstAudioWithoutPredialMs, 0)).join(', ')} ms.`,
    'truncation error: |audio_end_ms sent to the model − audio the simulated phone had played when the clear arrived|. ⚠ = load generator above 85 % CPU or 20 ms loop delay.',
    '',
    'Targets (reported, not asserted):',
    ...targets(results, opts.engine),
  ].join('\n');
  console.log(report);

  const dir = resolvePath(repoRoot(), opts.out);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const args = process.argv.slice(2).join(' ');
  const json = { command: args ? `npm run bench -- ${args}` : 'npm run bench', machine, options: opts, results };
  writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
  writeFileSync(join(dir, 'latest.json'), JSON.stringify(json, null, 2) + '\n');
  console.log(`\nJSON: ${file}`);
}

// ---- A/B ----------------------------------------------------------------------------------

const median = (values: number[]): number => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** What an A/B run compares: lower is better for each. */
const AB_FIGURES: Array<[string, (r: LoadResult) => number, number]> = [
  ['server CPU ms per call-s', (r) => r.serverCpuMsPerCallSecond, 2],
  ['relay in p50 ms', (r) => r.relayInMs.p50, 2],
  ['relay in p99 ms', (r) => r.relayInMs.p99, 1],
  ['relay out p50 ms', (r) => r.relayOutMs.p50, 2],
  ['relay out p99 ms', (r) => r.relayOutMs.p99, 1],
  ['frames relayed in > 10 ms, %', (r) => r.relaySlowPercent.in, 2],
  ['frames relayed out > 10 ms, %', (r) => r.relaySlowPercent.out, 2],
  ['RSS per call KB', (r) => r.rssPerCallKb, 0],
  ['live memory per call KB', (r) => r.liveMemoryPerCallKb, 0],
  ['frames lost (in + out)', (r) => r.framesIn.lost + r.framesOut.lost, 0],
  ['clear after the barge-in p50 ms', (r) => r.clearLatencyMs.p50, 2],
  ['truncation error max ms', (r) => r.truncationErrorMs.max, 0],
  ['server loop delay p99 ms', (r) => r.serverLoop?.delayP99Ms ?? NaN, 1],
  ['server loop delay max ms', (r) => r.serverLoop?.delayMaxMs ?? NaN, 1],
  ['server GC ms per s', (r) => r.serverLoop?.gcMsPerSecond ?? NaN, 1],
  ['server GC longest pause ms', (r) => r.serverLoop?.gcMaxPauseMs ?? NaN, 1],
  ['server full GCs', (r) => r.serverLoop?.majorGcs ?? NaN, 0],
  ['load generator CPU %', (r) => r.loadGenCpuPercent, 0],
  ['load generator loop delay p99 ms', (r) => r.loadGenLoopDelayMs.p99, 1],
];

/**
 * This build against another, under one load generator, alternating (this first, then the other first)
 * so that drift in the machine's load falls on both: the machines here are shared and move by 2× between
 * days, so only a ratio measured in one run says whether a change made things better or worse.
 */
async function compare(opts: Options, against: string, machine: object): Promise<void> {
  console.log(`A/B: this build (A) against ${against} (B), ${opts.rounds} alternating rounds per N`);
  const runs: Array<{ calls: number; round: number; a: LoadResult; b: LoadResult }> = [];
  for (const calls of opts.calls) {
    for (let round = 1; round <= opts.rounds; round++) {
      const order: Array<'a' | 'b'> = round % 2 ? ['a', 'b'] : ['b', 'a'];
      const pair: Partial<Record<'a' | 'b', LoadResult>> = {};
      for (const which of order) {
        pair[which] = await measure(calls, opts, which === 'a' ? repoRoot() : against, which === 'a' ? 'server-A' : 'server-B');
      }
      const { a, b } = pair as Record<'a' | 'b', LoadResult>;
      runs.push({ calls, round, a, b });
      console.log(
        `  ${calls} calls, round ${round}: CPU A ${f(a.serverCpuMsPerCallSecond, 2)} / B ${f(b.serverCpuMsPerCallSecond, 2)} ms/call-s, ` +
          `relay p99 in A ${f(a.relayInMs.p99)} / B ${f(b.relayInMs.p99)}, out A ${f(a.relayOutMs.p99)} / B ${f(b.relayOutMs.p99)} ms, ` +
          `lost A ${a.framesIn.lost + a.framesOut.lost} / B ${b.framesIn.lost + b.framesOut.lost}` +
          (saturated(a) || saturated(b) ? ' — load generator saturated' : ''),
      );
    }
  }
  const lines = ['', '| calls | figure (median of the rounds) | A (this build) | B (against) | A / B |', '| --- | --- | --- | --- | --- |'];
  for (const calls of opts.calls) {
    const mine = runs.filter((r) => r.calls === calls);
    for (const [name, pick, digits] of AB_FIGURES) {
      const a = median(mine.map((r) => pick(r.a)));
      const b = median(mine.map((r) => pick(r.b)));
      lines.push(`| ${calls} | ${name} | ${f(a, digits)} | ${f(b, digits)} | ${b > 0 ? f(a / b, 2) : '–'} |`);
    }
  }
  console.log(lines.join('\n'));
  const dir = resolvePath(repoRoot(), opts.out);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `bench-ab-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ command: `npm run bench -- ${process.argv.slice(2).join(' ')}`, machine, options: opts, runs }, null, 2) + '\n');
  console.log(`\nJSON: ${file}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
