import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { setupApp } from './app.setup';
import { AppConfig, ConfigValidationError, loadAppConfig } from './config/app-config';

async function bootstrap(): Promise<void> {
  // Validate first (AppModule's import has already loaded any .env) so a bad variable gets one clear message.
  const levels = logLevels(loadAppConfig(process.env).LOG_LEVEL);
  const app = await NestFactory.create(AppModule, { logger: levels, abortOnError: false });
  setupApp(app);
  const config = app.get(AppConfig);
  await app.listen(config.PORT);
  const logger = new Logger('Bootstrap');
  const url = await app.getUrl();
  logger.log(`listening on ${url} — Swagger UI at ${url}/docs`);
  if (config.missingForCalls.length > 0) logger.warn(`not ready to take calls: set ${config.missingForCalls.join(', ')}`);
  else logger.log(`Twilio voice webhook: POST ${config.publicUrl('/twiml')}`);
  if (!config.TWILIO_AUTH_TOKEN) logger.warn('TWILIO_AUTH_TOKEN is not set: webhook and stream signatures are NOT checked');
  logger.log(`dashboard: ${url}/dashboard`);
  if (!config.DASHBOARD_TOKEN) {
    logger.log('DASHBOARD_TOKEN is not set: the dashboard (/ws/logs, /session-config) accepts direct loopback connections only');
  }
}

const LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
function logLevels(level: string): (typeof LEVELS)[number][] {
  const index = LEVELS.indexOf((level === 'info' ? 'log' : level) as (typeof LEVELS)[number]);
  return LEVELS.slice(0, index + 1);
}

bootstrap().catch((err: unknown) => {
  if (err instanceof ConfigValidationError) console.error(err.message);
  else console.error(err);
  process.exit(1);
});
