import type { NextFunction, Request, Response } from 'express';
import { DASHBOARD_TOKEN_HINT } from './dashboard-auth.guard';
import type { DashboardAuth } from './dashboard-auth.service';

/**
 * The API description (Swagger UI at /docs, /docs-json, /docs-yaml) is served by an Express route,
 * outside Nest's guards: this middleware applies the details rule to it (open in development, the
 * dashboard token in production). A browser opening /docs gets its own sign-in prompt (Basic; any
 * user name, the token as the password); tools send the Bearer header.
 */
export function docsAccess(auth: DashboardAuth) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (auth.mayReadDetails(req) || auth.checkBasic(req)) return next();
    res.setHeader('WWW-Authenticate', 'Basic realm="API docs: any user name, the dashboard token as the password", charset="UTF-8"');
    res.status(401).json({ statusCode: 401, error: 'Unauthorized', message: `${DASHBOARD_TOKEN_HINT} (a browser asks for it as the password)` });
  };
}
