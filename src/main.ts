import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { setupApp } from './app.setup';
import { AppConfig, ConfigValidationError, loadAppConfig } from './config/app-config';

async function bootstrap(): Promise<void> {
  // Validate first (AppModule's import has already loaded any .env) so a bad variable gets one clear message.
  loadAppConfig(process.env);
  // Start-up lines are held until setupApp() installs the JSON logger (LOG_LEVEL applies there).
  const app = await NestFactory.create(AppModule, { bufferLogs: true, abortOnError: false });
  setupApp(app);
  const config = app.get(AppConfig);
  await app.listen(config.PORT);
  const logger = new Logger('Bootstrap');
  const url = await app.getUrl();
  logger.log(`listening on ${url} — Swagger UI at ${url}/docs`);
  if (config.missingForCalls.length > 0) logger.warn(`not ready to take calls: set ${config.missingForCalls.join(', ')}`);
  else logger.log(`Twilio voice webhook: POST ${config.publicUrl('/twiml')}`);
  if (!config.TWILIO_AUTH_TOKEN) logger.warn('TWILIO_AUTH_TOKEN is not set: webhook and stream signatures are NOT checked');
}

bootstrap().catch((err: unknown) => {
  if (err instanceof ConfigValidationError) console.error(err.message);
  else console.error(err);
  process.exit(1);
});
