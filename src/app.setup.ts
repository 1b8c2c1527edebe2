import { INestApplication, ValidationPipe } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import helmet from 'helmet';
import { AppConfig } from './config/app-config';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppWsAdapter } from './app-ws.adapter';

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
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Voice agent backend')
      .setDescription(
        'Answers Twilio calls and bridges them to the OpenAI Realtime API. WebSockets (not shown): ' +
          '`/ws/call` (Twilio Media Streams), `/ws/logs` (dashboard events, JSON envelope `{v:1,type,callSid,ts,...}`).',
      )
      .setVersion('0.1.0')
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
  return app;
}
