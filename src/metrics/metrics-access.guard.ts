import { CanActivate, ExecutionContext, ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../config/app-config';

/** Headers a reverse proxy adds: a request carrying one came from elsewhere, whatever the socket says. */
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'];

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
  return ip === '::1' || /^127(\.\d{1,3}){3}$/.test(ip);
}

/** Constant-time comparison (the digests have equal length whatever the inputs). */
export function tokensMatch(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Who may scrape /metrics. With METRICS_TOKEN set: whoever sends `Authorization: Bearer <token>`
 * (401 otherwise). Without it: only a direct connection from this machine (loopback, and no proxy
 * forwarding headers, so a local reverse proxy does not open it to the internet); 403 otherwise.
 */
@Injectable()
export class MetricsAccessGuard implements CanActivate {
  constructor(private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    const token = this.config.METRICS_TOKEN;
    if (token) {
      const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
      if (match && tokensMatch(match[1].trim(), token)) return true;
      context.switchToHttp().getResponse().setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
      throw new UnauthorizedException('A valid Authorization: Bearer token is required');
    }
    const proxied = FORWARDING_HEADERS.some((name) => req.headers[name] !== undefined);
    if (!proxied && isLoopback(req.socket.remoteAddress)) return true;
    throw new ForbiddenException('Metrics are served to loopback only; set METRICS_TOKEN to scrape from elsewhere');
  }
}
