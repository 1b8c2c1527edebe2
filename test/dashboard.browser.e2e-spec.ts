// The dashboard page in real headless Chromium (Debian's `chromium`; .ci/run installs it),
// driven by playwright-core against the real app and the fakes.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { describe } from 'vitest';
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
const TOKEN = 'browser-token-0123456789';
const ARTIFACTS = join(__dirname, '..', 'test-results');

interface OpenedPage {
  page: Page;
  problems: string[];
  failedRequests: string[];
}

/** `openPage`: a fresh headless Chromium profile, closed and deleted after the test. */
const it = test.extend<{ openPage: () => Promise<OpenedPage> }>({
  openPage: async ({}, use) => {
    const opened: { browser: BrowserContext; profile: string }[] = [];
    await use(async () => {
      if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
      const profile = mkdtempSync(join(tmpdir(), 'dashboard-chromium-'));
      const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
      opened.push({ browser, profile });
      return watch(browser.pages()[0] ?? (await browser.newPage()));
    });
    for (const { browser, profile } of opened) {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    }
  },
});

/** Script errors, CSP violations and failed requests, collected from the page as it runs. */
function watch(page: Page): OpenedPage {
  page.setDefaultTimeout(8000);
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // Failed requests are checked one by one below, from the responses themselves.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(`console: ${msg.text()}`);
  });
  const failedRequests: string[] = [];
  page.on('response', (res) => {
    if (res.status() >= 400) failedRequests.push(`${res.status()} ${new URL(res.url()).pathname}`);
  });
  page.on('requestfailed', (req) => failedRequests.push(`failed ${new URL(req.url()).pathname}`));
  return { page, problems, failedRequests };
}

describe('the dashboard page in Chromium', () => {
  it('shows a live call with its transcript and function call, answers it by hand, and saves instructions for the next call', async ({
    startApp,
    placeCall,
    openPage,
  }) => {
    const app = await startApp({ DASHBOARD_TOKEN: TOKEN });
    const { page, problems, failedRequests } = await openPage();

    // The server needs a token: the page asks for it (keyboard only), then connects.
    await page.goto(`${app.httpUrl}/dashboard`);
    const tokenField = page.getByLabel('Dashboard token');
    await tokenField.fill(TOKEN);
    await tokenField.press('Enter');
    await page.getByText('Dashboard: live').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('dashboardToken'))).toBe(TOKEN);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);

    // A call comes in and talks.
    const { call, model, callSid: sid } = await placeCall(app);
    await page.getByRole('button', { name: /\+15551230000 → \+15559870000/ }).waitFor();
    await page.locator('#call-status', { hasText: 'model connected' }).waitFor();
    const user = model.speechStarted();
    model.speechStopped(user);
    model.userTranscript(user, 'Is the shop open on Sunday?');
    await model.audioResponse({ chunks: chunks(testAudio(16000, 1), 1600), transcript: 'Let me check with a colleague.' });
    model.speechStarted(); // the caller talks over the 2 s answer: a barge-in
    const said = page.locator('#transcript li.user', { hasText: 'Is the shop open on Sunday?' });
    const answered = page.locator('#transcript li.assistant', { hasText: 'Let me check with a colleague.' });
    await said.waitFor();
    await answered.waitFor();
    expect(await said.textContent()).toMatch(/^\d{2}:\d{2}:\d{2}CallerIs the shop open on Sunday\?$/); // time, role, text
    await answered.locator('.cut', { hasText: /interrupted by the caller at \d\.\d s/ }).waitFor();
    expect(await answered.locator('.text').textContent()).toBe('Let me check with a colleague.');

    // The model asks the operator; the question shows up with a box to answer it.
    const { callIds } = model.functionCallResponse([{ name: 'ask_operator', arguments: '{"question":"Are we open on Sunday?"}' }]);
    const fn = page.locator('#functions li', { hasText: 'ask_operator' });
    await fn.getByText('running…').waitFor();
    await fn.getByText('{"question":"Are we open on Sunday?"}').waitFor();
    await fn.getByLabel('Answer ask_operator by hand (JSON or text)').fill('Yes, from 10 to 4.');
    await fn.getByRole('button', { name: 'Send answer' }).click();
    const output = await model.waitFor('conversation.item.create', (e) => e.item.type === 'function_call_output');
    expect(output.item).toMatchObject({ call_id: callIds[0], output: '{"answer":"Yes, from 10 to 4."}' });
    await model.waitFor('response.create');
    await fn.getByText(/done in \d+ ms · answered by operator/).waitFor();
    await fn.getByText('{"answer":"Yes, from 10 to 4."}').waitFor();
    await page.locator('#health', { hasText: '1 / 100 calls' }).waitFor();

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

    // The operator changes the configuration and saves it for new calls.
    await page.getByLabel('Instructions').fill('You are the Sunday shift assistant. Mention the 10 to 4 hours.');
    await page.getByLabel('Voice', { exact: true }).selectOption('cedar');
    await page.getByLabel('VAD threshold (0–1)').fill('0.7');
    await page.getByLabel('get_weather_from_coords').uncheck();
    await page.getByRole('button', { name: 'Save for new calls' }).click();
    await page.getByText('Saved. Calls that start from now on use it.').waitFor();

    call.sendStop();
    await page.locator('#call-status', { hasText: 'ended (caller-hung-up)' }).waitFor();

    // The next call starts with what was saved.
    const next = await placeCall(app);
    const update = next.model.received.find((e) => e.type === 'session.update') as { session: any };
    expect(update.session).toMatchObject({
      instructions: 'You are the Sunday shift assistant. Mention the 10 to 4 hours.',
      audio: { input: { turn_detection: { type: 'server_vad', threshold: 0.7 } }, output: { voice: 'cedar' } },
    });
    expect(update.session.tools.map((t: { name: string }) => t.name)).toEqual(['end_call', 'ask_operator']);
    // The new call is selected automatically; the old one stays listed as ended.
    await page.locator('#call-detail', { hasText: next.callSid }).waitFor();
    await page.getByRole('button', { name: /ended \(caller-hung-up\)/ }).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-after-save.png'), fullPage: true });
    expect(problems).toEqual([]);
    expect(failedRequests).toEqual(['401 /session-config']); // the first look, before the token was entered
    expect(sid).not.toBe(next.callSid);
    next.call.sendStop();
  }, 40_000);
});
