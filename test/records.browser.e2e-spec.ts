// The call history page (and the live page's running cost) in real headless Chromium, against the
// real app with its embedded database and the emulators.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterEach, vi } from 'vitest';
import type { AgentTool } from '../src/tools/agent-tool';
import { expect, test } from './support/fixture';
import { chunks, testAudio } from './support/test-app';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const TOKEN = 'history-token-0123456789';
const ARTIFACTS = join(__dirname, '..', 'test-results');

const forecast: AgentTool = {
  name: 'forecast',
  description: 'The weather in a city.',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  run: async () => ({ sky: 'sunny' }),
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

test('history: today’s totals, a searchable list, and a call page with transcript (interruption marked), tool call, timeline and cost; the live page shows the cost so far', async ({
  startApp,
  placeCall,
}) => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  const dataDir = mkdtempSync(join(tmpdir(), 'history-browser-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const app = await startApp({ RECORDS: 'on', DATA_DIR: dataDir, OPENAI_MODEL: 'gpt-realtime-2.1', DASHBOARD_TOKEN: TOKEN }, [forecast]);

  // A past call: the caller asks, a tool answers, the assistant is cut off, the caller hangs up.
  const past = await placeCall(app, { from: '+15557770001' });
  const user = past.model.speechStarted();
  past.model.speechStopped(user);
  past.model.userTranscript(user, 'What is the weather in Paris?');
  past.model.functionCallResponse([{ name: 'forecast', arguments: '{"city":"Paris"}' }]);
  await past.model.waitFor('conversation.item.create', (e) => e.item.type === 'function_call_output');
  const answer = past.model.audioResponse({ chunks: chunks(testAudio(24000, 1), 1600), paceMs: 0, transcript: 'It is sunny in Paris today.' });
  await vi.waitFor(() => expect(past.call.playedMs()).toBeGreaterThanOrEqual(400), { timeout: 3000, interval: 5 });
  past.model.speechStarted();
  await past.model.waitFor('conversation.item.truncate');
  await answer;
  past.call.sendStop();
  await vi.waitFor(
    async () =>
      expect(((await (await fetch(`${app.httpUrl}/calls`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as any).calls[0].endedAt).not.toBeNull(),
    {
      timeout: 8000,
      interval: 50,
    },
  );

  const profile = mkdtempSync(join(tmpdir(), 'history-chromium-'));
  const browser: BrowserContext = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  cleanups.push(async () => {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(8000);
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(`console: ${msg.text()}`);
  });

  // A live call that has had one priced response: the live page shows its cost so far.
  await page.goto(`${app.httpUrl}/dashboard`);
  const tokenField = page.getByLabel('Dashboard token');
  await tokenField.fill(TOKEN);
  await tokenField.press('Enter');
  await page.getByText('Dashboard: live').waitFor();
  const live = await placeCall(app, { from: '+15557770002' });
  await live.model.audioResponse({ chunks: chunks(testAudio(1600, 2), 800), transcript: 'Hello!' });
  await page.locator('#call-detail', { hasText: /\$\d+\.\d+ so far/ }).waitFor();

  // Records are written in batches, a moment after the events: the live call is listed once it is.
  await vi.waitFor(
    async () => {
      const res = await fetch(`${app.httpUrl}/calls`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(((await res.json()) as { calls: unknown[] }).calls).toHaveLength(2);
    },
    { timeout: 8000, interval: 50 },
  );

  // The history page, signed in with the same tab's token.
  await page.getByRole('link', { name: 'Call history' }).click();
  await page.locator('#today', { hasText: 'Calls2' }).waitFor(); // the past call and the live one
  const rows = page.locator('#call-rows tr');
  await expect.poll(() => rows.count()).toBe(2);
  await page.locator('#call-rows tr', { hasText: 'live' }).waitFor();

  // Search the transcripts.
  await page.getByLabel('Search transcripts').fill('weather');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect.poll(() => rows.count()).toBe(1);
  await rows.first().getByText('+15557770001 → +15559870000').waitFor();
  await page.getByLabel('Search transcripts').fill('volcano');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByText('No calls match.').waitFor();
  await page.getByLabel('Search transcripts').fill('');
  await page.getByLabel('Outcome').selectOption('caller-hung-up');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect.poll(() => rows.count()).toBe(1);

  // The call page.
  await rows.first().click();
  await page.locator('#record-title', { hasText: 'Call from +15557770001' }).waitFor();
  const said = page.locator('#record-transcript li.user', { hasText: 'What is the weather in Paris?' });
  await said.waitFor();
  const cut = page.locator('#record-transcript li.assistant', { hasText: 'sunny' });
  await cut.locator('.cut', { hasText: /interrupted at \d\.\d s/ }).waitFor();
  expect(await said.locator('.offset').textContent()).toMatch(/^\d+:\d\d\.\d$/);
  await page
    .locator('#record-tools li', { hasText: 'forecast' })
    .getByText(/success in \d+ ms/)
    .waitFor();
  await page.locator('#record-timeline li', { hasText: /caller barged in \(assistant cut at \d\.\d s\)/ }).waitFor();
  await page.locator('#record-timeline li', { hasText: 'call ended: caller-hung-up' }).waitFor();
  await page.locator('#record-facts', { hasText: /Cost\$\d+\.\d+/ }).waitFor();
  await page.locator('#record-usage', { hasText: /Input tokens\d+ \(audio \d+, text \d+\)/ }).waitFor();
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'history.png'), fullPage: true });

  // Delete it from the page.
  page.once('dialog', (dialog) => void dialog.accept());
  await page.getByRole('button', { name: 'Delete record' }).click();
  await page.locator('#history-status', { hasText: `deleted ${past.callSid}` }).waitFor();
  expect((await fetch(`${app.httpUrl}/calls/${past.callSid}`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
  expect(problems).toEqual([]);
  live.call.sendStop();
}, 45_000);
