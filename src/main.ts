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
  for (const warning of config.warnings) logger.warn(`UNSAFE SETTING: ${warning}`);
  const dashboard = `http://localhost:${config.PORT}/dashboard`;
  if (config.dashboardTokenGenerated) {
    logger.log(`dashboard: ${dashboard} (DASHBOARD_TOKEN is not set: a random token for this run was printed to the terminal, not to this log)`);
    printDashboardLink(dashboard, config.dashboardToken);
  } else {
    logger.log(`dashboard: ${dashboard} (sign in with DASHBOARD_TOKEN)`);
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
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  // A stray rejection must not take every live call down with the process (Node's default); log it.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

const STREAM_ENDED_GRACE_MS = 1500;

/**
 * The generated dashboard token goes to the terminal once, on stderr: never into the JSON log,
 * which may be shipped elsewhere. The token rides in the URL fragment, which browsers never send
 * to the server (so it is in no request log either); the page moves it to the tab's session storage.
 */
function printDashboardLink(dashboard: string, token: string): void {
  process.stderr.write(
    `\nDashboard (this link holds a token generated for this run; set DASHBOARD_TOKEN to choose a lasting one):\n` +
      `  ${dashboard}#token=${token}\n` +
      `The same token opens /metrics while METRICS_TOKEN is unset (Authorization: Bearer <token>).\n\n`,
  );
}

bootstrap().catch((err: unknown) => {
  if (err instanceof ConfigValidationError) console.error(err.message);
  else console.error(err);
  process.exit(1);
});
