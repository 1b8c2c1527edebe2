import { describe, expect, it } from 'vitest';
import { backoffDelay, describeFailure, isRetryable } from './model-failure';

describe('isRetryable', () => {
  it.each([
    [{ code: 1006, reason: 'ECONNREFUSED', opened: false }, true],
    [{ code: 1006, reason: 'dropped', opened: true }, true],
    [{ code: 1011, reason: 'server error', opened: true }, true],
    [{ code: 1006, reason: '', httpStatus: 503, opened: false }, true],
    [{ code: 1006, reason: '', httpStatus: 429, opened: false }, true],
    [{ code: 1006, reason: '', httpStatus: 401, opened: false }, false],
    [{ code: 1006, reason: '', httpStatus: 403, opened: false }, false],
    [{ code: 1006, reason: '', httpStatus: 404, opened: false }, false],
    [{ code: 1000, reason: '', lastError: { type: 'server_error' }, opened: true }, true],
    [{ code: 1000, reason: '', lastError: { type: 'invalid_request_error', code: 'session_expired' }, opened: true }, true],
    [{ code: 1000, reason: '', lastError: { type: 'invalid_request_error', code: 'invalid_api_key' }, opened: true }, false],
    [{ code: 1000, reason: '', lastError: { type: 'authentication_error' }, opened: true }, false],
    [{ code: 1008, reason: 'policy', opened: true }, false],
  ])('%j → %s', (failure, expected) => {
    expect(isRetryable(failure)).toBe(expected);
  });
});

describe('backoffDelay', () => {
  it('starts fast and grows to the cap, with jitter in [ceiling/2, ceiling]', () => {
    expect(backoffDelay(0, 200, 5000, () => 0)).toBe(100);
    expect(backoffDelay(0, 200, 5000, () => 1)).toBe(200);
    expect(backoffDelay(3, 200, 5000, () => 1)).toBe(1600);
    expect(backoffDelay(10, 200, 5000, () => 1)).toBe(5000);
    expect(backoffDelay(10, 200, 5000, () => 0)).toBe(2500);
  });
});

describe('describeFailure', () => {
  it('names a refused key and the variable to fix', () => {
    expect(describeFailure({ code: 1006, reason: '', httpStatus: 401, opened: false })).toEqual({
      kind: 'auth',
      message: 'the Realtime API refused the key (401): check OPENAI_API_KEY',
    });
    expect(describeFailure({ code: 1000, reason: '', lastError: { type: 'invalid_request_error', code: 'invalid_api_key' }, opened: true }).kind).toBe('auth');
  });

  it.each([
    [{ code: 1006, reason: '', httpStatus: 404, opened: false }, 'model'],
    [{ code: 1006, reason: '', httpStatus: 429, opened: false }, 'quota'],
    [{ code: 1006, reason: '', httpStatus: 503, opened: false }, 'service'],
    [{ code: 1006, reason: 'connect ECONNREFUSED 127.0.0.1:9', opened: false }, 'network'],
    [{ code: 1006, reason: '', opened: true }, 'network'],
  ])('%j → %s', (failure, kind) => {
    expect(describeFailure(failure).kind).toBe(kind);
  });
});
