// Headless Chromium (Debian's `chromium`; .ci/run installs it) driven by playwright-core, for
// tests of the dashboard page: one fresh profile per page, and every script error, CSP violation
// and failed request collected so a test can assert there were none.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';

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

export interface BrowserPage {
  page: Page;
  /** Page errors and console errors (CSP violations included). */
  problems: string[];
  /** `status path` of every response ≥ 400, and `failed path` of every request that failed. */
  failedRequests: string[];
  close(): Promise<void>;
}

export async function openBrowserPage(): Promise<BrowserPage> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  const profile = mkdtempSync(join(tmpdir(), 'dashboard-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(8000);
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(`console: ${msg.text()}`);
  });
  const failedRequests: string[] = [];
  page.on('response', (res) => {
    if (res.status() >= 400) failedRequests.push(`${res.status()} ${new URL(res.url()).pathname}`);
  });
  page.on('requestfailed', (req) => failedRequests.push(`failed ${new URL(req.url()).pathname}`));
  return {
    page,
    problems,
    failedRequests,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
