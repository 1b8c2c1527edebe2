import { hostname } from 'node:os';
import { plainToInstance, Transform } from 'class-transformer';
import { randomBytes } from 'node:crypto';
import { IsBoolean, IsIn, IsInt, IsNumber, IsOptional, IsString, IsUrl, Matches, Max, Min, MinLength, validateSync, ValidationError } from 'class-validator';

const toInt = ({ value }: { value: unknown }) => (value === undefined || value === '' ? undefined : Number(value));
const toBool = ({ value }: { value: unknown }) =>
  value === undefined || value === ''
    ? undefined
    : value === true || value === 'true' || value === '1'
      ? true
      : value === false || value === 'false' || value === '0'
        ? false
        : value;
const emptyToUndefined = ({ value }: { value: unknown }) => (value === '' ? undefined : value);

export const DEFAULT_INSTRUCTIONS =
  'You are a friendly, concise phone assistant. Speak naturally and briefly, as on a phone call. ' +
  'If the caller asks about the weather somewhere, use the weather tool. ' +
  'When the caller says goodbye or wants to end the call, say a short goodbye and then call end_call.';

export const REASONING_EFFORTS = ['minimal', 'low', 'medium', 'high', 'xhigh'] as const;

/** The voice engines a call can run on (see docs/engines.md). */
export const VOICE_ENGINES = ['realtime', 'live'] as const;

/** Who handles GPT-Live's delegated work: its managed Responses backend (tools work), or this server. */
export const LIVE_DELEGATIONS = ['responses', 'client'] as const;

/** Reasoning efforts a Responses backend model takes (GPT-Live's `delegation.responses.reasoning.effort`). */
export const LIVE_REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] as const;

export const REALTIME_VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'sage', 'shimmer', 'verse', 'marin', 'cedar'] as const;

/**
 * The whole environment of the server, validated once at start-up.
 * Property names are the environment variable names so that an error message names the variable.
 */
export class AppConfig {
  @IsOptional()
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: string = 'development';

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(10)
  OPENAI_API_KEY?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl(
    { protocols: ['https', 'http'], require_protocol: true, require_tld: false },
    { message: 'PUBLIC_URL must be an absolute https:// URL, e.g. https://example.ngrok.app' },
  )
  PUBLIC_URL?: string;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number = 8081;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'verbose'])
  LOG_LEVEL: string = 'info';

  @IsUrl(
    { protocols: ['ws', 'wss'], require_protocol: true, require_tld: false },
    { message: 'OPENAI_REALTIME_URL must be ws:// or wss://, e.g. wss://api.openai.com/v1/realtime' },
  )
  OPENAI_REALTIME_URL: string = 'wss://api.openai.com/v1/realtime';

  /** The first-generation realtime models are listed for shutdown in January 2027; the model stays a setting. */
  @IsString()
  @MinLength(1)
  OPENAI_MODEL: string = 'gpt-realtime-2.1';

  /** Session `reasoning.effort` for reasoning models (more effort: more latency and output tokens). Unset: the service's default. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsIn(REASONING_EFFORTS)
  OPENAI_REASONING_EFFORT?: (typeof REASONING_EFFORTS)[number];

  /** Session `parallel_tool_calls`. Unset: the service's default. */
  @Transform(toBool)
  @IsOptional()
  @IsBoolean()
  OPENAI_PARALLEL_TOOL_CALLS?: boolean;

  @IsIn(REALTIME_VOICES)
  OPENAI_VOICE: string = 'marin';

  /** The voice engine new calls use, unless the dashboard's saved configuration chooses another. */
  @IsIn(VOICE_ENGINES)
  VOICE_ENGINE: (typeof VOICE_ENGINES)[number] = 'realtime';

  /** GPT-Live's WebSocket endpoint: no query string (the model travels in session.start). */
  @IsUrl(
    { protocols: ['ws', 'wss'], require_protocol: true, require_tld: false },
    { message: 'OPENAI_LIVE_URL must be ws:// or wss://, e.g. wss://api.openai.com/v1/live/sessions' },
  )
  @Matches(/^[^?#]*$/, { message: 'OPENAI_LIVE_URL must have no query string or fragment: GPT-Live takes the model in session.start, not in the URL' })
  OPENAI_LIVE_URL: string = 'wss://api.openai.com/v1/live/sessions';

  @IsString()
  @MinLength(1)
  OPENAI_LIVE_MODEL: string = 'gpt-live-1.1';

  /** responses: GPT-Live delegates reasoning and tools to a Responses model (our tools run); client: this server answers delegations itself. */
  @IsIn(LIVE_DELEGATIONS)
  LIVE_DELEGATION: (typeof LIVE_DELEGATIONS)[number] = 'responses';

  /** The Responses model GPT-Live delegates to (with LIVE_DELEGATION=responses). */
  @IsString()
  @MinLength(1)
  LIVE_RESPONSES_MODEL: string = 'gpt-5.4-mini';

  /** The backend's `reasoning.effort` (more effort: the caller waits longer for tool answers). Unset: the service's default. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsIn(LIVE_REASONING_EFFORTS)
  LIVE_REASONING_EFFORT?: (typeof LIVE_REASONING_EFFORTS)[number];

  @IsString()
  @MinLength(1)
  AGENT_INSTRUCTIONS: string = DEFAULT_INSTRUCTIONS;

  @IsOptional()
  @IsString()
  AGENT_GREETING: string = '';

  @IsString()
  @MinLength(1)
  AGENT_FALLBACK_MESSAGE: string = 'Sorry, the assistant is not available right now. Please try again later. Goodbye.';

  @IsString()
  @MinLength(1)
  AGENT_BUSY_MESSAGE: string = 'Sorry, all our lines are busy right now. Please call again in a few minutes. Goodbye.';

  @IsIn(['server_vad', 'semantic_vad'])
  TURN_DETECTION: string = 'server_vad';

  @Transform(({ value }) => (value === undefined || value === '' ? undefined : Number(value)))
  @IsNumber()
  @Min(0)
  @Max(1)
  VAD_THRESHOLD: number = 0.5;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(5000)
  VAD_PREFIX_PADDING_MS: number = 300;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(10000)
  VAD_SILENCE_DURATION_MS: number = 500;

  @IsString()
  @MinLength(1)
  TRANSCRIPTION_MODEL: string = 'gpt-4o-transcribe';

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(8)
  TWILIO_AUTH_TOKEN?: string;

  /** Shared secret for the dashboard (`/ws/logs`, `/session-config`, details in production). Unset = a random one per run (see dashboardToken). */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(16)
  @Matches(/^[\x21-\x7e]+$/, { message: 'DASHBOARD_TOKEN must be printable ASCII without spaces (it travels in a header or a URL)' })
  DASHBOARD_TOKEN?: string;

  /** How long `ask_operator` waits for a human to answer from the dashboard. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(600000)
  OPERATOR_ANSWER_TIMEOUT_MS: number = 30000;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100000)
  MAX_CONCURRENT_CALLS: number = 100;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600000)
  TOOL_TIMEOUT_MS: number = 10000;

  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false })
  WEATHER_API_URL: string = 'https://api.open-meteo.com/v1/forecast';

  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(600000)
  PREDIAL_TIMEOUT_MS: number = 15000;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600000)
  STREAM_START_TIMEOUT_MS: number = 10000;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(86400)
  MEDIA_IDLE_TIMEOUT_S: number = 60;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(86400)
  MAX_CALL_DURATION_S: number = 3600;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600000)
  SWEEP_INTERVAL_MS: number = 5000;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  MODEL_RECONNECT_MAX_ATTEMPTS: number = 6;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(60000)
  MODEL_RECONNECT_BASE_DELAY_MS: number = 200;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(600000)
  MODEL_RECONNECT_MAX_DELAY_MS: number = 5000;

  /** A model session must confirm its configuration within this long of being dialled, or it counts as a failed connection. */
  @Transform(toInt)
  @IsInt()
  @Min(500)
  @Max(60000)
  MODEL_CONFIRM_TIMEOUT_MS: number = 6000;

  /** The model socket is pinged this often; a ping unanswered by the next one means the path is dead (then: reconnect). */
  @Transform(toInt)
  @IsInt()
  @Min(200)
  @Max(60000)
  MODEL_PING_INTERVAL_MS: number = 3000;

  /** Caller audio held while the model reconnects (the oldest is dropped beyond it). */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(60000)
  RECONNECT_AUDIO_BUFFER_MS: number = 5000;

  /** The Realtime service's session limit; calls switch to a fresh session before it. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(86400)
  MODEL_SESSION_MAX_S: number = 3600;

  /** Accept media streams that did not come through /twiml (no reservation token). Development only. */
  @Transform(toBool)
  @IsBoolean()
  ALLOW_UNRESERVED_STREAMS: boolean = false;

  /** On SIGTERM/SIGINT, how long live calls may continue before they are ended. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(86400)
  DRAIN_TIMEOUT_S: number = 30;

  /** Comma-separated origins allowed by CORS; empty = no cross-origin access. */
  @IsOptional()
  @IsString()
  CORS_ORIGINS: string = '';

  /** Production refuses to start without TWILIO_AUTH_TOKEN unless this says so explicitly. */
  @Transform(toBool)
  @IsBoolean()
  ALLOW_UNSIGNED_TWILIO_REQUESTS: boolean = false;

  /** GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; unset, it needs the dashboard token instead. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(16)
  METRICS_TOKEN?: string;

  /** /health/ready fails while the event loop has been blocked this long within the last few seconds. */
  @Transform(toInt)
  @IsInt()
  @Min(20)
  @Max(60000)
  HEALTH_MAX_EVENT_LOOP_DELAY_MS: number = 1000;

  /** How long a client may take to send a whole HTTP request (headers and body); Twilio sends a few hundred bytes at once. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(300000)
  HTTP_REQUEST_TIMEOUT_MS: number = 10000;

  /** Open TCP connections (HTTP and WebSocket) beyond which new ones are dropped. Unset: 2 × MAX_CONCURRENT_CALLS + 100. */
  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(10)
  @Max(1000000)
  HTTP_MAX_CONNECTIONS?: number;

  // Not an environment variable (private fields are not enumerated): the token used when DASHBOARD_TOKEN is unset.
  readonly #generatedDashboardToken = randomBytes(24).toString('base64url');

  /**
   * The secret the dashboard, /metrics (without METRICS_TOKEN) and, in production, the details
   * endpoints require: DASHBOARD_TOKEN, or a random one for this run. Access never depends on
   * where a request comes from: behind a tunnel or proxy every request looks local.
   */
  get dashboardToken(): string {
    return this.DASHBOARD_TOKEN ?? this.#generatedDashboardToken;
  }

  /** True when nobody chose the dashboard token: main.ts prints it (with the dashboard URL) to the terminal once. */
  get dashboardTokenGenerated(): boolean {
    return this.DASHBOARD_TOKEN === undefined;
  }

  /** What GET /metrics accepts. */
  get metricsToken(): string {
    return this.METRICS_TOKEN ?? this.dashboardToken;
  }

  get production(): boolean {
    return this.NODE_ENV === 'production';
  }

  /** The server can take real calls, so an unsigned webhook would spend the OpenAI key for anyone. */
  get takesCalls(): boolean {
    return this.missingForCalls.length === 0;
  }

  /** Webhooks and stream upgrades must carry a valid X-Twilio-Signature. */
  get signaturesRequired(): boolean {
    return this.TWILIO_AUTH_TOKEN !== undefined;
  }

  get maxConnections(): number {
    return this.HTTP_MAX_CONNECTIONS ?? 2 * this.MAX_CONCURRENT_CALLS + 100;
  }

  /**
   * Settings that work but are unsafe or will not work with Twilio, each naming the fix: logged at
   * start, shown on /health, GET / and the dashboard. (Production refuses them instead: see loadAppConfig.)
   */
  get warnings(): string[] {
    const warnings: string[] = [];
    if (!this.TWILIO_AUTH_TOKEN && this.ALLOW_UNSIGNED_TWILIO_REQUESTS) {
      warnings.push(
        'Twilio signatures are NOT checked (ALLOW_UNSIGNED_TWILIO_REQUESTS=true): anyone who finds this server can place calls on your OpenAI key; set TWILIO_AUTH_TOKEN',
      );
    }
    if (this.PUBLIC_URL && isInsecure(this.PUBLIC_URL, 'http:')) {
      warnings.push(
        `PUBLIC_URL is http://: Twilio refuses the ws:// stream URL derived from it (error 31922); use the https:// address of your tunnel (ngrok shows both)`,
      );
    }
    if (isInsecure(this.OPENAI_REALTIME_URL, 'ws:')) {
      warnings.push('OPENAI_REALTIME_URL is ws:// to another machine: the OpenAI key travels in cleartext; use wss://');
    }
    if (isInsecure(this.OPENAI_LIVE_URL, 'ws:')) {
      warnings.push('OPENAI_LIVE_URL is ws:// to another machine: the OpenAI key travels in cleartext; use wss://');
    }
    if (this.VOICE_ENGINE === 'live' && this.LIVE_DELEGATION === 'client') {
      warnings.push(
        'LIVE_DELEGATION=client: GPT-Live calls run none of the registered tools (end_call included: only the caller can hang up); use LIVE_DELEGATION=responses for tools',
      );
    }
    if (this.ALLOW_UNRESERVED_STREAMS) {
      warnings.push('ALLOW_UNRESERVED_STREAMS=true: a media stream that did not come through /twiml can spend your OpenAI key; for development only');
    }
    return warnings;
  }

  // ---- call records (src/records) ----------------------------------------------------------

  /** `off` runs without a database: no history, no post-call webhook, nothing saved (for A/B runs). */
  @IsIn(['on', 'off'])
  RECORDS: string = 'on';

  /** The embedded database's directory (PGlite), created if missing; ignored with DATABASE_URL. */
  @IsString()
  @MinLength(1)
  DATA_DIR: string = './data';

  /** postgres://… switches the records from the embedded database to that PostgreSQL server. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^postgres(ql)?:\/\/\S+$/, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL?: string;

  /** Calls older than this many days are deleted by the sweeper; 0 keeps them forever. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(36500)
  CALL_RETENTION_DAYS: number = 30;

  /** A JSON file of model prices that replaces or adds to the built-in table (docs/records.md). */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  PRICES_FILE?: string;

  /** Record writes held in memory while the database catches up; beyond it new writes are dropped (and counted). */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(1_000_000)
  RECORDS_QUEUE_MAX: number = 20_000;

  /** How often queued record writes are flushed (one transaction per batch). */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(60_000)
  RECORDS_FLUSH_MS: number = 1000;

  /** A database statement (or connection attempt) taking longer than this counts as failed. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600_000)
  RECORDS_WRITE_TIMEOUT_MS: number = 10_000;

  /**
   * A live call's record is rewritten every third of this; a call not written for this long is
   * taken as lost with its server (killed, crashed) and ended as `server-lost` by the sweeper.
   */
  @Transform(toInt)
  @IsInt()
  @Min(3)
  @Max(86_400)
  RECORDS_LIVE_TIMEOUT_S: number = 180;

  /** Names this server in call records (several instances may share one PostgreSQL). */
  @IsString()
  @MinLength(1)
  INSTANCE_ID: string = hostname();

  /** When set, each ended call's record is POSTed here (signed, retried; docs/records.md). */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false })
  POST_CALL_WEBHOOK_URL?: string;

  /** HMAC-SHA256 key for the webhook's X-Signature; required with POST_CALL_WEBHOOK_URL. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(16)
  POST_CALL_WEBHOOK_SECRET?: string;

  /** First retry delay of a failed delivery; it doubles per attempt, up to an hour. */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(3_600_000)
  POST_CALL_WEBHOOK_RETRY_BASE_MS: number = 10_000;

  /** A delivery still failing this long after the call ended is given up (and counted). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(7 * 86400)
  POST_CALL_WEBHOOK_MAX_AGE_S: number = 86400;

  /** One delivery attempt may take this long before it counts as failed. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(120_000)
  POST_CALL_WEBHOOK_TIMEOUT_MS: number = 10_000;

  /** The stream URL Twilio connects to, derived from PUBLIC_URL. */
  streamUrl(path = '/ws/call'): string | undefined {
    if (!this.PUBLIC_URL) return undefined;
    const url = new URL(this.PUBLIC_URL);
    url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
    url.pathname = joinPath(url.pathname, path);
    url.search = '';
    return url.toString();
  }

  /** The public URL of an HTTP path, exactly as Twilio requests (and signs) it. */
  publicUrl(pathAndQuery: string): string | undefined {
    if (!this.PUBLIC_URL) return undefined;
    const base = this.PUBLIC_URL.replace(/\/+$/, '');
    return base + pathAndQuery;
  }

  get corsOrigins(): string[] {
    return this.CORS_ORIGINS.split(',')
      .map((o) => o.trim())
      .filter(Boolean);
  }

  /** Ready to take calls: the variables a call needs are present. */
  get missingForCalls(): string[] {
    const missing: string[] = [];
    if (!this.OPENAI_API_KEY) missing.push('OPENAI_API_KEY');
    if (!this.PUBLIC_URL) missing.push('PUBLIC_URL');
    return missing;
  }

  /** Values that must never reach a log line, whatever field or message they end up in. */
  get secrets(): string[] {
    return [this.OPENAI_API_KEY, this.TWILIO_AUTH_TOKEN, this.METRICS_TOKEN, this.dashboardToken, this.POST_CALL_WEBHOOK_SECRET, this.DATABASE_URL].filter(
      (s): s is string => !!s,
    );
  }
}

function joinPath(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}

/** Optional variables without a default (so not among `new AppConfig()`'s keys). */
const OPTIONAL_RECORDS_KEYS = ['DATABASE_URL', 'PRICES_FILE', 'POST_CALL_WEBHOOK_URL', 'POST_CALL_WEBHOOK_SECRET'];

/** A URL with this cleartext protocol to anything but this machine (loopback traffic never leaves it). */
function isInsecure(url: string, cleartext: 'http:' | 'ws:'): boolean {
  if (!URL.canParse(url)) return false; // reported by its own check
  const parsed = new URL(url);
  return parsed.protocol === cleartext && !isLoopbackHost(parsed.hostname);
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** Rules that span variables, each naming the fix. Production refuses the insecure settings that development only warns about. */
function crossChecks(config: AppConfig, bad: Set<string>): string[] {
  const lines: string[] = [];
  if (!config.TWILIO_AUTH_TOKEN && !config.ALLOW_UNSIGNED_TWILIO_REQUESTS && (config.takesCalls || config.production)) {
    const why = config.takesCalls ? 'required when PUBLIC_URL and OPENAI_API_KEY are set' : 'required in production';
    lines.push(
      `TWILIO_AUTH_TOKEN: ${why}, so that only Twilio can place calls on your OpenAI key: set it to your Twilio auth token ` +
        '(Twilio Console → Account → API keys & tokens), or set ALLOW_UNSIGNED_TWILIO_REQUESTS=true to accept unsigned requests',
    );
  }
  if (config.production) {
    if (config.PUBLIC_URL && isInsecure(config.PUBLIC_URL, 'http:')) {
      lines.push('PUBLIC_URL: must be https:// in production (Twilio refuses ws:// stream URLs, error 31922): use the https:// address Twilio reaches');
    }
    if (isInsecure(config.OPENAI_REALTIME_URL, 'ws:')) {
      lines.push('OPENAI_REALTIME_URL: must be wss:// in production (ws:// sends the OpenAI key in cleartext); ws:// is allowed to a loopback address only');
    }
    if (isInsecure(config.OPENAI_LIVE_URL, 'ws:')) {
      lines.push('OPENAI_LIVE_URL: must be wss:// in production (ws:// sends the OpenAI key in cleartext); ws:// is allowed to a loopback address only');
    }
    if (config.ALLOW_UNRESERVED_STREAMS) {
      lines.push('ALLOW_UNRESERVED_STREAMS: not allowed in production (a stream that skipped /twiml could spend your OpenAI key); remove it');
    }
  }
  if (config.POST_CALL_WEBHOOK_URL && !config.POST_CALL_WEBHOOK_SECRET) {
    lines.push('POST_CALL_WEBHOOK_SECRET: required with POST_CALL_WEBHOOK_URL (receivers verify the X-Signature with it)');
  }
  const connectionsChecked = !bad.has('HTTP_MAX_CONNECTIONS') && !bad.has('MAX_CONCURRENT_CALLS');
  if (connectionsChecked && config.HTTP_MAX_CONNECTIONS !== undefined && config.HTTP_MAX_CONNECTIONS <= config.MAX_CONCURRENT_CALLS) {
    lines.push(
      'HTTP_MAX_CONNECTIONS: must be above MAX_CONCURRENT_CALLS (each live call holds a connection); leave it unset for 2 × MAX_CONCURRENT_CALLS + 100',
    );
  }
  return lines;
}

export class ConfigValidationError extends Error {}

/** Validates the environment; throws one error naming every bad variable. Values are never echoed (they may be secrets). */
export function loadAppConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const known = Object.keys(new AppConfig());
  const input: Record<string, unknown> = {};
  for (const key of [
    ...known,
    'OPENAI_API_KEY',
    'PUBLIC_URL',
    'TWILIO_AUTH_TOKEN',
    'DASHBOARD_TOKEN',
    'METRICS_TOKEN',
    'OPENAI_REASONING_EFFORT',
    'OPENAI_PARALLEL_TOOL_CALLS',
    'LIVE_REASONING_EFFORT',
    'HTTP_MAX_CONNECTIONS',
    ...OPTIONAL_RECORDS_KEYS,
  ]) {
    // An empty value means "use the default" (so a copied .env.example works as is).
    if (env[key] !== undefined && env[key] !== '') input[key] = env[key];
  }
  const config = plainToInstance(AppConfig, input);
  const errors = validateSync(config, { forbidUnknownValues: false });
  const lines = errors.map(describe);
  // Every problem in one go: the rules across variables run even when a single variable is bad.
  lines.push(...crossChecks(config, new Set(errors.map((e) => e.property))));
  if (lines.length > 0) {
    throw new ConfigValidationError(`Invalid environment (${lines.length} variable${lines.length > 1 ? 's' : ''}):\n  - ${lines.join('\n  - ')}`);
  }
  return config;
}

function describe(error: ValidationError): string {
  const reasons = Object.values(error.constraints ?? {}).map((m) => m.replace(/^\S+ /, ''));
  return `${error.property}: ${reasons.join('; ')}`;
}
