/**
 * Twilio Media Streams messages (bidirectional stream), and the one parser for the hot path:
 * one JSON.parse, cheap shape guards, no class-validator per frame.
 */

export interface TwilioConnected {
  event: 'connected';
  protocol?: string;
  version?: string;
}
export interface TwilioStart {
  event: 'start';
  streamSid: string;
  start: {
    streamSid: string;
    accountSid: string;
    callSid: string;
    tracks?: string[];
    customParameters?: Record<string, string>;
    mediaFormat?: { encoding: string; sampleRate: number; channels: number };
  };
}
export interface TwilioMedia {
  event: 'media';
  streamSid: string;
  media: { track?: string; chunk?: string; timestamp?: string; payload: string };
}
export interface TwilioMark {
  event: 'mark';
  streamSid: string;
  mark: { name: string };
}
export interface TwilioDtmf {
  event: 'dtmf';
  streamSid: string;
  dtmf: { track?: string; digit: string };
}
export interface TwilioStop {
  event: 'stop';
  streamSid: string;
  stop?: { accountSid?: string; callSid?: string };
}

export type TwilioInbound = TwilioConnected | TwilioStart | TwilioMedia | TwilioMark | TwilioDtmf | TwilioStop;

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
