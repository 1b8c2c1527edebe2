// The dashboard tells the truth (issue 10): a sign-in screen hides everything behind it, calls and
// lines carry their times, a call shows what the caller waited and why it failed, and the health
// pill reads the checks (a refused OpenAI key, missing configuration, unsafe settings) instead of
// the status code alone. Real app, real Chromium (test/support/browser.ts).
import { vi } from 'vitest';
import { dial } from '../emulator/phone';
import { CallEventBus } from '../src/call-gateway/call-events';
import { openBrowserPage, type BrowserPage } from './support/browser';
import { expect, test as base } from './support/fixture';
import { chunks, testAudio, type TestApp } from './support/test-app';

const test = base.extend<{ browser: BrowserPage }>({
  browser: async ({}, use) => {
    const browser = await openBrowserPage();
    await use(browser);
    await browser.close();
  },
});

/** The link the server prints at start when DASHBOARD_TOKEN is unset. */
const printedLink = (app: TestApp) => `${app.httpUrl}/dashboard#token=${app.config.dashboardToken}`;
const TIME = /\d{2}:\d{2}:\d{2}/;

test('the sign-in screen hides the layout behind it, and the printed link signs in and leaves the address bar', async ({ startApp, browser }) => {
  const app = await startApp();
  const { page, problems } = browser;
  await page.goto(`${app.httpUrl}/dashboard`);
  await page.getByLabel('Dashboard token').waitFor();
  await page.getByText('the link with a token the server printed to its terminal').waitFor();
  // `hidden` wins over the layout's display: grid, so nothing behind the form is shown or clickable.
  expect(await page.locator('#app').isVisible()).toBe(false);
  expect(await page.locator('#app').boundingBox()).toBeNull();
  expect(await page.getByRole('button', { name: 'Save for new calls' }).isVisible()).toBe(false);

  // Pasting the printed link into the same tab changes only the fragment: the page starts over with it.
  await page.goto(printedLink(app));
  await page.getByText('Dashboard: live').waitFor();
  expect(await page.locator('#token-form').isVisible()).toBe(false);
  expect(await page.locator('#app').isVisible()).toBe(true);
  expect(new URL(page.url()).hash).toBe(''); // out of the address bar and the history
  expect(await page.evaluate(() => sessionStorage.getItem('dashboardToken'))).toBe(app.config.dashboardToken);
  expect(problems).toEqual([]);
});

test('calls show when they started, lines when they were said, and what the caller waited', async ({ startApp, placeCall, browser }) => {
  const app = await startApp();
  const { page, problems } = browser;
  await page.goto(printedLink(app));
  await page.getByText('Dashboard: live').waitFor();

  const { call, model, callSid } = await placeCall(app);
  // The latencies the call core measures and publishes (call-events.ts, `latency`), as the page must show them.
  const latencies: { kind: string; ms: number }[] = [];
  app.app.get(CallEventBus).subscribe((e) => {
    if (e.type === 'latency' && e.callSid === callSid) latencies.push({ kind: e.kind, ms: e.ms });
  });
  for (const [question, answer] of [
    ['What time is it?', 'It is noon.'],
    ['And tomorrow?', 'Noon as well.'],
  ]) {
    const user = model.speechStarted();
    model.speechStopped(user);
    model.userTranscript(user, question);
    await model.audioResponse({ chunks: chunks(testAudio(1600, 1), 800), transcript: answer });
    await page.locator('#transcript li.assistant', { hasText: answer }).waitFor();
  }
  await vi.waitFor(() => expect(latencies.map((l) => l.kind)).toEqual(['first_audio', 'answer', 'answer']));
  const [first, a1, a2] = latencies.map((l) => l.ms);
  const shown = `first audio ${first} ms · answer ${a2} ms (mean ${Math.round((a1 + a2) / 2)} ms over 2 answers)`;

  const check = async () => {
    await page.locator('#call-latency', { hasText: shown }).waitFor();
    await page.locator('#call-list .meta', { hasText: new RegExp(`^${TIME.source} · \\d+:\\d\\d · model connected$`) }).waitFor();
    await page.locator('#call-detail', { hasText: new RegExp(`started ${TIME.source}`) }).waitFor();
    for (const text of ['What time is it?', 'It is noon.']) {
      const at = page.locator('#transcript li', { hasText: text }).locator('time.at');
      expect(await at.textContent()).toMatch(TIME);
      expect(Date.parse((await at.getAttribute('datetime'))!)).toBeGreaterThan(Date.now() - 60_000);
    }
  };
  await check();
  // A dashboard that joins now gets the same from the snapshot.
  await page.reload();
  await check();
  call.sendStop();
  expect(problems).toEqual([]);
});

test('a refused OpenAI key turns the health pill amber with the reason, and the failed call says why', async ({ startApp, startRealtime, browser }) => {
  const wrongKey = await startRealtime({ requireApiKey: 'sk-the-key-openai-knows-0000' });
  const app = await startApp({ OPENAI_REALTIME_URL: wrongKey.url });
  const { page, problems } = browser;
  await page.goto(printedLink(app));
  await page.getByText('Dashboard: live').waitFor();
  await page.locator('#health[data-level="ok"]', { hasText: 'Health: ok · 0 / 100 calls' }).waitFor();

  const { call } = await dial({ baseUrl: app.httpUrl, publicWebhookUrl: app.config.publicUrl('/twiml'), signatureToken: app.config.TWILIO_AUTH_TOKEN });
  expect((await call.waitForClose()).code).toBe(1011);
  const reason = 'the Realtime API refused the key (401): check OPENAI_API_KEY';
  await page.locator('#call-list', { hasText: `ended (model-unavailable): ${reason}` }).waitFor();
  await page.locator('#transcript li.note.error', { hasText: `Model failed: ${reason}` }).waitFor();
  await page.locator('#health[data-level="warn"]', { hasText: `Health: degraded · 0 / 100 calls — ${reason}` }).waitFor({ timeout: 10_000 });
  expect(problems).toEqual([]);
});

test('missing configuration turns the pill red naming the variables; an http PUBLIC_URL turns it amber naming the fix', async ({ startApp, browser }) => {
  const { page, problems } = browser;
  const bare = await startApp({ OPENAI_API_KEY: '' });
  await page.goto(printedLink(bare));
  await page.locator('#health[data-level="bad"]', { hasText: 'Health: not ready — missing configuration: set OPENAI_API_KEY' }).waitFor();

  const http = await startApp({ PUBLIC_URL: 'http://voice.example.test' });
  await page.goto('about:blank');
  await page.goto(printedLink(http));
  await page
    .locator('#health[data-level="warn"]', {
      hasText: /degraded .*PUBLIC_URL is http:\/\/: Twilio refuses the ws:\/\/ stream URL .*use the https:\/\/ address/,
    })
    .waitFor();
  expect(problems).toEqual([]);
});
