import { CanActivate, ExecutionContext, ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DashboardAuth } from './dashboard-auth.service';

/** The dashboard's HTTP endpoints: same rule as the socket, token in `Authorization: Bearer` only. */
@Injectable()
export class DashboardAuthGuard implements CanActivate {
  constructor(private readonly auth: DashboardAuth) {}

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const access = this.auth.check(http.getRequest<Request>(), false);
    if (access === 'ok') return true;
    if (access === 'forbidden') throw new ForbiddenException('DASHBOARD_TOKEN is not set: the dashboard accepts direct loopback connections only');
    http.getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer');
    throw new UnauthorizedException('Missing or invalid dashboard token');
  }
}
