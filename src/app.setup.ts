import { type INestApplication, ValidationPipe } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import helmet from 'helmet';
import { AppConfig } from './config/app-config';
import { SwaggerModule } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from 'nestjs-pino';
import type { Server } from 'node:http';
import { AppWsAdapter } from './app-ws.adapter';
import { docsAccess } from './access/docs-access.middleware';
import { DashboardAuth } from './access/dashboard-auth.service';
import { TwilioWebhookGate } from './twiml/twilio-webhook.gate';
import { apiDescription } from './api-description';

/** The dashboard page: plain files, no build step. Two levels up from both src/ and dist/. */
export const DASHBOARD_DIR = join(__dirname, '..', 'public', 'dashboard');

/**
 * The AsyncAPI document of the WebSockets, generated from the message types (npm run docs:asyncapi).
 * Read on request, not at start: a deployment without docs/ loses the document, not its calls.
 */
export const ASYNCAPI_FILE = join(__dirname, '..', 'docs', 'asyncapi.json');

/** The page may talk to its own origin only (API and socket); nothing is loaded from elsewhere. */
const DASHBOARD_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

/** Everything main.ts does to the app besides listening, shared with the end-to-end tests. */
export function setupApp(app: INestApplication): INestApplication {
  // Every Nest log line (and the buffered start-up lines) becomes structured JSON through pino.
  app.useLogger(app.get(Logger));
  const config = app.get(AppConfig);
  const http = app as NestExpressApplication;
  app.useWebSocketAdapter(new AppWsAdapter(app));
  app.useGlobalPipes(new ValidationPipe({ transform: true, forbidUnknownValues: false }));
  limitConnections(app.getHttpServer() as Server, config);
  http.disable('x-powered-by');
  app.use(helmet());
  // Before the body parsers, which Express runs in the order they were added: an unsigned or
  // non-form webhook is refused without reading its body.
  app.use('/twiml', app.get(TwilioWebhookGate).handle);
  // Twilio's webhook bodies are a few hundred bytes; nothing here needs large bodies.
  http.useBodyParser('urlencoded', { limit: '64kb', extended: false });
  http.useBodyParser('json', { limit: '64kb' });
  // The body parser's own 413 says only "request entity too large": say what the limit is and why.
  app.use((err: { type?: string; limit?: number }, _req: Request, res: Response, next: (err?: unknown) => void) => {
    if (err?.type !== 'entity.too.large') return next(err);
    res.status(413).json({
      statusCode: 413,
      error: 'Payload Too Large',
      message: `The request body is over ${Math.round((err.limit ?? 0) / 1024)} KB: Twilio's webhooks and the agent configuration are a few KB; send less`,
    });
  });
  if (config.corsOrigins.length > 0) app.enableCors({ origin: config.corsOrigins, methods: ['GET', 'PUT', 'POST', 'DELETE'] });
  http.useStaticAssets(DASHBOARD_DIR, {
    prefix: '/dashboard',
    index: 'index.html',
    // After helmet: the page gets its own, stricter policy (and none of helmet's upgrade-insecure-requests,
    // which would turn the page's ws:// socket into wss:// on a plain-HTTP localhost).
    setHeaders: (res: Response) => {
      for (const [name, value] of Object.entries(DASHBOARD_HEADERS)) res.setHeader(name, value);
    },
  });
  // /docs/asyncapi.json is under /docs: the same access rule covers it.
  app.use(['/docs', '/docs-json', '/docs-yaml'], docsAccess(app.get(DashboardAuth)));
  http.getHttpAdapter().getInstance().get('/docs/asyncapi.json', serveAsyncApi);
  SwaggerModule.setup('docs', app, SwaggerModule.createDocument(app, apiDescription()));
  return app;
}

function serveAsyncApi(_req: Request, res: Response): void {
  let document: string;
  try {
    document = readFileSync(ASYNCAPI_FILE, 'utf8');
  } catch {
    res.status(404).json({ statusCode: 404, error: 'Not Found', message: 'docs/asyncapi.json is not deployed with this server' });
    return;
  }
  res.type('application/json').send(document);
}

/**
 * Webhooks are small and quick; a client that dribbles its headers or body holds a connection
 * (and, past the cap, a slot) for nothing. Node only checks request deadlines every
 * connectionsCheckingInterval (30 s by default), so that is tightened too. Upgraded WebSockets
 * (calls, dashboards) leave the HTTP parser and these deadlines behind, but stay counted by
 * maxConnections, hence a default well above MAX_CONCURRENT_CALLS.
 */
export function limitConnections(server: Server, config: AppConfig): void {
  const requestMs = config.HTTP_REQUEST_TIMEOUT_MS;
  server.requestTimeout = requestMs;
  server.headersTimeout = Math.min(requestMs, 5_000);
  server.keepAliveTimeout = 5_000;
  server.maxConnections = config.maxConnections;
  // Read when the server starts listening.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.min(1_000, requestMs / 2);
}
