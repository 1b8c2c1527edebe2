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
   * postTwiml work against the child too, signatures included. */
  urls: Pick<TestApp, 'httpUrl' | 'wsUrl' | 'config'>;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `node dist/main.js` (built by test/global-setup.ts) like production does, and waits until it answers HTTP. */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const childEnv = { PATH: process.env.PATH ?? '', NODE_ENV: 'test', PORT: String(port), LOG_LEVEL: 'info', ...env };
  const config = loadAppConfig(childEnv);
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const httpUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
    try {
      await fetch(`${httpUrl}/`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`server did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { child, urls: { httpUrl, wsUrl: `ws://127.0.0.1:${port}`, config }, output: () => output, exited };
}

/** Polls `probe` until it returns true (for state observed over HTTP from another process). */
export async function eventually(probe: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
