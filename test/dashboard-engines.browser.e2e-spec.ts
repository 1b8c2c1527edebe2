// The dashboard and the two voice engines, in real Chromium: the operator moves new calls to
// GPT-Live, sees which engine each call runs on and the seconds it is billed, and is told what a
// running call of that engine can change.
import { vi } from 'vitest';
import { openBrowserPage, type BrowserPage } from './support/browser';
import { expect, test as base } from './support/fixture';
import { chunks, testAudio } from './support/test-app';

const test = base.extend<{ browser: BrowserPage }>({
  browser: async ({}, use) => {
    const browser = await openBrowserPage();
    await use(browser);
    await browser.close();
  },
});

test('moves new calls to GPT-Live, shows the engine and the billed seconds, and what a running GPT-Live call can change', async ({
  live,
  startApp,
  placeLiveCall,
  browser,
}) => {
  const app = await startApp({ OPENAI_LIVE_URL: live.url });
  const { page, problems } = browser;
  await page.goto(`${app.httpUrl}/dashboard#token=${app.config.dashboardToken}`);
  await page.getByText('Dashboard: live').waitFor();
  await page.getByLabel('Voice engine (new calls)').selectOption('live');
  await page.getByRole('button', { name: 'Save for new calls' }).click();
  await page.getByText('Saved. Calls that start from now on use it.').waitFor();

  const { call, model } = await placeLiveCall(app);
  await page.locator('#call-detail', { hasText: 'GPT-Live gpt-live-1.1' }).waitFor();
  await page.getByText(/This GPT-Live call: tools change at once; new instructions replace its backend's and are appended to its voice model's/).waitFor();
  model.hearCaller('Hello?');
  await model.speak({ chunks: chunks(testAudio(1600, 5), 800), transcript: 'Hi, how can I help?' });
  await page.locator('#transcript li.assistant', { hasText: 'Hi, how can I help?' }).waitFor();
  // Seconds of session, as the service reports them (the emulator: every second).
  await vi.waitFor(() => expect(model.seconds).toBeGreaterThan(1.1), { timeout: 3000, interval: 50 });
  await page.locator('#call-detail', { hasText: /\d+\.\d s billed/ }).waitFor();

  // Applying the form to the running call leaves its voice and engine alone, and changes its instructions:
  // appended for the voice model, replaced for the Responses backend.
  await page.getByLabel('Instructions').fill('Only talk about trains.');
  await page.getByRole('button', { name: 'Apply to selected call' }).click();
  await page.getByText('Applied to the selected call (voice unchanged).').waitFor();
  const appended = await model.waitFor('session.instructions.append');
  expect(appended.content).toMatch(/Only talk about trains\.$/);
  await vi.waitFor(() => expect(model.backend?.instructions).toBe('Only talk about trains.'), { timeout: 3000, interval: 10 });
  expect(model.errors).toEqual([]);
  expect(problems).toEqual([]);
  call.sendStop();
});
