import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { loadAppConfig } from '../config/app-config';
import { DashboardAuth } from './dashboard-auth.service';

const TOKEN = 'dash-token-0123456789';

function request(opts: { address?: string; headers?: Record<string, string>; url?: string } = {}): IncomingMessage {
  return {
    socket: { remoteAddress: opts.address ?? '127.0.0.1' },
    headers: { host: '127.0.0.1:8081', ...opts.headers },
    url: opts.url ?? '/ws/logs',
  } as unknown as IncomingMessage;
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('DashboardAuth', () => {
  describe('with DASHBOARD_TOKEN', () => {
    const auth = new DashboardAuth(loadAppConfig({ DASHBOARD_TOKEN: TOKEN }));

    it('accepts the token as a Bearer header, or in the query where allowed', () => {
      expect(auth.check(request({ headers: { authorization: `Bearer ${TOKEN}` }, address: '203.0.113.9' }), false)).toBe(true);
      expect(auth.check(request({ url: `/ws/logs?token=${TOKEN}` }), true)).toBe(true);
      expect(auth.check(request({ url: `/session-config?token=${TOKEN}` }), false)).toBe(false);
    });

    it('refuses a missing, wrong, longer or shorter token, even from loopback', () => {
      expect(auth.check(request(), true)).toBe(false);
      expect(auth.check(request({ headers: { authorization: 'Bearer nope' } }), true)).toBe(false);
      expect(auth.check(request({ headers: { authorization: `Bearer ${TOKEN}x` } }), true)).toBe(false);
      expect(auth.check(request({ headers: { authorization: `Bearer ${TOKEN.slice(1)}` } }), true)).toBe(false);
      expect(auth.check(request({ headers: { authorization: TOKEN } }), true)).toBe(false);
    });

    it('takes the token as a Basic password only where asked (pages a browser navigates to)', () => {
      expect(auth.checkBasic(request({ headers: { authorization: basic('anyone', TOKEN) } }))).toBe(true);
      expect(auth.checkBasic(request({ headers: { authorization: basic(TOKEN, 'x') } }))).toBe(false);
      expect(auth.checkBasic(request({ headers: { authorization: `Basic ${TOKEN}` } }))).toBe(false);
      expect(auth.check(request({ headers: { authorization: basic('anyone', TOKEN) } }), true)).toBe(false);
    });
  });

  describe('without DASHBOARD_TOKEN', () => {
    const config = loadAppConfig({});
    const auth = new DashboardAuth(config);

    it('generates a long random token per run and requires it', () => {
      expect(config.dashboardTokenGenerated).toBe(true);
      expect(config.dashboardToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(loadAppConfig({}).dashboardToken).not.toBe(config.dashboardToken);
      expect(auth.check(request({ headers: { authorization: `Bearer ${config.dashboardToken}` }, address: '203.0.113.9' }), false)).toBe(true);
    });

    it.each([
      ['a direct loopback connection', {}],
      ['IPv6 loopback with a loopback Host', { address: '::1', headers: { host: '[::1]:8081', origin: 'http://[::1]:8081' } }],
      ['a TCP forwarder that sends Host: localhost', { headers: { host: 'localhost:8081' } }],
      ['a reverse proxy that rewrites Host and adds no forwarding header', { headers: { host: '127.0.0.1:8081' } }],
    ])('refuses %s without the token', (_what, opts) => {
      expect(auth.check(request(opts), true)).toBe(false);
    });
  });

  it('serves details openly in development and to the token holder only in production', () => {
    const dev = new DashboardAuth(loadAppConfig({ DASHBOARD_TOKEN: TOKEN }));
    expect(dev.mayReadDetails(request())).toBe(true);
    const prod = new DashboardAuth(loadAppConfig({ NODE_ENV: 'production', DASHBOARD_TOKEN: TOKEN, TWILIO_AUTH_TOKEN: 'twilio-token-123456' }));
    expect(prod.mayReadDetails(request())).toBe(false);
    expect(prod.mayReadDetails(request({ headers: { authorization: `Bearer ${TOKEN}` } }))).toBe(true);
  });
});
