import { Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AppConfig } from '../config/app-config';

/**
 * Who may operate the server: whoever presents the dashboard token (DASHBOARD_TOKEN, or the one
 * generated for this run). Never where a request comes from: behind a tunnel, a TCP forwarder or a
 * reverse proxy every request arrives from loopback, with whatever Host the client chose.
 */
@Injectable()
export class DashboardAuth {
  private readonly tokenDigest: Buffer;

  constructor(private readonly config: AppConfig) {
    this.tokenDigest = digest(config.dashboardToken);
  }

  /**
   * `allowQueryToken`: a browser cannot set headers on a WebSocket upgrade, so the socket also
   * accepts `?token=`; HTTP requests must use `Authorization: Bearer` (URLs end up in logs and histories).
   */
  check(req: IncomingMessage, allowQueryToken: boolean): boolean {
    const presented = bearerToken(req.headers.authorization) ?? (allowQueryToken ? queryToken(req.url) : undefined);
    // Digests have equal length whatever was presented, so the comparison time says nothing about the token.
    return presented !== undefined && timingSafeEqual(digest(presented), this.tokenDigest);
  }

  /**
   * Pages a browser opens by navigation (Swagger UI) cannot send a Bearer header: there the
   * browser's own Basic prompt carries the token as the password (any user name).
   */
  checkBasic(req: IncomingMessage): boolean {
    const password = basicPassword(req.headers.authorization);
    return password !== undefined && timingSafeEqual(digest(password), this.tokenDigest);
  }

  /**
   * Details (health details, API docs, tool schemas, public URLs, status counts) help an attacker
   * as much as an operator: in production they need the token; in development they are open.
   */
  mayReadDetails(req: IncomingMessage): boolean {
    return !this.config.production || this.check(req, false);
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time comparison of a presented token with the expected one (equal-length digests). */
export function tokensMatch(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

function basicPassword(header: string | undefined): string | undefined {
  const match = header?.match(/^Basic\s+([A-Za-z0-9+/=]+)\s*$/i);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

function queryToken(url: string | undefined): string | undefined {
  if (!url) return undefined;
  return new URL(url, 'http://localhost').searchParams.get('token') ?? undefined;
}
