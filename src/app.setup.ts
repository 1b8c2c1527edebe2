import { type INestApplication, ValidationPipe } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import helmet from 'helmet';
import { AppConfig } from './config/app-config';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Response } from 'express';
import { join } from 'node:path';
import { Logger } from 'nestjs-pino';
import { AppWsAdapter } from './app-ws.adapter';

/** The dashboard page: plain files, no build step. Two levels up from both src/ and dist/. */
export const DASHBOARD_DIR = join(__dirname, '..', 'public', 'dashboard');

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
  // Twilio's webhook bodies are a few hundred bytes; nothing here needs large bodies.
  http.useBodyParser('urlencoded', { limit: '64kb', extended: false });
  http.useBodyParser('json', { limit: '64kb' });
  http.disable('x-powered-by');
  app.use(helmet());
  if (config.corsOrigins.length > 0) app.enableCors({ origin: config.corsOrigins, methods: ['GET', 'PUT', 'POST'] });
  http.useStaticAssets(DASHBOARD_DIR, {
    prefix: '/dashboard',
    index: 'index.html',
    // After helmet: the page gets its own, stricter policy (and none of helmet's upgrade-insecure-requests,
    // which would turn the page's ws:// socket into wss:// on a plain-HTTP localhost).
    setHeaders: (res: Response) => {
      for (const [name, value] of Object.entries(DASHBOARD_HEADERS)) res.setHeader(name, value);
    },
  });
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Voice agent backend')
      .setDescription(
        'Answers Twilio calls and bridges them to the OpenAI Realtime API. WebSockets (not shown): ' +
          '`/ws/call` (Twilio Media Streams), `/ws/logs` (dashboard: events as `{v:1,type,callSid,ts,...}`, commands; see the README). ' +
          'The operator page is at `/dashboard`.',
      )
      .setVersion('0.1.0')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'DASHBOARD_TOKEN (dashboard endpoints only)' })
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
  return app;
}
