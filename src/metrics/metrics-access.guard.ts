import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { bearerToken, tokensMatch } from '../access/dashboard-auth.service';
import { AppConfig } from '../config/app-config';

/**
 * Who may scrape /metrics: whoever sends `Authorization: Bearer <METRICS_TOKEN>`, or the dashboard
 * token when METRICS_TOKEN is unset (401 otherwise), from anywhere: a peer address says nothing
 * behind a tunnel or proxy.
 */
@Injectable()
export class MetricsAccessGuard implements CanActivate {
  constructor(private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    const presented = bearerToken(req.headers.authorization);
    if (presented !== undefined && tokensMatch(presented, this.config.metricsToken)) return true;
    context.switchToHttp().getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
    const which = this.config.METRICS_TOKEN ? 'METRICS_TOKEN' : 'the dashboard token (METRICS_TOKEN is not set)';
    throw new UnauthorizedException(`A valid "Authorization: Bearer <token>" is required: ${which}`);
  }
}
