// What Twilio does when a call comes in, over real HTTP and WebSocket: POST the voice webhook
// (form-encoded, optionally signed), read the TwiML, and open the <Stream> it names with its
// <Parameter>s. Used by the demo, `npm run simulate` and the benchmark.
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import twilio from 'twilio';
import { TwilioCallSimulator, type TwilioCallOptions } from './twilio-call-simulator';

/** A Twilio-shaped CallSid: CA + 32 hex digits. */
export function newCallSid(): string {
  return 'CA' + randomBytes(16).toString('hex');
}

export interface StreamTwiml {
  url: string;
  parameters: Record<string, string>;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(parseInt(name.slice(1), 10));
    return ENTITIES[name];
  });
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([A-Za-z_:][\w:.-]*)\s*=\s*("([^"]*)"|'([^']*)')/g)) out[m[1]] = unescapeXml(m[3] ?? m[4]);
  return out;
}

/** The <Connect><Stream> of a TwiML answer, or null when it has none (busy, not configured…). */
export function readStreamTwiml(twiml: string): StreamTwiml | null {
  const stream = /<Stream\b([^>]*?)\/?>/.exec(twiml);
  if (!stream) return null;
  const url = attributes(stream[1]).url;
  if (!url) return null;
  const parameters: Record<string, string> = {};
  const body = /<Stream\b[^>]*>([\s\S]*?)<\/Stream>/.exec(twiml)?.[1] ?? '';
  for (const p of body.matchAll(/<Parameter\b([^>]*?)\/?>/g)) {
    const { name, value } = attributes(p[1]);
    if (name) parameters[name] = value ?? '';
  }
  return { url, parameters };
}

/** The texts of every <Say> in a TwiML answer. */
export function twimlSays(twiml: string): string[] {
  return [...twiml.matchAll(/<Say\b[^>]*>([\s\S]*?)<\/Say>/g)].map((m) => unescapeXml(m[1]));
}

export interface WebhookOptions {
  /** Where the server is reachable from here, e.g. http://127.0.0.1:8081. */
  baseUrl: string;
  /** The webhook URL as Twilio would request (and sign) it: PUBLIC_URL + /twiml. */
  publicWebhookUrl?: string;
  /** TWILIO_AUTH_TOKEN: sign like Twilio does. */
  signatureToken?: string;
  path?: string;
}

/** POSTs the voice webhook the way Twilio does: form-encoded, signed when a token is given. */
export async function postVoiceWebhook(params: Record<string, string>, opts: WebhookOptions): Promise<{ status: number; twiml: string }> {
  const path = opts.path ?? '/twiml';
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (opts.signatureToken) {
    const signedUrl = opts.publicWebhookUrl ?? joinUrl(opts.baseUrl, path);
    headers['x-twilio-signature'] = twilio.getExpectedTwilioSignature(opts.signatureToken, signedUrl, params);
  }
  const url = joinUrl(opts.baseUrl, path);
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
  } catch (err) {
    // fetch says only "fetch failed"; the cause says why (ECONNREFUSED, ENOTFOUND…).
    const cause = (err as Error & { cause?: Error }).cause;
    throw new Error(`cannot reach ${url}: ${cause?.message ?? (err as Error).message}`, { cause: err });
  }
  return { status: res.status, twiml: await res.text() };
}

export interface DialOptions extends WebhookOptions {
  callSid?: string;
  from?: string;
  to?: string;
  /** Time between the TwiML answer and the stream's `start`, as on a real call (Twilio takes a few hundred ms). */
  streamDelayMs?: number;
  /** Connect to the stream URL exactly as the TwiML gives it (default: the same path on baseUrl,
   * which works when PUBLIC_URL is a tunnel that points back here). */
  useTwimlStreamUrl?: boolean;
  /** Runs after the TwiML answer and before the stream opens (e.g. wait for the pre-dialled model). */
  beforeStream?: () => Promise<void>;
  /** Simulator options (recording, hooks; `sendStart: false` to send `start` later, as a slow Twilio leg would). */
  simulator?: Pick<TwilioCallOptions, 'record' | 'onMessage' | 'onSend' | 'echoMarks' | 'sendStart'>;
}

export interface DialedCall {
  call: TwilioCallSimulator;
  callSid: string;
  twiml: string;
  /** performance.now() when the webhook was posted and when `start` was sent. */
  webhookAt: number;
  startedAt: number;
}

export class CallRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly twiml: string,
  ) {
    const said = twimlSays(twiml);
    super(`the server did not connect the call (HTTP ${status})${said.length ? `: it said "${said.join(' ')}"` : ''}`);
  }
}

/** Places a call: webhook, TwiML, then the media stream (connected + start). */
export async function dial(opts: DialOptions): Promise<DialedCall> {
  const callSid = opts.callSid ?? newCallSid();
  const accountSid = 'AC' + randomBytes(16).toString('hex');
  const params = {
    AccountSid: accountSid,
    ApiVersion: '2010-04-01',
    CallSid: callSid,
    CallStatus: 'ringing',
    Direction: 'inbound',
    From: opts.from ?? '+15551230000',
    To: opts.to ?? '+15559870000',
  };
  const webhookAt = performance.now();
  const { status, twiml } = await postVoiceWebhook(params, opts);
  const stream = status === 200 ? readStreamTwiml(twiml) : null;
  if (!stream) throw new CallRefusedError(status, twiml);
  await opts.beforeStream?.();
  if (opts.streamDelayMs) await delay(opts.streamDelayMs);
  const target = opts.useTwimlStreamUrl ? stream.url : sameOrigin(opts.baseUrl, stream.url);
  const headers: Record<string, string> = {};
  // Twilio signs the upgrade over the wss:// URL it was given, with no params.
  if (opts.signatureToken) headers['x-twilio-signature'] = twilio.getExpectedTwilioSignature(opts.signatureToken, stream.url, {});
  const call = await TwilioCallSimulator.connect(target, {
    callSid,
    accountSid,
    customParameters: stream.parameters,
    headers,
    ...opts.simulator,
  });
  return { call, callSid, twiml, webhookAt, startedAt: performance.now() };
}

/** The stream URL's path on the server's local address (ws:// for http://, wss:// for https://). */
export function sameOrigin(baseUrl: string, streamUrl: string): string {
  const base = new URL(baseUrl);
  const stream = new URL(streamUrl);
  base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
  base.pathname = stream.pathname;
  base.search = '';
  return base.toString();
}

function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}
