import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { loadAppConfig } from '../../src/config/app-config';
import type { TestApp } from './test-app';

const ROOT = join(__dirname, '..', '..');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface ServerProcess {
  child: ChildProcess;
  /** TestApp-shaped URLs and config (read from the child's env), so the fixture's placeCall and
   * postTwiml work against the child too, signatures included. (Not its dashboard token: a generated
   * one exists only in the child, which prints it on stderr.) */
  urls: Pick<TestApp, 'httpUrl' | 'wsUrl' | 'config'>;
  /** Everything it printed, stdout and stderr interleaved. */
  output: () => string;
  /** The JSON log (stdout) and the terminal lines (stderr), apart. */
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** What the child runs with: a clean environment (no developer's variables), plus `env`. Unsigned tests say so, as a user must. */
function childEnv(env: Record<string, string>, port: number): Record<string, string> {
  // Records off unless asked for: parallel test files must not share the default ./data directory.
  return {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'test',
    PORT: String(port),
    LOG_LEVEL: 'info',
    ALLOW_UNSIGNED_TWILIO_REQUESTS: 'true',
    RECORDS: 'off',
    ...env,
  };
}

function spawnServer(env: Record<string, string>) {
  const child = spawn(process.execPath, ['dist/main.js'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => ((output += d), (stdout += d)));
  child.stderr.on('data', (d) => ((output += d), (stderr += d)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, output: () => output, stdout: () => stdout, stderr: () => stderr };
}

/** Runs `node dist/main.js` with `env` and waits for it to exit (start-up refusals): its exit code and what it printed. */
export async function runServerToExit(env: Record<string, string>, timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const server = spawnServer(childEnv(env, await freePort()));
  const timer = setTimeout(() => server.child.kill('SIGKILL'), timeoutMs);
  const { code } = await server.exited;
  clearTimeout(timer);
  return { code, stdout: server.stdout(), stderr: server.stderr() };
}

/** Runs `node dist/main.js` (built by test/global-setup.ts) like production does, and waits until it answers HTTP. */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const fullEnv = childEnv(env, port);
  const config = loadAppConfig(fullEnv);
  const { child, exited, output, stdout, stderr } = spawnServer(fullEnv);
  const httpUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output()}`);
    try {
      await fetch(`${httpUrl}/`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`server did not start:\n${output()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { child, urls: { httpUrl, wsUrl: `ws://127.0.0.1:${port}`, config }, output, stdout, stderr, exited };
}

/** Polls `probe` until it returns true (for state observed over HTTP from another process). */
export async function eventually(probe: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
