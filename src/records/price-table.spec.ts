import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PriceFileError, PriceTable, type PricedUsage } from './price-table';

function usage(fields: Partial<PricedUsage>): PricedUsage {
  return { inputTokens: 0, outputTokens: 0, totalTokens: 0, inputAudioTokens: 0, outputAudioTokens: 0, cachedTokens: 0, ...fields };
}

const dir = mkdtempSync(join(tmpdir(), 'prices-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('PriceTable', () => {
  const table = new PriceTable();

  it('prices gpt-realtime-2.1 per 1M tokens by modality (protocols.md §3)', () => {
    // 1M audio in ($32) + 1M text in ($4) + 1M audio out ($64) + 1M text out ($24)
    const u = usage({ inputTokens: 2_000_000, inputAudioTokens: 1_000_000, outputTokens: 2_000_000, outputAudioTokens: 1_000_000 });
    expect(table.cost('gpt-realtime-2.1', u)).toBeCloseTo(124, 9);
    expect(table.cost('gpt-realtime-2', u)).toBeCloseTo(124, 9);
  });

  it('counts cached tokens once: they are part of the input, billed at the cached price instead', () => {
    // 1M audio input of which 900k cached: 100k × $32 + 900k × $0.40 = $3.20 + $0.36
    const u = usage({ inputTokens: 1_000_000, inputAudioTokens: 1_000_000, cachedTokens: 900_000, cachedAudioTokens: 900_000, cachedTextTokens: 0 });
    expect(table.cost('gpt-realtime-2.1', u)).toBeCloseTo(3.56, 9);
    // Text cached: 500k text input, 400k of it cached: 100k × $4 + 400k × $0.40
    const t = usage({ inputTokens: 500_000, cachedTokens: 400_000, cachedTextTokens: 400_000, cachedAudioTokens: 0 });
    expect(table.cost('gpt-realtime-2.1', t)).toBeCloseTo(0.56, 9);
  });

  it('without a per-modality split, shares cached tokens out in proportion to the input', () => {
    // 750k audio + 250k text, 400k cached → 300k audio and 100k text cached.
    const u = usage({ inputTokens: 1_000_000, inputAudioTokens: 750_000, cachedTokens: 400_000 });
    const expected = (450_000 * 32 + 300_000 * 0.4 + 150_000 * 4 + 100_000 * 0.4) / 1e6;
    expect(table.cost('gpt-realtime-2.1', u)).toBeCloseTo(expected, 9);
  });

  it('never reports more cached than input, nor negative text', () => {
    const u = usage({ inputTokens: 100, inputAudioTokens: 100, cachedTokens: 500 });
    expect(table.cost('gpt-realtime-2.1', u)).toBeCloseTo((100 * 0.4) / 1e6, 12);
  });

  it('an unknown model costs null, never a guess; a dated snapshot costs what its model costs', () => {
    const u = usage({ inputTokens: 10, outputTokens: 10 });
    expect(table.cost('gpt-realtime', u)).toBeNull();
    expect(table.cost('some-future-model', u)).toBeNull();
    expect(table.knows('gpt-realtime')).toBe(false);
    expect(table.cost('gpt-realtime-2.1-2026-07-15', u)).toBe(table.cost('gpt-realtime-2.1', u));
  });

  it('prices GPT-Live per second of session ($0.05/min), and only with billed seconds', () => {
    expect(table.cost('gpt-live-1', usage({ billedSeconds: 120 }))).toBeCloseTo(0.1, 12);
    expect(table.cost('gpt-live-1.1', usage({ billedSeconds: 30 }))).toBeCloseTo(0.025, 12);
    expect(table.cost('gpt-live-1', usage({ inputTokens: 1000 }))).toBeNull();
  });

  it('PRICES_FILE adds and replaces models, removes one with null, and names what is wrong', () => {
    const file = join(dir, 'prices.json');
    writeFileSync(
      file,
      JSON.stringify({
        'gpt-realtime': { textInput: 4, cachedTextInput: 0.4, audioInput: 32, cachedAudioInput: 0.4, textOutput: 16, audioOutput: 64 },
        'gpt-live-1': { perMinute: 0.06 },
        'gpt-realtime-2': null,
      }),
    );
    const custom = PriceTable.fromFile(file);
    expect(custom.cost('gpt-realtime', usage({ outputTokens: 1_000_000 }))).toBeCloseTo(16, 9);
    expect(custom.cost('gpt-live-1', usage({ billedSeconds: 60 }))).toBeCloseTo(0.06, 12);
    expect(custom.knows('gpt-realtime-2')).toBe(false);
    expect(custom.knows('gpt-realtime-2.1')).toBe(true);

    writeFileSync(file, JSON.stringify({ 'x-model': { textInput: 1, audioInput: -1 } }));
    expect(() => PriceTable.fromFile(file)).toThrow(PriceFileError);
    expect(() => PriceTable.fromFile(file)).toThrow(/"x-model" needs numbers >= 0 .* for cachedTextInput, audioInput/);
    writeFileSync(file, '{ not json');
    expect(() => PriceTable.fromFile(file)).toThrow(/cannot read it as JSON/);
    expect(() => PriceTable.fromFile(join(dir, 'missing.json'))).toThrow(/PRICES_FILE/);
  });
});
