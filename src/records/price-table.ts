import { readFileSync } from 'node:fs';
import type { ResponseUsage, UsageDetails } from '../call-gateway/call-events';

/** One usage report as priced: token counts, and the optional details an engine may add. */
export type PricedUsage = ResponseUsage & UsageDetails;

/** Realtime models: USD per 1M tokens, by modality; cached input is billed instead of (not on top of) uncached input. */
export interface TokenPrices {
  textInput: number;
  cachedTextInput: number;
  audioInput: number;
  cachedAudioInput: number;
  textOutput: number;
  audioOutput: number;
}

/** Engines billed by session time (GPT-Live): USD per minute. */
export interface SecondPrices {
  perMinute: number;
}

export type ModelPrices = TokenPrices | SecondPrices;

const TOKEN_FIELDS = ['textInput', 'cachedTextInput', 'audioInput', 'cachedAudioInput', 'textOutput', 'audioOutput'] as const;

/**
 * Built-in prices (shared/reference/protocols.md §3 and §5, 2026). §3 gives cached audio input;
 * cached text input is billed at the same $0.40 on OpenAI's price list. Models not listed here
 * (e.g. the older `gpt-realtime`) have no price until PRICES_FILE gives one: cost "unknown".
 */
export const DEFAULT_PRICES: Readonly<Record<string, ModelPrices>> = {
  'gpt-realtime-2': { textInput: 4, cachedTextInput: 0.4, audioInput: 32, cachedAudioInput: 0.4, textOutput: 24, audioOutput: 64 },
  'gpt-realtime-2.1': { textInput: 4, cachedTextInput: 0.4, audioInput: 32, cachedAudioInput: 0.4, textOutput: 24, audioOutput: 64 },
  // Per second of active session; the delegated Responses model's tokens are billed on their own.
  'gpt-live-1': { perMinute: 0.05 },
  'gpt-live-1.1': { perMinute: 0.05 },
  // GPT-Live's default Responses backend (LIVE_RESPONSES_MODEL): $0.75 in, $0.075 cached, $4.50 out per
  // 1M tokens, as published at its release (March 2026; not in protocols.md). Without it every GPT-Live
  // call that used a tool would cost "unknown". A text model: no audio in or out.
  'gpt-5.4-mini': { textInput: 0.75, cachedTextInput: 0.075, audioInput: 0, cachedAudioInput: 0, textOutput: 4.5, audioOutput: 0 },
};

export class PriceFileError extends Error {}

/** A dated snapshot (`gpt-realtime-2.1-2026-07-15`) costs what its model costs. */
const SNAPSHOT_SUFFIX = /-\d{4}-\d{2}-\d{2}$/;

/** Prices per model, and the cost of one usage report. Never guesses: an unknown model costs null. */
export class PriceTable {
  private readonly prices: Map<string, ModelPrices>;

  constructor(prices: Record<string, ModelPrices | null> = DEFAULT_PRICES) {
    this.prices = new Map(Object.entries(prices).filter((entry): entry is [string, ModelPrices] => entry[1] !== null));
  }

  /**
   * The defaults with a JSON file's entries on top: `{ "<model>": { per-1M-token prices } | { "perMinute": n } | null }`
   * (null removes a built-in entry). Throws PriceFileError naming what is wrong.
   */
  static fromFile(path: string | undefined): PriceTable {
    if (!path) return new PriceTable();
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new PriceFileError(`PRICES_FILE ${path}: cannot read it as JSON (${(err as Error).message})`);
    }
    return new PriceTable({ ...DEFAULT_PRICES, ...parsePrices(raw, path) });
  }

  lookup(model: string): ModelPrices | undefined {
    return this.prices.get(model) ?? this.prices.get(model.replace(SNAPSHOT_SUFFIX, ''));
  }

  knows(model: string): boolean {
    return this.lookup(model) !== undefined;
  }

  /** USD for one usage report, or null when the model (or, per second, the billed time) is unknown. */
  cost(model: string, usage: PricedUsage): number | null {
    const prices = this.lookup(model);
    if (!prices) return null;
    if ('perMinute' in prices) return typeof usage.billedSeconds === 'number' ? (usage.billedSeconds / 60) * prices.perMinute : null;
    return tokenCost(prices, usage);
  }
}

/**
 * Cached tokens are part of the input tokens: each input token is billed once, at the cached or the
 * uncached price of its modality. Without a per-modality split of the cached tokens, they are
 * shared out in proportion to the audio and text input.
 */
export function tokenCost(prices: TokenPrices, usage: PricedUsage): number {
  const inputAudio = Math.max(0, usage.inputAudioTokens);
  const inputText = Math.max(0, usage.inputTokens - inputAudio);
  const cached = Math.min(Math.max(0, usage.cachedTokens), inputAudio + inputText);
  let cachedAudio: number;
  let cachedText: number;
  if (typeof usage.cachedAudioTokens === 'number' || typeof usage.cachedTextTokens === 'number') {
    cachedAudio = clamp(usage.cachedAudioTokens ?? cached - (usage.cachedTextTokens ?? 0), inputAudio);
    cachedText = clamp(usage.cachedTextTokens ?? cached - cachedAudio, inputText);
  } else {
    const total = inputAudio + inputText;
    cachedAudio = total === 0 ? 0 : (cached * inputAudio) / total;
    cachedText = cached - cachedAudio;
  }
  const outputAudio = Math.max(0, usage.outputAudioTokens);
  const outputText = Math.max(0, usage.outputTokens - outputAudio);
  const usd =
    (inputAudio - cachedAudio) * prices.audioInput +
    cachedAudio * prices.cachedAudioInput +
    (inputText - cachedText) * prices.textInput +
    cachedText * prices.cachedTextInput +
    outputAudio * prices.audioOutput +
    outputText * prices.textOutput;
  return usd / 1_000_000;
}

function parsePrices(raw: unknown, path: string): Record<string, ModelPrices | null> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PriceFileError(`PRICES_FILE ${path}: expected an object of models`);
  const out: Record<string, ModelPrices | null> = {};
  for (const [model, entry] of Object.entries(raw as Record<string, unknown>)) {
    if (entry === null) {
      out[model] = null;
      continue;
    }
    const where = `PRICES_FILE ${path}: "${model}"`;
    if (typeof entry !== 'object' || Array.isArray(entry)) throw new PriceFileError(`${where} must be an object or null`);
    const fields = entry as Record<string, unknown>;
    if ('perMinute' in fields) {
      if (!isPrice(fields.perMinute)) throw new PriceFileError(`${where}.perMinute must be a number >= 0`);
      out[model] = { perMinute: fields.perMinute };
      continue;
    }
    const missing = TOKEN_FIELDS.filter((f) => !isPrice(fields[f]));
    if (missing.length > 0) throw new PriceFileError(`${where} needs numbers >= 0 (USD per 1M tokens) for ${missing.join(', ')}, or perMinute`);
    out[model] = Object.fromEntries(TOKEN_FIELDS.map((f) => [f, fields[f]])) as unknown as TokenPrices;
  }
  return out;
}

function clamp(value: number, max: number): number {
  return Math.min(max, Math.max(0, value));
}

function isPrice(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
