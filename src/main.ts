import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { setupApp } from './app.setup';
import { CallRegistry } from './call-gateway/call-registry.service';
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
  logger.log(`dashboard: ${url}/dashboard`);
  if (!config.DASHBOARD_TOKEN) {
    logger.log('DASHBOARD_TOKEN is not set: the dashboard (/ws/logs, /session-config) accepts direct loopback connections only');
  }

  // Graceful shutdown: stop taking calls, let live ones finish (up to DRAIN_TIMEOUT_S), exit 0.
  // A second signal skips the wait.
  const registry = app.get(CallRegistry);
  let draining: Promise<void> | null = null;
  const shutdown = (signal: string) => {
    if (draining) {
      logger.warn(`${signal} again: ending ${registry.activeCount} call(s) now`);
      void registry.drain(0);
      return;
    }
    logger.log(`${signal}: draining ${registry.activeCount} live call(s), up to ${config.DRAIN_TIMEOUT_S} s`);
    draining = (async () => {
      const ended = await registry.drain(config.DRAIN_TIMEOUT_S * 1000);
      // Twilio asks /twiml/stream-ended what to say after we close a stream: stay up to answer.
      if (ended > 0) {
        logger.warn(`ended ${ended} call(s) at the drain timeout`);
        await new Promise((resolve) => setTimeout(resolve, STREAM_ENDED_GRACE_MS));
      }
      await app.close();
      logger.log('drained; exiting');
      process.exit(0);
    })().catch((err: unknown) => {
      logger.error(`shutdown failed: ${(err as Error).message}`);
      process.exit(1);
    });
  };
  // A stray rejection must not take every live call down with the process (Node's default); log it.
  process.on('unhandledRejection', (reason) => logger.error(`unhandled rejection: ${(reason as Error)?.stack ?? String(reason)}`));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

const STREAM_ENDED_GRACE_MS = 1500;

bootstrap().catch((err: unknown) => {
  if (err instanceof ConfigValidationError) console.error(err.message);
  else console.error(err);
  process.exit(1);
});
