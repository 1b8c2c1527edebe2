import { Injectable } from '@nestjs/common';
import { createRequire } from 'node:module';
import { destination, type DestinationStream } from 'pino';
import { AppConfig } from '../config/app-config';

/**
 * Where log lines go: JSON on stdout, one object per line; pretty-printed (pino-pretty, a dev
 * dependency) only for a developer's terminal: NODE_ENV=development with stdout a TTY.
 * Tests replace this provider to read the lines.
 */
@Injectable()
export class LogDestination {
  readonly stream: DestinationStream;

  constructor(config: AppConfig) {
    this.stream = (config.NODE_ENV === 'development' && process.stdout.isTTY && prettyStream()) || destination({ dest: 1, sync: true });
  }
}

/** pino-pretty in-process, if installed (it is not in a production install). */
function prettyStream(): DestinationStream | undefined {
  try {
    const pretty = createRequire(__filename)('pino-pretty') as (opts: object) => DestinationStream;
    return pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,context', messageFormat: '{if context}[{context}] {end}{msg}' });
  } catch {
    return undefined;
  }
}
