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

describe('DashboardAuth', () => {
  describe('with DASHBOARD_TOKEN', () => {
    const auth = new DashboardAuth(loadAppConfig({ DASHBOARD_TOKEN: TOKEN }));

    it('accepts the token as a Bearer header, or in the query where allowed', () => {
      expect(auth.check(request({ headers: { authorization: `Bearer ${TOKEN}` }, address: '203.0.113.9' }), false)).toBe('ok');
      expect(auth.check(request({ url: `/ws/logs?token=${TOKEN}` }), true)).toBe('ok');
      expect(auth.check(request({ url: `/session-config?token=${TOKEN}` }), false)).toBe('unauthorized');
    });

    it('refuses a missing, wrong, longer or shorter token, even from loopback', () => {
      expect(auth.check(request(), true)).toBe('unauthorized');
      expect(auth.check(request({ headers: { authorization: 'Bearer nope' } }), true)).toBe('unauthorized');
      expect(auth.check(request({ headers: { authorization: `Bearer ${TOKEN}x` } }), true)).toBe('unauthorized');
      expect(auth.check(request({ headers: { authorization: `Bearer ${TOKEN.slice(1)}` } }), true)).toBe('unauthorized');
      expect(auth.check(request({ headers: { authorization: TOKEN } }), true)).toBe('unauthorized');
    });
  });

  describe('without DASHBOARD_TOKEN', () => {
    const auth = new DashboardAuth(loadAppConfig({}));

    it('tells loopback peers (IPv4, IPv6, IPv4-mapped) from others', () => {
      for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(auth.check(request({ address }), true), address).toBe('ok');
      for (const address of ['10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1', '203.0.113.5', '::', '']) {
        expect(auth.check(request({ address }), true), address).toBe('forbidden');
      }
    });

    it('accepts direct loopback connections', () => {
      expect(auth.check(request(), true)).toBe('ok');
      expect(auth.check(request({ address: '::1', headers: { host: '[::1]:8081', origin: 'http://[::1]:8081' } }), true)).toBe('ok');
      expect(auth.check(request({ address: '::ffff:127.0.0.1', headers: { host: 'localhost:8081', origin: 'http://localhost:8081' } }), true)).toBe('ok');
    });

    it.each([
      ['a remote address', { address: '203.0.113.9' }],
      ['a tunnel or proxy on loopback', { headers: { 'x-forwarded-for': '203.0.113.9' } }],
      ['a Forwarded header', { headers: { forwarded: 'for=203.0.113.9' } }],
      ['a foreign Host (DNS rebinding)', { headers: { host: 'evil.example:8081' } }],
      ['a page from another site', { headers: { origin: 'https://evil.example' } }],
      ['no Host at all', { headers: { host: '' } }],
    ])('refuses %s', (_what, opts) => {
      expect(auth.check(request(opts), true)).toBe('forbidden');
    });
  });
});
