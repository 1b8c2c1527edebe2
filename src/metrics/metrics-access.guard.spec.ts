import { UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { loadAppConfig } from '../config/app-config';
import { tokensMatch } from '../access/dashboard-auth.service';
import { MetricsAccessGuard } from './metrics-access.guard';

function context(remoteAddress: string, headers: Record<string, string> = {}): ExecutionContext {
  const responseHeaders: Record<string, string> = {};
  const req = { headers: { host: '127.0.0.1:8081', ...headers }, socket: { remoteAddress } };
  const res = { setHeader: (name: string, value: string) => (responseHeaders[name] = value) };
  return { switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }) } as unknown as ExecutionContext;
}

describe('MetricsAccessGuard', () => {
  it('without METRICS_TOKEN: requires the dashboard token (generated or set), loopback included', () => {
    const config = loadAppConfig({});
    const guard = new MetricsAccessGuard(config);
    expect(guard.canActivate(context('203.0.113.5', { authorization: `Bearer ${config.dashboardToken}` }))).toBe(true);
    // Where a request comes from proves nothing: a tunnel or forwarder on this machine relays remote clients from loopback.
    expect(() => guard.canActivate(context('127.0.0.1'))).toThrow(UnauthorizedException);
    expect(() => guard.canActivate(context('::1', { host: 'localhost:8081' }))).toThrow(UnauthorizedException);
    expect(() => guard.canActivate(context('127.0.0.1', { authorization: 'Bearer not-the-token' }))).toThrow(UnauthorizedException);
  });

  it('with METRICS_TOKEN: requires the Bearer token from anywhere, loopback included', () => {
    const token = 'a-metrics-token-of-some-length';
    const guard = new MetricsAccessGuard(loadAppConfig({ METRICS_TOKEN: token }));
    expect(guard.canActivate(context('203.0.113.5', { authorization: `Bearer ${token}` }))).toBe(true);
    expect(guard.canActivate(context('10.0.0.1', { authorization: `bearer  ${token}` }))).toBe(true);
    expect(() => guard.canActivate(context('127.0.0.1'))).toThrow(UnauthorizedException);
    expect(() => guard.canActivate(context('127.0.0.1', { authorization: `Bearer ${token}x` }))).toThrow(UnauthorizedException);
  });

  it('compares tokens of any lengths without throwing', () => {
    expect(tokensMatch('abc', 'abc')).toBe(true);
    expect(tokensMatch('abc', 'abcd')).toBe(false);
    expect(tokensMatch('', 'abcd')).toBe(false);
  });
});
