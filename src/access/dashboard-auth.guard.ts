import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DashboardAuth } from './dashboard-auth.service';

/** What a refused client is told: the cause and where the token comes from (never the token). */
export const DASHBOARD_TOKEN_HINT =
  'Missing or invalid dashboard token: send "Authorization: Bearer <token>" with DASHBOARD_TOKEN, ' +
  'or, when DASHBOARD_TOKEN is not set, the token the server printed to its terminal at start';

/** The dashboard's HTTP endpoints: the token in `Authorization: Bearer`, from anywhere, loopback included. */
@Injectable()
export class DashboardAuthGuard implements CanActivate {
  constructor(private readonly auth: DashboardAuth) {}

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    if (this.auth.check(http.getRequest<Request>(), false)) return true;
    http.getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer');
    throw new UnauthorizedException(DASHBOARD_TOKEN_HINT);
  }
}

/** Details endpoints (/health, /tools, /public-url): open in development, the dashboard token in production. */
@Injectable()
export class DetailsGuard implements CanActivate {
  constructor(private readonly auth: DashboardAuth) {}

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    if (this.auth.mayReadDetails(http.getRequest<Request>())) return true;
    http.getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer');
    throw new UnauthorizedException(`${DASHBOARD_TOKEN_HINT} (production serves details to the operator only)`);
  }
}
