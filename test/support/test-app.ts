import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import twilio from 'twilio';
import { AppModule } from '../../src/app.module';
import { setupApp } from '../../src/app.setup';
import { AppConfig, loadAppConfig } from '../../src/config/app-config';
import { LogDestination } from '../../src/logging/log-destination';
import { AGENT_TOOLS, type AgentTool } from '../../src/tools/agent-tool';
import { TOOL_CLASSES } from '../../src/tools/tools.module';

export const TEST_PUBLIC_URL = 'https://voice.example.test';
export const TEST_API_KEY = 'sk-test-0123456789abcdef';
/** The TWILIO_AUTH_TOKEN the fixture's apps check signatures with. */
export const TEST_AUTH_TOKEN = 'twilio-auth-token-for-tests';

export interface TestApp {
  app: INestApplication;
  config: AppConfig;
  /** http://127.0.0.1:PORT */
  httpUrl: string;
  /** ws://127.0.0.1:PORT */
  wsUrl: string;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /**
   * Where the app's JSON log lines go (default: stdout, at LOG_LEVEL=error unless TEST_LOGS is set).
   * nestjs-pino builds one pino logger per process, from the first app's settings: every app of a
   * test file that reads logs must pass the same stream (and the same LOG_LEVEL and secrets).
   */
  logs?: { write(line: string): void };
}

let firstLogStream: object | undefined;

/** The real app (every module, real sockets) on an ephemeral port, configured from `env`. */
export async function startTestApp(env: Record<string, string> = {}, extraTools: AgentTool[] = [], opts: TestAppOptions = {}): Promise<TestApp> {
  const config = loadAppConfig({
    PUBLIC_URL: TEST_PUBLIC_URL,
    OPENAI_API_KEY: TEST_API_KEY,
    LOG_LEVEL: process.env.TEST_LOGS ? 'debug' : 'error',
    // Tests that post unsigned webhooks say so, as a user must; the fixture sets TWILIO_AUTH_TOKEN (and signs) instead.
    ALLOW_UNSIGNED_TWILIO_REQUESTS: 'true',
    // Call records need a database (1.6-3 s to start an embedded one): tests about records turn
    // them on (test/records*.e2e-spec.ts); the others do not pay for them.
    RECORDS: 'off',
    ...env,
  });
  if (opts.logs) {
    firstLogStream ??= opts.logs;
    if (firstLogStream !== opts.logs)
      throw new Error("nestjs-pino keeps the first app's logger per process: pass the same log stream to every app of this file");
  }
  let builder = Test.createTestingModule({ imports: [AppModule] })
    .overrideProvider(AppConfig)
    .useValue(config);
  if (opts.logs) builder = builder.overrideProvider(LogDestination).useValue({ stream: opts.logs });
  if (extraTools.length > 0) {
    builder = builder.overrideProvider(AGENT_TOOLS).useFactory({ factory: (...tools: AgentTool[]) => [...tools, ...extraTools], inject: TOOL_CLASSES });
  }
  const moduleRef = await builder.compile();
  // Start-up lines wait for setupApp() to install the JSON logger, which applies LOG_LEVEL.
  const app = moduleRef.createNestApplication({ bufferLogs: true });
  setupApp(app);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  // Safe to call twice: a test may close its app early, and the fixture closes it again.
  let closing: Promise<void> | undefined;
  return {
    app,
    config,
    httpUrl: `http://127.0.0.1:${address.port}`,
    wsUrl: `ws://127.0.0.1:${address.port}`,
    close: () => (closing ??= app.close()),
  };
}

/** Form-encodes Twilio webhook params the way Twilio posts them. */
export function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

/** What signing needs to know about an app (a TestApp, or a child process started with the same env). */
export type SignedApp = Pick<TestApp, 'httpUrl'> & { config: Pick<AppConfig, 'TWILIO_AUTH_TOKEN' | 'publicUrl' | 'streamUrl'> };

/**
 * X-Twilio-Signature as Twilio computes it for this app: over the public URL of `pathAndQuery`
 * plus the POST params, with the app's TWILIO_AUTH_TOKEN. Undefined when the app checks nothing.
 */
export function twilioSignature(app: SignedApp, pathAndQuery: string, params: Record<string, string> = {}): string | undefined {
  const token = app.config.TWILIO_AUTH_TOKEN;
  const url = app.config.publicUrl(pathAndQuery);
  return token && url ? twilio.getExpectedTwilioSignature(token, url, params) : undefined;
}

/** Upgrade headers of a media stream as Twilio opens it: signed over the wss:// URL, no params. */
export function streamHeaders(app: SignedApp, path = '/ws/call'): Record<string, string> {
  const token = app.config.TWILIO_AUTH_TOKEN;
  const url = app.config.streamUrl(path);
  return token && url ? { 'x-twilio-signature': twilio.getExpectedTwilioSignature(token, url, {}) } : {};
}

/**
 * Posts the voice webhook as Twilio does (form-encoded), signed with the app's TWILIO_AUTH_TOKEN
 * unless told otherwise: `signature` sends that value instead, `signature: false` sends none.
 */
export async function postTwiml(
  app: SignedApp,
  params: Record<string, string>,
  opts: { path?: string; signature?: string | false } = {},
): Promise<{ status: number; body: string; contentType: string | null }> {
  const path = opts.path ?? '/twiml';
  const signature = opts.signature === undefined ? twilioSignature(app, path, params) : opts.signature;
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (signature) headers['x-twilio-signature'] = signature;
  const res = await fetch(`${app.httpUrl}${path}`, { method: 'POST', headers, body: form(params) });
  return { status: res.status, body: await res.text(), contentType: res.headers.get('content-type') };
}

/** Deterministic, distinct mu-law-ish bytes, so reordering or mixing audio shows up in comparisons. */
export function testAudio(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < bytes; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Splits audio into chunks of `size` bytes. */
export function chunks(audio: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < audio.length; i += size) out.push(audio.subarray(i, i + size));
  return out;
}

/** GET a JSON endpoint (typed loosely: tests inspect whatever came back). */
export async function getJson(url: string, headers: Record<string, string> = {}): Promise<any> {
  return (await fetch(url, { headers })).json();
}

/** The operator's credentials for an app: its dashboard token (DASHBOARD_TOKEN, or the one it generated) as a Bearer header. */
export function operatorHeaders(app: Pick<TestApp, 'config'>): Record<string, string> {
  return { authorization: `Bearer ${app.config.dashboardToken}` };
}

/** The <Parameter>s of a TwiML <Stream>, as Twilio passes them in `start.customParameters`. */
export function twimlParameters(twiml: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const match of twiml.matchAll(/<Parameter name="([^"]*)" value="([^"]*)"\/>/g)) params[match[1]] = match[2];
  return params;
}

/**
 * A mark's name without its generation and number: `itemId:ms` (the server names marks `generation.seq:itemId:ms`,
 * so marks echoed by a `clear` are recognised as not played).
 */
export function markOf(message: { mark: { name: string } }): string {
  return message.mark.name.replace(/^\d+\.\d+:/, '');
}
