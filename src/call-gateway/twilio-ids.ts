/**
 * Twilio's identifier shapes, in one place. Real SIDs are two letters and 32 hex digits; anything
 * else in a media stream's `start` is not Twilio, and must never reach a log line or a map key.
 */

/** A Call SID: CA + 32 hex digits. */
export const CALL_SID = /^CA[0-9a-fA-F]{32}$/;
/** A Media Stream SID: MZ + 32 hex digits. */
export const STREAM_SID = /^MZ[0-9a-fA-F]{32}$/;

export function isCallSid(value: unknown): value is string {
  return typeof value === 'string' && CALL_SID.test(value);
}

export function isStreamSid(value: unknown): value is string {
  return typeof value === 'string' && STREAM_SID.test(value);
}
