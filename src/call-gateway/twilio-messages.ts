/**
 * Twilio Media Streams messages (bidirectional stream), and the one parser for the hot path:
 * one JSON.parse, cheap shape guards, no class-validator per frame.
 */

// Fields we never read are typed too (optional): these types are also the published contract of
// /ws/call (docs/asyncapi.json is generated from them by `npm run docs:asyncapi`).

/** The first message on a new stream. */
export interface TwilioConnected {
  event: 'connected';
  /** "Call" */
  protocol?: string;
  /** "1.0.0" */
  version?: string;
}
/** The stream's metadata; must arrive before any media. `customParameters` carry the TwiML's <Parameter>s (our stream token). */
export interface TwilioStart {
  event: 'start';
  /** Numbers arrive as strings. */
  sequenceNumber?: string;
  streamSid: string;
  start: {
    streamSid: string;
    accountSid: string;
    callSid: string;
    /** ["inbound"]: with <Connect>, only the caller's audio comes in. */
    tracks?: string[];
    customParameters?: Record<string, string>;
    /** audio/x-mulaw, 8000 Hz, 1 channel. */
    mediaFormat?: { encoding: string; sampleRate: number; channels: number };
  };
}
/** 20 ms (160 bytes) of the caller's audio, mu-law 8 kHz, base64. */
export interface TwilioMedia {
  event: 'media';
  sequenceNumber?: string;
  streamSid: string;
  media: {
    track?: string;
    chunk?: string;
    /** Milliseconds since the stream started, as a string. */
    timestamp?: string;
    /** Base64 mu-law; at most 16 KiB of base64 text. */
    payload: string;
  };
}
/** The echo of a mark we sent: playback reached it (or `clear` emptied the buffer before it). */
export interface TwilioMark {
  event: 'mark';
  sequenceNumber?: string;
  streamSid: string;
  mark: { name: string };
}
/** A key the caller pressed. */
export interface TwilioDtmf {
  event: 'dtmf';
  sequenceNumber?: string;
  streamSid: string;
  dtmf: {
    track?: string;
    /** @pattern ^[0-9*#A-D]$ */
    digit: string;
  };
}
/** The stream ended: the caller hung up, or the call moved on. */
export interface TwilioStop {
  event: 'stop';
  sequenceNumber?: string;
  streamSid: string;
  stop?: { accountSid?: string; callSid?: string };
}

/** Every message Twilio sends on the stream. */
export type TwilioInbound = TwilioConnected | TwilioStart | TwilioMedia | TwilioMark | TwilioDtmf | TwilioStop;

/** Assistant audio for the caller, mu-law 8 kHz, base64; Twilio queues it and plays it in order. */
export interface TwilioOutboundMedia {
  event: 'media';
  streamSid: string;
  media: { payload: string };
}
/**
 * Sent after the chunk that completes 100 ms of audio since the last mark, and after a response's
 * last audio; Twilio echoes it when playback reaches it. Named
 * `{generation}.{seq}:{itemId}:{cumulative ms of that item sent}`, so an echo says what the caller heard.
 */
export interface TwilioOutboundMark {
  event: 'mark';
  streamSid: string;
  mark: { name: string };
}
/** Empties Twilio's playback buffer at once (barge-in); Twilio then echoes every pending mark. */
export interface TwilioClear {
  event: 'clear';
  streamSid: string;
}
/** Every message we send on the stream (MediaStream writes them; the hot path builds them from prefixes). */
export type TwilioOutbound = TwilioOutboundMedia | TwilioOutboundMark | TwilioClear;

/** Why a frame was refused; the session counts these and decides whether to close. */
export type TwilioParseError = 'malformed-json' | 'unknown-event' | 'invalid-shape' | 'invalid-payload';

/** A Twilio media payload is 160 bytes (20 ms) of mu-law; allow generous frames, refuse absurd ones. */
export const MAX_MEDIA_PAYLOAD_CHARS = 16 * 1024;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function isBase64(value: string): boolean {
  return value.length % 4 === 0 && BASE64.test(value);
}

/** Bytes encoded by a base64 string, without decoding it. */
export function base64ByteLength(value: string): number {
  const len = value.length;
  if (len === 0) return 0;
  const padding = value.charCodeAt(len - 1) === 61 ? (value.charCodeAt(len - 2) === 61 ? 2 : 1) : 0;
  return (len * 3) / 4 - padding;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isString = (v: unknown): v is string => typeof v === 'string';

export function parseTwilioMessage(data: string): TwilioInbound | TwilioParseError {
  let msg: unknown;
  try {
    msg = JSON.parse(data);
  } catch {
    return 'malformed-json';
  }
  if (!isObject(msg) || !isString(msg.event)) return 'invalid-shape';
  switch (msg.event) {
    case 'media': {
      const media = msg.media;
      if (!isObject(media) || !isString(media.payload)) return 'invalid-shape';
      if (media.payload.length > MAX_MEDIA_PAYLOAD_CHARS || !isBase64(media.payload)) return 'invalid-payload';
      return msg as unknown as TwilioMedia;
    }
    case 'mark':
      return isObject(msg.mark) && isString(msg.mark.name) ? (msg as unknown as TwilioMark) : 'invalid-shape';
    case 'start': {
      const start = msg.start;
      if (!isObject(start) || !isString(start.streamSid) || !isString(start.callSid) || start.streamSid.length === 0) return 'invalid-shape';
      if (start.customParameters !== undefined && !isObject(start.customParameters)) return 'invalid-shape';
      return msg as unknown as TwilioStart;
    }
    case 'dtmf':
      return isObject(msg.dtmf) && isString(msg.dtmf.digit) && /^[0-9*#A-D]$/.test(msg.dtmf.digit) ? (msg as unknown as TwilioDtmf) : 'invalid-shape';
    case 'connected':
    case 'stop':
      return msg as unknown as TwilioInbound;
    default:
      return 'unknown-event';
  }
}
