import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadAppConfig } from '../config/app-config';
import { pinoHttpOptions, redactUrl, secretScrubber } from './log-options';

const API_KEY = 'sk-unit-test-key-0123456789';
const AUTH_TOKEN = 'twilio-unit-test-token';

/** A pino logger with the app's options, writing into an array. */
function logger(env: Record<string, string> = {}) {
  const lines: string[] = [];
  const config = loadAppConfig({ OPENAI_API_KEY: API_KEY, TWILIO_AUTH_TOKEN: AUTH_TOKEN, ...env });
  const { level, timestamp, formatters, redact, hooks, serializers } = pinoHttpOptions(config);
  const log = pino({ level, timestamp, formatters, redact, hooks, serializers }, { write: (line: string) => lines.push(line) });
  return { log, lines, records: () => lines.map((l) => JSON.parse(l)) };
}

describe('log options', () => {
  it('redacts token and key fields at the top level and one level down', () => {
    const { log, records } = logger();
    log.info({ token: 'abc', key: 'def', apiKey: 'ghi', nested: { authToken: 'jkl', password: 'mno', secret: 'pqr' }, callSid: 'CA1' }, 'hello');
    expect(records()[0]).toMatchObject({
      level: 'info',
      msg: 'hello',
      callSid: 'CA1',
      token: '[redacted]',
      key: '[redacted]',
      apiKey: '[redacted]',
      nested: { authToken: '[redacted]', password: '[redacted]', secret: '[redacted]' },
    });
  });

  it('scrubs configured secret values wherever they appear: message, fields, error messages', () => {
    const { log, lines } = logger();
    log.warn({ detail: `upstream said Bearer ${API_KEY}` }, `token is ${AUTH_TOKEN}`);
    log.error({ err: new Error(`failed with ${API_KEY}`) }, 'boom');
    const text = lines.join('');
    expect(text).not.toContain(API_KEY);
    expect(text).not.toContain(AUTH_TOKEN);
    expect(text.match(/\[redacted\]/g)!.length).toBeGreaterThanOrEqual(3); // the error's message and stack both had it
  });

  it('respects LOG_LEVEL, mapping verbose to trace', () => {
    const warn = logger({ LOG_LEVEL: 'warn' });
    warn.log.info('not written');
    warn.log.warn('written');
    expect(warn.records().map((r) => r.msg)).toEqual(['written']);
    expect(logger({ LOG_LEVEL: 'verbose' }).log.level).toBe('trace');
  });

  it('redacts secret query parameters in URLs, leaving the others', () => {
    expect(redactUrl('/metrics?token=abc&x=1')).toBe('/metrics?token=[redacted]&x=1');
    expect(redactUrl('/a?x=1&api_key=abc#f')).toBe('/a?x=1&api_key=[redacted]#f');
    expect(redactUrl('/a?KEY=abc')).toBe('/a?KEY=[redacted]');
    expect(redactUrl('/twiml?CallSid=CA1')).toBe('/twiml?CallSid=CA1');
  });

  it('does not scrub short values (which would blank out ordinary words)', () => {
    expect(secretScrubber(['abc'])('abc abc')).toBe('abc abc');
    expect(secretScrubber(['abcdefgh'])('x abcdefgh y abcdefgh')).toBe('x [redacted] y [redacted]');
  });
});
