import { ForbiddenException, UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { loadAppConfig } from '../config/app-config';
import { tokensMatch } from '../logs-gateway/dashboard-auth.service';
import { MetricsAccessGuard } from './metrics-access.guard';

function context(remoteAddress: string, headers: Record<string, string> = {}): ExecutionContext {
  const responseHeaders: Record<string, string> = {};
  const req = { headers: { host: '127.0.0.1:8081', ...headers }, socket: { remoteAddress } };
  const res = { setHeader: (name: string, value: string) => (responseHeaders[name] = value) };
  return { switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }) } as unknown as ExecutionContext;
}

describe('MetricsAccessGuard', () => {
  it('without METRICS_TOKEN: allows direct loopback, forbids remote and proxied requests', () => {
    const guard = new MetricsAccessGuard(loadAppConfig({}));
    expect(guard.canActivate(context('127.0.0.1'))).toBe(true);
    expect(guard.canActivate(context('::1'))).toBe(true);
    expect(() => guard.canActivate(context('203.0.113.5'))).toThrow(ForbiddenException);
    expect(() => guard.canActivate(context('127.0.0.1', { 'x-forwarded-for': '203.0.113.5' }))).toThrow(ForbiddenException);
    // A tunnel on this machine relays a remote client with its own Host name.
    expect(() => guard.canActivate(context('127.0.0.1', { host: 'abc.ngrok.app' }))).toThrow(ForbiddenException);
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
