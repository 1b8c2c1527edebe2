// Runs the real server (`node dist/main.js`, built by `npm run build`) in a child process on a
// free port, as a user would run it, and reads its CPU time and memory from /proc (its own and its
// children's: the embedded database).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { repoRoot } from '../emulator/speech';

/** A port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  /** The last lines the server printed (stdout and stderr). */
  output(): string;
  /** The inspector's WebSocket URL, when started with `inspect: true`. */
  inspectorUrl: string | null;
  /** SIGTERM (a clean shutdown, which ends live calls), SIGKILL after `graceMs`. Resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface StartServerOptions {
  /** Extra `node` flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** Print the server's output as it comes (prefixed). */
  echo?: boolean;
  /** Open the V8 inspector on a free loopback port (the benchmark reads the live heap through it). */
  inspect?: boolean;
  readyTimeoutMs?: number;
  /** The checkout whose dist/main.js runs (default: this one). The benchmark's A/B mode runs another build here. */
  root?: string;
}

const KEEP_LINES = 200;

/** Starts dist/main.js with `env` (on top of this process's environment) and waits until it answers HTTP. */
export async function startServer(env: Record<string, string>, opts: StartServerOptions = {}): Promise<ServerProcess> {
  // The server runs on the Node that runs this tool: `npm run …` picks the pinned Node 24; an older
  // system Node would be unsupported, and its numbers (e.g. AsyncLocalStorage on async_hooks) misleading.
  if (Number(process.versions.node.split('.')[0]) < 22) {
    throw new Error(`Node ${process.version} is too old for the server (≥ 22): run this through npm (npm run demo / bench), which uses the pinned Node`);
  }
  const root = opts.root ?? repoRoot();
  const main = join(root, 'dist', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} not found: run npm run build first`);
  const port = Number(env.PORT) || (await freePort());
  const nodeArgs = [...(opts.nodeArgs ?? []), ...(opts.inspect ? ['--inspect=127.0.0.1:0'] : [])];
  const child = spawn(process.execPath, [...nodeArgs, main], {
    cwd: root,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let inspectorUrl: string | null = null;
  const collect = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      inspectorUrl ??= /Debugger listening on (ws:\/\/\S+)/.exec(line)?.[1] ?? null;
      lines.push(line);
      if (lines.length > KEEP_LINES) lines.shift();
      if (opts.echo) console.log(`  [server] ${line}`);
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve((exitCode = code))));
  const url = `http://127.0.0.1:${port}`;
  const server: ServerProcess = {
    child,
    pid: child.pid!,
    port,
    url,
    output: () => lines.join('\n'),
    get inspectorUrl() {
      return inspectorUrl;
    },
    stop: async (graceMs = 5000) => {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };

  const deadline = performance.now() + (opts.readyTimeoutMs ?? 30_000);
  while (performance.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`the server exited (code ${exitCode}) before answering:\n${server.output()}`);
    try {
      const res = await fetch(`${url}/`);
      if (res.ok) return server;
    } catch {
      // not listening yet
    }
    await delay(100);
  }
  await server.stop();
  throw new Error(`the server did not answer on ${url} within ${opts.readyTimeoutMs ?? 30_000} ms:\n${server.output()}`);
}

// ---- /proc ---------------------------------------------------------------------------------

/** Linux clock ticks per second (USER_HZ): 100 on every mainstream kernel. */
const CLOCK_TICKS = 100;

/**
 * User and system CPU time (ms, all threads) a process has used, from /proc/<pid>/stat (10 ms
 * resolution); for a pid, with its live descendants (the server's embedded database runs in a child
 * process, and its work is the server's work).
 */
export function cpuTimes(pid: number | 'self'): { user: number; system: number } {
  let user = 0;
  let system = 0;
  for (const stat of readEach(pid, 'stat')) {
    // The command name (field 2) may contain spaces: fields are counted after its closing paren.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    user += (Number(fields[11]) * 1000) / CLOCK_TICKS;
    system += (Number(fields[12]) * 1000) / CLOCK_TICKS;
  }
  return { user, system };
}

/** User + system CPU time (ms) a process has used (with its live descendants, for a pid). */
export function cpuTimeMs(pid: number | 'self'): number {
  const { user, system } = cpuTimes(pid);
  return user + system;
}

/** Resident set size in KB, from /proc/<pid>/status (with its live descendants, for a pid). */
export function rssKb(pid: number | 'self'): number {
  let total = 0;
  for (const status of readEach(pid, 'status')) {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    total += match ? Number(match[1]) : NaN;
  }
  return total;
}

/** /proc/<p>/<file> of `pid` and its live descendants ('self' alone), skipping any that ended meanwhile. */
function readEach(pid: number | 'self', file: string): string[] {
  const texts: string[] = [];
  for (const p of pid === 'self' ? ['self'] : processTree(pid)) {
    const text = readProc(`/proc/${p}/${file}`);
    if (text !== null) texts.push(text);
  }
  return texts;
}

/** `pid` and its live descendants, from /proc/<pid>/task/<tid>/children. */
function processTree(pid: number): number[] {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${tree[i]}/task`);
    } catch {
      // gone meanwhile
    }
    for (const tid of tasks) {
      for (const child of (readProc(`/proc/${tree[i]}/task/${tid}/children`) ?? '').split(' ')) if (child) tree.push(Number(child));
    }
  }
  return tree;
}

function readProc(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

export function hasProc(): boolean {
  return existsSync('/proc/self/stat');
}
