/**
 * Which Realtime failures are worth retrying. Authentication, permission and invalid-request
 * failures will fail again the same way (and retrying them just spends time the caller hears as
 * silence); network drops, 5xx and rate limits are transient.
 */

export interface ModelFailure {
  /** WebSocket close code (1006 when the connection failed or dropped without a close frame). */
  code: number;
  reason: string;
  /** HTTP status when the upgrade itself was refused. */
  httpStatus?: number;
  /** The last `error` event the server sent before closing, if any. */
  lastError?: { type?: string; code?: string | null };
  /** Whether the socket had opened before it failed. */
  opened: boolean;
}

const FATAL_ERROR_TYPES = new Set(['authentication_error', 'permission_error', 'invalid_api_key', 'insufficient_quota']);
const FATAL_ERROR_CODES = new Set(['invalid_api_key', 'insufficient_quota', 'model_not_found', 'unsupported_model', 'account_deactivated']);

/** An `error` event that means this session (and any new one) cannot work. */
export function isFatalErrorEvent(error: { type?: string; code?: string | null }): boolean {
  return FATAL_ERROR_TYPES.has(error.type ?? '') || FATAL_ERROR_CODES.has(error.code ?? '');
}

export function isRetryable(failure: ModelFailure): boolean {
  const status = failure.httpStatus;
  if (status !== undefined) {
    // 401/403: bad key or no access; 400/404: bad URL or model. 408/429/5xx: try again.
    if (status === 408 || status === 429 || status >= 500) return true;
    return false;
  }
  if (failure.lastError && isFatalErrorEvent(failure.lastError)) return false;
  // 1008 (policy violation) from the service means the request itself is refused.
  if (failure.code === 1008) return false;
  return true;
}

/** Exponential backoff with "equal jitter": the first retry is fast, later ones spread out, never above maxMs. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
