import { describe, expect, it } from 'vitest';
import { loadAppConfig } from './app-config';

describe('loadAppConfig', () => {
  it('has working defaults', () => {
    const config = loadAppConfig({});
    expect(config.PORT).toBe(8081);
    expect(config.OPENAI_MODEL).toBe('gpt-realtime-2.1');
    expect(config.MAX_CONCURRENT_CALLS).toBe(100);
    expect(config.missingForCalls).toEqual(['OPENAI_API_KEY', 'PUBLIC_URL']);
  });

  it('derives the stream URL from PUBLIC_URL', () => {
    const config = loadAppConfig({ PUBLIC_URL: 'https://abc.example.com/', OPENAI_API_KEY: 'sk-test-1234567890' });
    expect(config.streamUrl()).toBe('wss://abc.example.com/ws/call');
    expect(config.publicUrl('/twiml')).toBe('https://abc.example.com/twiml');
    expect(config.missingForCalls).toEqual([]);
  });

  it('names every bad variable in one message, without echoing values', () => {
    let message = '';
    try {
      loadAppConfig({ PORT: 'eighty', OPENAI_VOICE: 'robot', PUBLIC_URL: 'not a url', OPENAI_API_KEY: 'short', MAX_CONCURRENT_CALLS: '0' });
    } catch (err) {
      message = (err as Error).message;
    }
    for (const name of ['PORT', 'OPENAI_VOICE', 'PUBLIC_URL', 'OPENAI_API_KEY', 'MAX_CONCURRENT_CALLS']) expect(message).toContain(name);
    expect(message).not.toContain('short');
    expect(message).toContain('5 variables');
  });

  it('takes an optional DASHBOARD_TOKEN, refusing short or spaced ones without echoing them', () => {
    expect(loadAppConfig({}).DASHBOARD_TOKEN).toBeUndefined();
    expect(loadAppConfig({ DASHBOARD_TOKEN: '' }).DASHBOARD_TOKEN).toBeUndefined();
    expect(loadAppConfig({ DASHBOARD_TOKEN: 'a-long-enough-token-42' }).DASHBOARD_TOKEN).toBe('a-long-enough-token-42');
    expect(loadAppConfig({ DASHBOARD_TOKEN: 'a-long-enough-token-42' }).secrets).toContain('a-long-enough-token-42'); // scrubbed from logs
    for (const bad of ['short-secret', 'has a space in it, long enough']) {
      expect(() => loadAppConfig({ DASHBOARD_TOKEN: bad })).toThrow(/DASHBOARD_TOKEN/);
      expect(() => loadAppConfig({ DASHBOARD_TOKEN: bad })).not.toThrow(bad);
    }
  });

  it('refuses production without Twilio signature checks unless explicitly disabled', () => {
    expect(() => loadAppConfig({ NODE_ENV: 'production' })).toThrow(/TWILIO_AUTH_TOKEN: required in production.*ALLOW_UNSIGNED_TWILIO_REQUESTS/);
    expect(loadAppConfig({ NODE_ENV: 'production', TWILIO_AUTH_TOKEN: 'abcdefgh12345678' }).NODE_ENV).toBe('production');
    expect(loadAppConfig({ NODE_ENV: 'production', ALLOW_UNSIGNED_TWILIO_REQUESTS: 'true' }).ALLOW_UNSIGNED_TWILIO_REQUESTS).toBe(true);
    expect(() => loadAppConfig({ ALLOW_UNSIGNED_TWILIO_REQUESTS: 'maybe' })).toThrow(/ALLOW_UNSIGNED_TWILIO_REQUESTS/);
  });

  it('validates the observability variables and lists the secrets to keep out of logs', () => {
    const config = loadAppConfig({ OPENAI_API_KEY: 'sk-test-1234567890', METRICS_TOKEN: 'metrics-token-0123456789' });
    expect(config.HEALTH_MAX_EVENT_LOOP_DELAY_MS).toBe(1000);
    expect(config.secrets).toEqual(['sk-test-1234567890', 'metrics-token-0123456789']);
    expect(() => loadAppConfig({ METRICS_TOKEN: 'short-token' })).toThrow(/METRICS_TOKEN/);
    expect(() => loadAppConfig({ METRICS_TOKEN: 'short-token' })).not.toThrow(/short-token/);
    expect(() => loadAppConfig({ HEALTH_MAX_EVENT_LOOP_DELAY_MS: '5' })).toThrow(/HEALTH_MAX_EVENT_LOOP_DELAY_MS/);
    expect(loadAppConfig({ METRICS_TOKEN: '' }).METRICS_TOKEN).toBeUndefined();
  });
});
