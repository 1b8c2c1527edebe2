import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig } from '../config/app-config';
import { LogDestination } from './log-destination';
import { pinoHttpOptions } from './log-options';

/**
 * Structured logs (nestjs-pino): the app's Nest logger and the HTTP request logs write JSON
 * lines through one pino logger. setupApp() installs it with `app.useLogger(app.get(Logger))`.
 *
 * nestjs-pino keeps that pino logger in a module-level variable, built by the first app of the
 * process: one per process in production; in tests, every app of a test file shares the first
 * app's logger (see test/support/test-app.ts).
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      providers: [LogDestination],
      inject: [AppConfig, LogDestination],
      useFactory: (config: AppConfig, output: LogDestination) => ({
        pinoHttp: [pinoHttpOptions(config), output.stream],
      }),
    }),
  ],
})
export class LoggingModule {}
