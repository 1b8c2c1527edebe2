import { vi } from 'vitest';
import type { TestApp } from './test-app';

/** One sample of the Prometheus text format: `name{label="value",...} number`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  text: string;
  samples: Sample[];
  /** `# TYPE name kind` lines. */
  types: Map<string, string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheus(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [name, kind] = line.slice(7).split(' ');
      types.set(name, kind);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key] = value.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return { text, samples, types };
}

/** The value of one series, 0 if absent (a counter nobody incremented has no sample yet). */
export function valueOf(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  const sample = scrape.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return sample?.value ?? 0;
}

/** GET /metrics with the token the app requires (METRICS_TOKEN, or the dashboard token), unless `headers` says otherwise. */
export async function scrape(app: TestApp, headers: Record<string, string> = {}): Promise<Scrape> {
  const res = await fetch(`${app.httpUrl}/metrics`, { headers: { authorization: `Bearer ${app.config.metricsToken}`, ...headers } });
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  return parsePrometheus(await res.text());
}

/** Scrapes until `check` passes (polling an observable condition, with a timeout); returns that scrape. */
export async function scrapeUntil(app: TestApp, check: (s: Scrape) => void, timeoutMs = 5_000, headers: Record<string, string> = {}): Promise<Scrape> {
  let last: Scrape | undefined;
  await vi.waitFor(
    async () => {
      last = await scrape(app, headers);
      check(last);
    },
    { timeout: timeoutMs, interval: 20 },
  );
  return last!;
}
