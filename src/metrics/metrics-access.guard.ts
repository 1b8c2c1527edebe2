import { CanActivate, ExecutionContext, ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AppConfig } from '../config/app-config';
import { bearerToken, isDirectLoopback, tokensMatch } from '../logs-gateway/dashboard-auth.service';

/**
 * Who may scrape /metrics. With METRICS_TOKEN set: whoever sends `Authorization: Bearer <token>`
 * (401 otherwise). Without it: only a direct connection from this machine (loopback, no proxy
 * forwarding headers, loopback Host), so a local reverse proxy does not open it to the internet; 403 otherwise.
 */
@Injectable()
export class MetricsAccessGuard implements CanActivate {
  constructor(private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    const token = this.config.METRICS_TOKEN;
    if (token) {
      const presented = bearerToken(req.headers.authorization);
      if (presented !== undefined && tokensMatch(presented, token)) return true;
      context.switchToHttp().getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
      throw new UnauthorizedException('A valid Authorization: Bearer token is required');
    }
    // The same rule as the dashboard's: this machine, directly (no proxy or tunnel in between).
    if (isDirectLoopback(req)) return true;
    throw new ForbiddenException('Metrics are served to loopback only; set METRICS_TOKEN to scrape from elsewhere');
  }
}
