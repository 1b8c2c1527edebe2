// The README's "Answer a real phone number" guide, run as written: its minimal `.env` block, word for
// word, in the folder the real server starts in (`node dist/main.js`, as `npm start` runs it), plus only
// what points it at this machine: the Realtime emulator (OPENAI_REALTIME_URL) and a free port. Then the
// guide's own `npm run simulate …` command, with the variables its `set -a; . ./.env` line loads. A call
// must go through, signed, with the live transcript; the webhook URL the guide says to paste must be the
// one the server announces. Change the README's block or commands and this test follows them, or fails.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { DEMO_SCRIPT } from '../emulator/demo-conversation';
import { ScriptedVoiceModel } from '../emulator/voice-model';
import { loadAppConfig } from '../src/config/app-config';
import { expect, test } from './support/fixture';
import { startServerProcess, type ServerProcess } from './support/server-process';

const ROOT = join(__dirname, '..');

/** The guide: from its heading to the next section. */
function guide(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Answer a real phone number');
  expect(start, 'the README has an "Answer a real phone number" section').toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The fenced blocks of a language, their lines without the list indentation. */
function blocks(text: string, language: string): string[][] {
  return [...text.matchAll(new RegExp('^( *)```' + language + '\\n([\\s\\S]*?)^\\1```', 'gm'))].map((m) =>
    m[2].split('\n').map((line) => line.slice(m[1].length)),
  );
}

/** KEY=VALUE lines, as dotenv reads them (comments and blank lines skipped). */
function parseEnv(lines: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of lines) {
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    expect(match, `a .env line: ${line}`).not.toBeNull();
    env[match![1]] = match![2];
  }
  return env;
}

/** Shell words of one command line, with "$VAR" and $VAR taken from `vars` (each must be there). */
function words(line: string, vars: Record<string, string>): string[] {
  return [...line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => {
    const word = m[1] ?? m[2] ?? m[3];
    if (m[2] !== undefined) return word;
    return word.replace(/\$\{?([A-Z_][A-Z0-9_]*)\}?/g, (_all, name: string) => {
      expect(vars, `$${name} comes from the .env the guide loads`).toHaveProperty([name]);
      return vars[name];
    });
  });
}

let server: ServerProcess | undefined;
const dirs: string[] = [];
afterEach(() => {
  server?.child.kill('SIGKILL');
  server = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

test("the README's Twilio guide works as written: its .env, npm start, and its npm run simulate command", { timeout: 120_000 }, async ({ startRealtime }) => {
  const text = guide();
  const [dotenv, ...otherEnvBlocks] = blocks(text, 'dotenv');
  expect(dotenv, 'the guide has a ```dotenv block').toBeDefined();
  expect(otherEnvBlocks).toEqual([]);
  const env = parseEnv(dotenv);
  for (const name of ['OPENAI_API_KEY', 'PUBLIC_URL', 'TWILIO_AUTH_TOKEN', 'DASHBOARD_TOKEN']) expect(env).toHaveProperty([name]);

  // The commands: the tunnel, loading .env into the shell, the rehearsal call.
  const shell = blocks(text, 'bash').flat();
  const port = loadAppConfig({}).PORT;
  expect(shell).toContain(`ngrok http ${port}`);
  expect(shell).toContain('set -a; . ./.env; set +a');
  const simulateLine = shell.find((line) => line.startsWith('npm run simulate -- '));
  expect(simulateLine, 'the guide has an npm run simulate command').toBeDefined();
  const args = words(simulateLine!.slice('npm run simulate -- '.length), env);
  const url = args[args.indexOf('--url') + 1];
  expect(url).toBe(`http://localhost:${port}`);

  // The webhook URL to paste is PUBLIC_URL + /twiml, as the guide says.
  const webhook = `${env.PUBLIC_URL}/twiml`;
  expect(text).toContain(`URL \`${webhook}\``);

  // The server, started in a folder holding the guide's .env (as the repository root would).
  const home = mkdtempSync(join(tmpdir(), 'readme-guide-'));
  dirs.push(home);
  writeFileSync(join(home, '.env'), dotenv.join('\n'));
  const voice = new ScriptedVoiceModel({ script: DEMO_SCRIPT });
  const emulator = await startRealtime({ onConnection: (c) => voice.attach(c) });
  server = await startServerProcess({ OPENAI_REALTIME_URL: emulator.url }, { cwd: home, bare: true });
  const base = server.urls.httpUrl;
  await expect.poll(() => server!.stdout()).toContain(`Twilio voice webhook: POST ${webhook}`);
  expect(await (await fetch(`${base}/`)).json()).toMatchObject({ status: 'ok' });
  expect((await fetch(`${base}/dashboard`)).status).toBe(200);

  // The rehearsal, as written but for the port (npm run simulate builds the tools, then runs this file).
  const simulate = spawn(process.execPath, [join(ROOT, 'dist-tools', 'scripts', 'simulate.js'), ...args.map((a) => (a === url ? base : a))], {
    cwd: home, // where the user runs it: the answer is saved next to .env
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  simulate.stdout.on('data', (d: Buffer) => (out += d.toString()));
  simulate.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => simulate.once('exit', resolve));
  expect(code, `${out}\n--- server:\n${server.output()}`).toBe(0);
  expect(out).toMatch(/caller +"Hi! What can you do for me\?"/); // the line the guide promises, read live with the dashboard token
  expect(out).toMatch(/assistant +"/);
  expect(out).toMatch(/Heard [\d.]+ s of assistant audio/);
  expect(existsSync(join(home, 'answer.wav'))).toBe(true);
  expect(text).toContain('"Hi! What can you do for me?"');
});

test("the README's two commands are the ones CI and the tools test run", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const [run] = blocks(readme, 'bash');
  expect(run.map((line) => line.replace(/\s+#.*$/, ''))).toEqual(['npm ci && npm run demo', 'npm ci && npm run lint && npm test', '']);
  // .ci/run runs the test command (npm ci quietened), then summarises.
  expect(readFileSync(join(ROOT, '.ci', 'run'), 'utf8')).toMatch(/^npm ci --no-audit --no-fund && npm run lint && npm test$/m);
});

test('the README stays a newcomer’s page: short, a contents list that resolves, the troubleshooting rows, working links, a LICENSE', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  expect(readme.split('\n').length).toBeLessThanOrEqual(200);
  const headings = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
  const anchors = headings.map(
    (h) =>
      `#${h
        .toLowerCase()
        .replace(/[^a-z0-9 -]/g, '')
        .replace(/ /g, '-')}`,
  );
  const contents = [...readme.matchAll(/^- \[[^\]]+\]\((#[^)]+)\)/gm)].map((m) => m[1]);
  expect(contents.length).toBeGreaterThanOrEqual(4);
  for (const anchor of contents) expect(anchors, `contents entry ${anchor}`).toContain(anchor);
  // The symptoms a newcomer meets first, each with a cause and a fix.
  const troubleshooting = readme.slice(readme.indexOf('\n## Troubleshooting'), readme.indexOf('\n## ', readme.indexOf('\n## Troubleshooting') + 1));
  for (const symptom of ['403', '31922', 'apology', 'silence', 'barge-in', '401']) expect(troubleshooting, symptom).toContain(symptom);
  for (const row of troubleshooting.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| symptom'))) {
    expect(row.split('|').filter((cell) => cell.trim() !== '').length, row).toBe(3);
  }
  // Every relative link points at a file in the repository.
  for (const [, target] of readme.matchAll(/\]\(((?!https?:|#)[^)#]+)(#[^)]*)?\)/g)) expect(existsSync(join(ROOT, target)), target).toBe(true);
  expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/MIT License/);
  expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).license).toBe('MIT');
});
