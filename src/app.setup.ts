import { INestApplication, ValidationPipe } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppWsAdapter } from './app-ws.adapter';

/** Everything main.ts does to the app besides listening, shared with the end-to-end tests. */
export function setupApp(app: INestApplication): INestApplication {
  app.useWebSocketAdapter(new AppWsAdapter(app));
  app.useGlobalPipes(new ValidationPipe({ transform: true, forbidUnknownValues: false }));
  app.enableShutdownHooks();
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
