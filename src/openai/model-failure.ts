import type { EngineApi } from './voice-engine';

/**
 * Which voice model failures are worth retrying. Authentication, permission and invalid-request
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
  /** The service refused the session configuration: a new session would be refused the same way. */
  configRefused?: boolean;
  /** Which API failed (default: the Realtime API), so the message names its variables. */
  api?: EngineApi;
}

export const REALTIME_API: EngineApi = { name: 'the Realtime API', urlVar: 'OPENAI_REALTIME_URL', modelVar: 'OPENAI_MODEL' };

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
  if (failure.configRefused) return false;
  // 1008 (policy violation) from the service means the request itself is refused.
  if (failure.code === 1008) return false;
  return true;
}

/** Exponential backoff with "equal jitter": the first retry is fast, later ones spread out, never above maxMs. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** What went wrong with the voice model, for the people who can fix it (logs, /health, the dashboard). */
export interface ModelProblem {
  /** auth: the key was refused; model: the model or URL is wrong; quota: billing or rate limits; network: could not reach or lost the service; service: the service failed. */
  kind: 'auth' | 'model' | 'quota' | 'network' | 'service';
  /** One sentence naming the cause and the fix; never contains a secret. */
  message: string;
}

/** Names the cause of a failed model connection and what to do about it. */
export function describeFailure(failure: ModelFailure): ModelProblem {
  const { name: api, urlVar, modelVar, settingVars } = failure.api ?? REALTIME_API;
  const vars = { url: urlVar, model: modelVar };
  const status = failure.httpStatus;
  const error = failure.lastError;
  if (status === 401 || error?.code === 'invalid_api_key' || error?.type === 'authentication_error') {
    return { kind: 'auth', message: `${api} refused the key (401): check OPENAI_API_KEY` };
  }
  if (status === 403 || error?.type === 'permission_error') {
    return {
      kind: 'auth',
      message: `${api} refused access (403): the key's project has no access to this model; check OPENAI_API_KEY and the project's model permissions`,
    };
  }
  if (error?.code === 'insufficient_quota') return { kind: 'quota', message: `${api} says the quota is used up: check the OpenAI account's billing` };
  if (status === 429) return { kind: 'quota', message: `${api} is rate-limiting new sessions (429): fewer concurrent calls or a higher rate limit` };
  if (status === 404 || status === 400 || error?.code === 'model_not_found' || error?.code === 'unsupported_model') {
    return { kind: 'model', message: `${api} does not know this model or URL (${status ?? error?.code}): check ${vars.model} and ${vars.url}` };
  }
  if (failure.configRefused) {
    return {
      kind: 'model',
      message: `${api} refused the session configuration (${error?.code ?? 'invalid request'}: ${failure.reason}): check ${vars.model}${settingVars ? ` and ${settingVars}` : ''}`,
    };
  }
  if (status !== undefined && status >= 500) return { kind: 'service', message: `${api} failed (HTTP ${status}); it is usually transient` };
  if (status !== undefined) return { kind: 'service', message: `${api} refused the connection (HTTP ${status})` };
  if (!failure.opened) return { kind: 'network', message: `cannot reach ${api} (${failure.reason || 'connection failed'}): check ${vars.url} and the network` };
  return { kind: 'network', message: `lost the connection to ${api} (${failure.code}${error?.code ? ` ${error.code}` : ''})` };
}
