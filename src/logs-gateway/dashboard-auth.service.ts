import { Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AppConfig } from '../config/app-config';

/** ok; unauthorized = no or wrong token (401); forbidden = not loopback and no token configured (403). */
export type DashboardAccess = 'ok' | 'unauthorized' | 'forbidden';

// Set by reverse proxies and tunnels (ngrok, cloudflared) that connect from loopback on a remote client's behalf.
const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip', 'cf-connecting-ip', 'true-client-ip'];

/**
 * Who may use the dashboard (`/ws/logs`, `/session-config`). With DASHBOARD_TOKEN set: whoever
 * presents it. Without: only a browser or tool on this machine, talking to it directly.
 */
@Injectable()
export class DashboardAuth {
  private readonly tokenDigest: Buffer | null;

  constructor(config: AppConfig) {
    this.tokenDigest = config.DASHBOARD_TOKEN ? digest(config.DASHBOARD_TOKEN) : null;
  }

  get requiresToken(): boolean {
    return this.tokenDigest !== null;
  }

  /**
   * `allowQueryToken`: a browser cannot set headers on a WebSocket upgrade, so the socket also
   * accepts `?token=`; HTTP requests must use `Authorization: Bearer`.
   */
  check(req: IncomingMessage, allowQueryToken: boolean): DashboardAccess {
    if (!this.tokenDigest) return isDirectLoopback(req) ? 'ok' : 'forbidden';
    const presented = bearerToken(req.headers.authorization) ?? (allowQueryToken ? queryToken(req.url) : undefined);
    if (presented === undefined) return 'unauthorized';
    // Digests have equal length whatever was presented, so the comparison time says nothing about the token.
    return timingSafeEqual(digest(presented), this.tokenDigest) ? 'ok' : 'unauthorized';
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

function queryToken(url: string | undefined): string | undefined {
  if (!url) return undefined;
  return new URL(url, 'http://localhost').searchParams.get('token') ?? undefined;
}

/**
 * A loopback peer is not enough: a local tunnel or proxy relays remote clients from loopback
 * (hence the proxy headers), and a web page on another site can reach localhost from the
 * operator's browser (hence Host and Origin, which also defeat DNS rebinding).
 */
export function isDirectLoopback(req: IncomingMessage): boolean {
  if (!isLoopbackAddress(req.socket.remoteAddress)) return false;
  if (PROXY_HEADERS.some((name) => req.headers[name] !== undefined)) return false;
  if (!isLoopbackHostname(hostnameOf(req.headers.host ? `http://${req.headers.host}` : undefined))) return false;
  const origin = req.headers.origin;
  return origin === undefined || isLoopbackHostname(hostnameOf(origin));
}

function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

function isLoopbackHostname(hostname: string | undefined): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || (hostname !== undefined && /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname));
}

function hostnameOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}
