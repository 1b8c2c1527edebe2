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
    const config = loadAppConfig({ PUBLIC_URL: 'https://abc.example.com/', OPENAI_API_KEY: 'sk-test-1234567890', TWILIO_AUTH_TOKEN: 'abcdefgh12345678' });
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
    // PUBLIC_URL and OPENAI_API_KEY are set (if wrong): the server is meant to take calls, so signatures are required too.
    for (const name of ['PORT', 'OPENAI_VOICE', 'PUBLIC_URL', 'OPENAI_API_KEY', 'MAX_CONCURRENT_CALLS', 'TWILIO_AUTH_TOKEN']) expect(message).toContain(name);
    expect(message).not.toContain('short');
    expect(message).toContain('6 variables');
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
    // The dashboard token (generated here) is a secret too.
    expect(config.secrets).toEqual(['sk-test-1234567890', 'metrics-token-0123456789', config.dashboardToken]);
    expect(() => loadAppConfig({ METRICS_TOKEN: 'short-token' })).toThrow(/METRICS_TOKEN/);
    expect(() => loadAppConfig({ METRICS_TOKEN: 'short-token' })).not.toThrow(/short-token/);
    expect(() => loadAppConfig({ HEALTH_MAX_EVENT_LOOP_DELAY_MS: '5' })).toThrow(/HEALTH_MAX_EVENT_LOOP_DELAY_MS/);
    expect(loadAppConfig({ METRICS_TOKEN: '' }).METRICS_TOKEN).toBeUndefined();
  });
});

describe('loadAppConfig: what can take real calls must be safe', () => {
  const CALLS = { PUBLIC_URL: 'https://abc.example.com', OPENAI_API_KEY: 'sk-test-1234567890' };

  it('requires TWILIO_AUTH_TOKEN whenever PUBLIC_URL and OPENAI_API_KEY are set, whatever NODE_ENV says', () => {
    for (const NODE_ENV of ['development', 'test', 'production']) {
      expect(() => loadAppConfig({ ...CALLS, NODE_ENV }), NODE_ENV).toThrow(
        /TWILIO_AUTH_TOKEN: required when PUBLIC_URL and OPENAI_API_KEY are set.*Twilio auth token.*ALLOW_UNSIGNED_TWILIO_REQUESTS=true/,
      );
    }
    expect(loadAppConfig({ ...CALLS, TWILIO_AUTH_TOKEN: 'abcdefgh12345678' }).warnings).toEqual([]);
    // Not configured to take calls: nothing to protect yet (a newcomer can start it and look around).
    expect(() => loadAppConfig({ PUBLIC_URL: CALLS.PUBLIC_URL })).not.toThrow();
  });

  it('runs unsigned only when told to, and then says so loudly', () => {
    const config = loadAppConfig({ ...CALLS, ALLOW_UNSIGNED_TWILIO_REQUESTS: 'true' });
    expect(config.signaturesRequired).toBe(false);
    expect(config.warnings).toEqual([expect.stringMatching(/Twilio signatures are NOT checked.*set TWILIO_AUTH_TOKEN/)]);
  });

  it('refuses insecure settings in production, all named in one message', () => {
    let message = '';
    try {
      loadAppConfig({
        NODE_ENV: 'production',
        PUBLIC_URL: 'http://abc.example.com',
        OPENAI_API_KEY: 'sk-test-1234567890',
        TWILIO_AUTH_TOKEN: 'abcdefgh12345678',
        OPENAI_REALTIME_URL: 'ws://realtime-proxy.internal:8080/v1/realtime',
        ALLOW_UNRESERVED_STREAMS: 'true',
        PORT: 'eighty',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('4 variables');
    expect(message).toMatch(/PORT: /);
    expect(message).toMatch(/PUBLIC_URL: must be https:\/\/ in production \(Twilio refuses ws:\/\/ stream URLs, error 31922\)/);
    expect(message).toMatch(/OPENAI_REALTIME_URL: must be wss:\/\/ in production \(ws:\/\/ sends the OpenAI key in cleartext\)/);
    expect(message).toMatch(/ALLOW_UNRESERVED_STREAMS: not allowed in production/);
    expect(message).not.toContain('realtime-proxy.internal');
  });

  it('allows cleartext to this machine only (the offline demo, the emulator, a local proxy)', () => {
    const config = loadAppConfig({
      NODE_ENV: 'production',
      PUBLIC_URL: 'http://127.0.0.1:8081',
      OPENAI_API_KEY: 'sk-test-1234567890',
      TWILIO_AUTH_TOKEN: 'abcdefgh12345678',
      OPENAI_REALTIME_URL: 'ws://localhost:9000/v1/realtime',
    });
    expect(config.warnings).toEqual([]);
  });

  it('warns outside production about an http PUBLIC_URL and a ws:// model URL, naming the fix', () => {
    const config = loadAppConfig({ PUBLIC_URL: 'http://abc.ngrok.app', OPENAI_REALTIME_URL: 'ws://proxy.example.com/v1/realtime' });
    expect(config.warnings).toEqual([
      expect.stringMatching(/PUBLIC_URL is http:\/\/: Twilio refuses the ws:\/\/ stream URL.*31922.*use the https:\/\/ address/),
      expect.stringMatching(/OPENAI_REALTIME_URL is ws:\/\/ to another machine.*use wss:\/\//),
    ]);
  });

  it('says what a model URL must look like', () => {
    expect(() => loadAppConfig({ OPENAI_REALTIME_URL: 'https://api.openai.com/v1/realtime' })).toThrow(/OPENAI_REALTIME_URL: must be ws:\/\/ or wss:\/\//);
  });

  it('bounds connections above the call capacity', () => {
    expect(loadAppConfig({ MAX_CONCURRENT_CALLS: '50' }).maxConnections).toBe(200);
    expect(loadAppConfig({ HTTP_MAX_CONNECTIONS: '500' }).maxConnections).toBe(500);
    expect(() => loadAppConfig({ MAX_CONCURRENT_CALLS: '50', HTTP_MAX_CONNECTIONS: '40' })).toThrow(/HTTP_MAX_CONNECTIONS: must be above MAX_CONCURRENT_CALLS/);
  });

  it('chooses the voice engine (Realtime by default) and validates the GPT-Live settings', () => {
    const defaults = loadAppConfig({});
    expect(defaults).toMatchObject({
      VOICE_ENGINE: 'realtime',
      OPENAI_LIVE_URL: 'wss://api.openai.com/v1/live/sessions',
      OPENAI_LIVE_MODEL: 'gpt-live-1.1',
      LIVE_DELEGATION: 'responses',
      LIVE_RESPONSES_MODEL: 'gpt-5.4-mini',
    });
    expect(defaults.LIVE_REASONING_EFFORT).toBeUndefined();
    const live = loadAppConfig({ VOICE_ENGINE: 'live', LIVE_DELEGATION: 'client', LIVE_REASONING_EFFORT: 'low', OPENAI_LIVE_MODEL: 'gpt-live-1' });
    expect(live).toMatchObject({ VOICE_ENGINE: 'live', LIVE_DELEGATION: 'client', LIVE_REASONING_EFFORT: 'low', OPENAI_LIVE_MODEL: 'gpt-live-1' });
    // Client delegation works, but without tools: said at start, on /health and GET /.
    expect(live.warnings).toEqual([expect.stringMatching(/LIVE_DELEGATION=client: GPT-Live calls run none of the registered tools/)]);
    let message = '';
    try {
      loadAppConfig({
        VOICE_ENGINE: 'gemini',
        LIVE_DELEGATION: 'decisions',
        LIVE_REASONING_EFFORT: 'extreme',
        OPENAI_LIVE_URL: 'https://api.openai.com/v1/live/sessions',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    for (const name of ['VOICE_ENGINE', 'LIVE_DELEGATION', 'LIVE_REASONING_EFFORT', 'OPENAI_LIVE_URL: must be ws:// or wss://'])
      expect(message).toContain(name);
    expect(message).toContain('4 variables');
    // GPT-Live takes the model in session.start: a query string is a mistake (and the service rejects it).
    expect(() => loadAppConfig({ OPENAI_LIVE_URL: 'wss://api.openai.com/v1/live/sessions?model=gpt-live-1' })).toThrow(
      /OPENAI_LIVE_URL: must have no query string/,
    );
  });

  it('refuses a cleartext GPT-Live URL to another machine in production, warns outside it', () => {
    const base = { PUBLIC_URL: 'https://voice.example.com', OPENAI_API_KEY: 'sk-test-1234567890', TWILIO_AUTH_TOKEN: 'abcdefgh12345678' };
    expect(() => loadAppConfig({ ...base, NODE_ENV: 'production', OPENAI_LIVE_URL: 'ws://proxy.example.com/v1/live/sessions' })).toThrow(
      /OPENAI_LIVE_URL: must be wss:\/\/ in production/,
    );
    expect(loadAppConfig({ ...base, NODE_ENV: 'production', OPENAI_LIVE_URL: 'ws://127.0.0.1:9000/v1/live/sessions' }).warnings).toEqual([]);
    expect(loadAppConfig({ ...base, OPENAI_LIVE_URL: 'ws://proxy.example.com/v1/live/sessions' }).warnings).toEqual([
      expect.stringMatching(/OPENAI_LIVE_URL is ws:\/\/ to another machine/),
    ]);
  });
});
