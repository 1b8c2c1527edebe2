import type { RawData } from 'ws';

/**
 * One event from a voice service's socket: a JSON object with a string `type`, or null for anything
 * else (binary, not JSON, no type), which each engine counts as malformed. Shared by both engines.
 */
export function parseWireEvent(data: RawData, isBinary: boolean): { type: string } | null {
  if (isBinary) return null;
  let event: unknown;
  try {
    event = JSON.parse(data.toString());
  } catch {
    return null;
  }
  return typeof event === 'object' && event !== null && typeof (event as { type?: unknown }).type === 'string' ? (event as { type: string }) : null;
}
