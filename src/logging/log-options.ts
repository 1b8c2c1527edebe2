import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stdTimeFunctions, type LevelWithSilent, type LoggerOptions } from 'pino';
import type { Options } from 'pino-http';
import type { AppConfig } from '../config/app-config';

/** Our LOG_LEVEL names → pino's (Nest's `verbose` is pino's `trace`). */
const PINO_LEVELS: Record<string, LevelWithSilent> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  info: 'info',
  debug: 'debug',
  verbose: 'trace',
};

export const REDACTED = '[redacted]';

/**
 * Structured fields that are never written. Headers by name; `token`, `key` and friends at the top
 * level of a log object and one level down (pino's redaction has no recursive wildcard).
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-twilio-signature"]',
  'req.headers["api-key"]',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  ...['token', 'key', 'apiKey', 'api_key', 'authToken', 'streamToken', 'password', 'secret', 'authorization'].flatMap((field) => [field, `*.${field}`]),
];

/** Query parameters whose values are replaced in logged URLs. */
const SECRET_QUERY = /([?&](?:token|key|api_key|apikey|access_token|auth_token)=)[^&#]*/gi;

export function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(SECRET_QUERY, `$1${REDACTED}`);
}

/** Probes and scrapes are logged only when they fail: a scrape every 15 s is not news. */
const QUIET_PATHS = /^\/(health|metrics)(\/|\?|$)/;

/** Replaces every occurrence of a configured secret value in a finished log line, wherever it came from. */
export function secretScrubber(secrets: string[]): (line: string) => string {
  const values = secrets.filter((s) => s.length >= 8);
  if (values.length === 0) return (line) => line;
  return (line) => {
    for (const value of values) {
      if (line.includes(value)) line = line.split(value).join(REDACTED);
    }
    return line;
  };
}

/** Request headers worth a log line; the sensitive ones only say that they were there. */
const LOGGED_HEADERS = ['host', 'user-agent', 'content-type', 'content-length', 'x-forwarded-for', 'x-request-id', 'i-twilio-idempotency-token'];
const SECRET_HEADERS = ['authorization', 'x-twilio-signature', 'cookie', 'api-key', 'x-api-key'];

function pickHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of LOGGED_HEADERS) if (headers[name] !== undefined) out[name] = headers[name];
  for (const name of SECRET_HEADERS) if (headers[name] !== undefined) out[name] = REDACTED;
  return out;
}

/** Only a well-formed CallSid goes into a line (the webhook body is untrusted). */
const SID = /^[A-Za-z0-9_-]{1,64}$/;

type Req = IncomingMessage & { originalUrl?: string; body?: unknown };

function pathOf(req: Req): string {
  return req.originalUrl ?? req.url ?? '';
}

/**
 * pino-http options: one JSON object per line, ISO time, level names, LOG_LEVEL respected,
 * secrets redacted (fields, headers, query) and scrubbed (known secret values anywhere in the line).
 * Request logs carry the request id and, for Twilio webhooks, the CallSid.
 */
export function pinoHttpOptions(config: AppConfig): Options<Req, ServerResponse> & LoggerOptions {
  const scrub = secretScrubber(config.secrets);
  return {
    level: PINO_LEVELS[config.LOG_LEVEL] ?? 'info',
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    hooks: { streamWrite: scrub },
    serializers: {
      // Runs after pino-http's standard request serializer: what identifies the request, secrets out of the URL and headers.
      req: (req: { id: unknown; method: string; url: string; headers: Record<string, unknown>; remoteAddress?: string }) => ({
        id: req.id,
        method: req.method,
        url: redactUrl(req.url),
        headers: pickHeaders(req.headers),
        remoteAddress: req.remoteAddress,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    genReqId: (req, res) => {
      const incoming = req.headers['x-request-id'];
      const id = typeof incoming === 'string' && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
      res.setHeader('x-request-id', id);
      return id;
    },
    // Logs made while handling a request carry its id only; the request itself is in the completion line.
    quietReqLogger: true,
    autoLogging: true,
    customLogLevel: (req, res, err) => {
      const status = res.statusCode;
      if (QUIET_PATHS.test(pathOf(req))) return status >= 400 || err ? 'warn' : 'silent';
      if (err || status >= 500) return 'error';
      return status >= 400 ? 'warn' : 'info';
    },
    customSuccessMessage: (req, res, responseTime) => `${req.method} ${redactUrl(pathOf(req))} ${res.statusCode} ${responseTime} ms`,
    customErrorMessage: (req, res) => `${req.method} ${redactUrl(pathOf(req))} failed with ${res.statusCode}`,
    // A 5xx answer is not an exception: no synthetic error with a stack trace in the line.
    customErrorObject: (_req, _res, err, value) =>
      err.message.startsWith('failed with status code')
        ? { res: (value as { res: unknown }).res, responseTime: (value as { responseTime: unknown }).responseTime }
        : (value as object),
    // The voice webhooks say which call they are about once the body is parsed (at completion).
    customProps: (req) => {
      const body = req.body as { CallSid?: unknown } | undefined;
      return typeof body?.CallSid === 'string' && SID.test(body.CallSid) ? { callSid: body.CallSid } : {};
    },
  };
}
