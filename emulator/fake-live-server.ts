// The GPT-Live emulator: a fake of OpenAI's GPT-Live WebSocket API (`/v1/live/sessions`) over a
// real WebSocket server, for end-to-end tests, the offline demo and the benchmark. It is as strict
// as the real service where a client can get it wrong (session.start first and nothing before
// session.started, unknown or immutable fields rejected, μ-law needs its rate, commentary needs
// its delegation_id, tool outputs only for calls the backend made, 500-token appends, 128-message
// history), it answers the protocol on its own (acknowledgements, usage, session.closed with its
// reasons, expiry), and it exposes the model's behaviour (speech faster than real time, caller
// transcripts, Responses-delegation function calls, backend answers) that tests drive
// explicitly, or that a ScriptedLiveModel (live-voice-model.ts) drives from the caller's audio.
// Event shapes come from the `openai` package's Live types.
import { STATUS_CODES, createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type {
  ClientEvent,
  Error as LiveError,
  InitialItem,
  ResponseItemCreateEvent,
  ResponsesDelegationConfig,
  ServerEvent,
  SessionConfig,
  SessionResource,
  SessionStartEvent,
  SessionUpdateConfig,
  SessionUpdateEvent,
} from 'openai/resources/live/live';
import type { Response as BackendResponse, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { realtimeId } from './fake-realtime-server';
import { DEFAULT_WAIT_MS, MessageLog, Waiters } from './waiters';

type ClientEventType = ClientEvent['type'];
type ClientEventOf<T extends ClientEventType> = Extract<ClientEvent, { type: T }>;
type WithoutEventId<E> = E extends unknown ? Omit<E, 'event_id'> : never;
type ServerEventBody = WithoutEventId<ServerEvent>;

export interface FakeLiveServerOptions {
  /** Delay before the WebSocket upgrade is accepted (a slow handshake). */
  handshakeDelayMs?: number;
  /** When set, the upgrade needs `Authorization: Bearer <key>`, else HTTP 401. */
  requireApiKey?: string;
  /** Called with each accepted connection (before session.start), e.g. to attach a scripted model. */
  onConnection?: (connection: FakeLiveConnection) => void;
  /** Keep every appended audio chunk (default true); the benchmark turns it off. */
  recordAudio?: boolean;
  /** How long a session lives (its expires_at); default one hour. At the end: session.closed {reason: "expired"}. */
  sessionSeconds?: number;
  /** session.usage.updated this often while a session runs (default 1000 ms; 0: only in session.closed). */
  usageIntervalMs?: number;
  /** Time between session.start and session.started (the service sets up the model). */
  startDelayMs?: number;
}

export interface SpeakOptions {
  /** Audio in the session's format, one session.output_audio.delta per chunk. */
  chunks: Buffer[];
  /** Spread over the chunks as output transcript deltas. */
  transcript?: string;
  /** Delay between chunks (0: everything at once). The real model sends ahead of real time. */
  paceMs?: number;
  /** With paceMs: chunks sent at once before pacing starts. */
  prebufferChunks?: number;
  /** Chunks still sent after the model noticed the caller (interrupt()): audio it had generated already. */
  lateChunks?: number;
  /** Called right after each chunk is sent (latency measurements). */
  onChunkSent?: (index: number, sentAt: number) => void;
}

// Top-level session.start fields GPT-Live defines for a primary WebSocket; anything else is refused.
const SESSION_KEYS = new Set(['model', 'instructions', 'audio', 'delegation', 'input', 'store', 'client', 'triggers']);
const AUDIO_KEYS = new Set(['format', 'output']);
const RESPONSES_KEYS = new Set([
  'model',
  'instructions',
  'max_output_tokens',
  'parallel_tool_calls',
  'reasoning',
  'service_tier',
  'text',
  'tool_choice',
  'tools',
]);
const FUNCTION_TOOL_KEYS = new Set(['type', 'name', 'description', 'parameters', 'strict']);
const EFFORTS = new Set(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']);
const SUMMARIES = new Set(['concise', 'detailed', 'auto']);
const VERBOSITIES = new Set(['low', 'medium', 'high']);
const SERVICE_TIERS = new Set(['auto', 'default', 'fast_tier_temp_pilot', 'flex', 'priority', 'ultrafast']);
const TOOL_CHOICE_MODES = new Set(['auto', 'none', 'required']);
const VOICES = new Set([
  'alloy', 'ash', 'ballad', 'beacon', 'bossa', 'cedar', 'cinder', 'coral', 'delta', 'echo', 'gleam', 'marin', 'meridian', 'quartz', 'ripple', 'sage',
  'shida', 'shimmer', 'stone', 'tempo', 'verse', 'vesper', 'willow',
]); // prettier-ignore
const MAX_HISTORY = 128;
/** ~4 characters a token: the limits the real service counts in tokens. */
const CHARS_PER_TOKEN = 4;
const MAX_HISTORY_TOKENS = 8192;
const MAX_APPEND_TOKENS = 500;
const MAX_INSTRUCTIONS_TOKENS = 16_384;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A refused client event: the error GPT-Live sends. */
class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

const unknownParameter = (param: string): Refusal => new Refusal('unknown_parameter', `Unknown parameter: '${param}'.`, param);
const invalidValue = (param: string, why: string): Refusal => new Refusal('invalid_value', `Invalid value for '${param}': ${why}.`, param);

export class FakeLiveServer {
  readonly url: string;
  readonly connections: FakeLiveConnection[] = [];
  private readonly waiters = new Waiters();
  private readonly pendingUpgrades = new Set<{ timer: NodeJS.Timeout; socket: Duplex }>();
  private readonly refusals: number[] = [];
  private closing: Promise<void> | null = null;
  /** Upgrades refused so far by refuseNext (or for a query string). */
  refused = 0;

  private constructor(
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    private readonly opts: FakeLiveServerOptions,
  ) {
    const { port } = http.address() as AddressInfo;
    this.url = `ws://127.0.0.1:${port}/v1/live/sessions`;
  }

  static async start(opts: FakeLiveServerOptions = {}): Promise<FakeLiveServer> {
    const http = createServer((_req, res) => res.writeHead(426).end());
    // Pings are answered by each connection itself, so a test can make one stop answering (freeze).
    const wss = new WebSocketServer({ noServer: true, autoPong: false });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(0, '127.0.0.1', () => resolve());
    });
    const server = new FakeLiveServer(http, wss, opts);
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => server.onUpgrade(req, socket, head));
    return server;
  }

  /** Fault injection: refuse the next `count` upgrades with HTTP `status`. */
  refuseNext(count: number, status = 503): void {
    for (let i = 0; i < count; i++) this.refusals.push(status);
  }

  waitForConnection(index = 0, timeoutMs = DEFAULT_WAIT_MS): Promise<FakeLiveConnection> {
    return this.waiters.until(
      () => this.connections[index],
      timeoutMs,
      () => `live connection #${index} (have ${this.connections.length})`,
    );
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const pending of this.pendingUpgrades) {
        clearTimeout(pending.timer);
        pending.socket.destroy();
      }
      this.pendingUpgrades.clear();
      for (const connection of this.connections) connection?.drop();
      await new Promise<void>((resolve) => this.wss.close(() => resolve()));
      this.http.closeAllConnections();
      await new Promise<void>((resolve) => this.http.close(() => resolve()));
    })();
    return this.closing;
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    if (this.closing) {
      socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/v1/live/sessions') {
      this.refused++;
      return rejectUpgrade(socket, 404, { error: { type: 'invalid_request_error', code: 'not_found', message: `Unknown path ${url.pathname}.` } });
    }
    if (url.search !== '') {
      // The model goes in session.start; the endpoint takes no query parameters.
      this.refused++;
      return rejectUpgrade(socket, 400, {
        error: {
          type: 'invalid_request_error',
          code: 'unknown_parameter',
          message: 'GPT-Live sessions take no query parameters: configure them in session.start.',
        },
      });
    }
    if (this.refusals.length > 0) {
      this.refused++;
      return rejectUpgrade(socket, this.refusals.shift()!, { error: { type: 'server_error', code: null, message: 'The server had an error.' } });
    }
    if (this.opts.requireApiKey !== undefined && req.headers.authorization !== `Bearer ${this.opts.requireApiKey}`) {
      return rejectUpgrade(socket, 401, { error: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' } });
    }
    const accept = (): void => {
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const connection = new FakeLiveConnection(ws, req.headers, this.opts);
        this.connections.push(connection);
        this.waiters.notify();
        this.opts.onConnection?.(connection);
      });
    };
    const delay = this.opts.handshakeDelayMs ?? 0;
    if (delay <= 0) return accept();
    const pending = {
      socket,
      timer: setTimeout(() => {
        this.pendingUpgrades.delete(pending);
        accept();
      }, delay),
    };
    this.pendingUpgrades.add(pending);
  }
}

function rejectUpgrade(socket: Duplex, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
  );
}

/** One function call the backend made, and its output once the client sent it. */
interface BackendCall {
  callId: string;
  name: string;
  output: string | null;
}

export class FakeLiveConnection {
  readonly headers: IncomingHttpHeaders;
  /** Every client event, parsed, in arrival order (including refused ones). */
  readonly received: ClientEvent[];
  /** Every `error` the fake sent. */
  readonly errors: LiveError[] = [];
  /** session.start's session, as accepted (null until then). */
  start: SessionConfig | null = null;
  /** The resolved session (session.started), updated by session.update. */
  session: SessionResource | null = null;
  /** Every accepted session.update's `session`, as sent, in order. */
  readonly updates: SessionUpdateConfig[] = [];
  /** Appended context: commentary, thinking, instructions, in order. */
  readonly appended: { type: 'commentary' | 'thinking' | 'instructions'; delegationId: string | null; content: string }[] = [];
  /** Function outputs the client sent, in order. */
  readonly toolOutputs: { callId: string; output: string }[] = [];
  /** The close the fake sent, with session.closed's reason. */
  closedReason: string | null = null;

  private readonly log = new MessageLog<ClientEvent>();
  private readonly opts: FakeLiveServerOptions;
  private readonly audioIn: Buffer[] = [];
  private audioInBytes = 0;
  private appends = 0;
  private startedAt = 0;
  private timeline = 0;
  private expiryTimer: NodeJS.Timeout | null = null;
  private usageTimer: NodeJS.Timeout | null = null;
  private startTimer: NodeJS.Timeout | null = null;
  private closeInfo: { code: number; reason: string } | null = null;
  private frozen = false;
  private speaking: { interrupted: boolean; wake: (() => void) | null } | null = null;
  private readonly calls = new Map<string, BackendCall>();
  private readonly clientDelegations = new Set<string>();
  private readonly observers = new Set<(event: ClientEvent) => void>();
  /** Pings received from the client (answered with a pong unless frozen). */
  pings = 0;

  constructor(
    private readonly ws: WebSocket,
    headers: IncomingHttpHeaders,
    opts: FakeLiveServerOptions,
  ) {
    this.headers = headers;
    this.opts = opts;
    this.received = this.log.items;
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString() };
      this.stopTimers();
      this.speaking?.wake?.();
      this.log.notify();
    });
    ws.on('error', () => undefined);
    ws.on('ping', (data) => {
      this.pings++;
      if (!this.frozen) ws.pong(data);
    });
  }

  get closed(): boolean {
    return this.closeInfo !== null;
  }

  get started(): boolean {
    return this.session !== null;
  }

  /** The delegation owner chosen at start. */
  get delegation(): 'responses' | 'client' | null {
    const delegation = this.start?.delegation;
    if (!this.start) return null;
    return delegation && delegation.type === 'responses' ? 'responses' : 'client';
  }

  /** The Responses backend as it is now (start-up settings with every accepted update applied), or null without one. */
  get backend(): ResponsesDelegationConfig | null {
    const delegation = this.session?.delegation;
    return delegation && delegation.type === 'responses' ? delegation.responses : null;
  }

  /** The model is speaking (a speak() in progress). */
  get isSpeaking(): boolean {
    return this.speaking !== null;
  }

  /** Cumulative seconds of session so far (what usage reports); frozen at session.closed. */
  get seconds(): number {
    if (this.finalSeconds !== null) return this.finalSeconds;
    return this.startedAt ? Math.round((performance.now() - this.startedAt) / 10) / 100 : 0;
  }

  private finalSeconds: number | null = null;

  appendedAudio(): Buffer {
    return Buffer.concat(this.audioIn);
  }

  appendCount(): number {
    return this.appends;
  }

  freeze(): void {
    this.frozen = true;
  }

  observe(listener: (event: ClientEvent) => void): () => void {
    this.observers.add(listener);
    return () => this.observers.delete(listener);
  }

  waitFor<T extends ClientEventType>(
    type: T,
    predicate: (event: ClientEventOf<T>) => boolean = () => true,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<ClientEventOf<T>> {
    return this.log.waitFor(
      (e) => e.type === type && predicate(e as ClientEventOf<T>),
      timeoutMs,
      `client event ${type}`,
      (e) => String(e.type),
    ) as Promise<ClientEventOf<T>>;
  }

  waitForStarted(timeoutMs = DEFAULT_WAIT_MS): Promise<SessionResource> {
    return this.log.until(
      () => this.session ?? undefined,
      timeoutMs,
      () => 'session.started',
    );
  }

  waitForAppendedBytes(n: number, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    return this.log
      .until(
        () => (this.audioInBytes >= n ? true : undefined),
        timeoutMs,
        () => `${n} appended audio bytes (have ${this.audioInBytes})`,
      )
      .then(() => undefined);
  }

  waitForClose(timeoutMs = DEFAULT_WAIT_MS): Promise<{ code: number; reason: string }> {
    return this.log.until(
      () => this.closeInfo ?? undefined,
      timeoutMs,
      () => 'the live socket to close',
    );
  }

  /** Sends anything as-is: malformed or unusual server events. */
  send(event: ServerEvent | Record<string, unknown>): void {
    if (this.ws.readyState === WebSocket.OPEN && !this.frozen) this.ws.send(JSON.stringify(event));
  }

  // ---- the model's behaviour ----

  /**
   * The model speaks: audio deltas, with the transcript spread over them, paced faster than real
   * time when asked. Stops when the model notices the caller (interrupt()), after `lateChunks`
   * more: audio already generated. Resolves with the ms of audio sent.
   */
  async speak(opts: SpeakOptions): Promise<{ sentMs: number; interrupted: boolean }> {
    if (!this.started) throw new Error('fake: the session has not started');
    if (this.speaking) throw new Error('fake: the model is already speaking');
    const run: { interrupted: boolean; wake: (() => void) | null } = { interrupted: false, wake: null };
    this.speaking = run;
    const pieces = splitText(opts.transcript ?? '', opts.chunks.length);
    const paceMs = opts.paceMs ?? 0;
    const prebuffer = Math.max(1, opts.prebufferChunks ?? 1);
    let late = opts.lateChunks ?? 0;
    const startedAt = performance.now();
    let bytes = 0;
    for (let i = 0; i < opts.chunks.length; i++) {
      if (i >= prebuffer && paceMs > 0 && !run.interrupted) {
        const wait = startedAt + (i - prebuffer + 1) * paceMs - performance.now();
        if (wait > 0) await pause(run, wait);
      }
      if (this.closed) break;
      if (run.interrupted) {
        if (late === 0) break;
        late--;
      }
      const chunk = opts.chunks[i];
      const startMs = this.timeline;
      this.timeline += chunk.length / 8;
      if (pieces[i]) this.emit({ type: 'session.output_transcript.delta', delta: pieces[i], start_ms: Math.round(startMs), end_ms: Math.round(this.timeline) });
      this.emit({ type: 'session.output_audio.delta', delta: chunk.toString('base64') });
      bytes += chunk.length;
      opts.onChunkSent?.(i, performance.now());
    }
    this.speaking = null;
    return { sentMs: bytes / 8, interrupted: run.interrupted };
  }

  /** The model notices the caller talking and stops (GPT-Live handles interruptions itself). */
  interrupt(): void {
    const run = this.speaking;
    if (!run || run.interrupted) return;
    run.interrupted = true;
    run.wake?.();
  }

  /** What the caller said, as input transcript deltas (word by word). */
  hearCaller(text: string): void {
    for (const word of text.split(/(?<= )/)) {
      const start = this.timeline;
      this.emit({ type: 'session.input_transcript.delta', delta: word, start_ms: Math.round(start), end_ms: Math.round(start + 250) });
    }
  }

  /**
   * The model delegates a task to the Responses backend, which calls functions: delegation
   * created, then the backend's Responses stream wrapped in response.event (created, the calls'
   * items with their arguments, completed). The outputs are awaited from response.item.create.
   */
  delegate(calls: { name: string; arguments: string; callId?: string }[]): { delegationId: string; responseId: string; callIds: string[] } {
    if (this.delegation !== 'responses') throw new Error('fake: delegate() needs Responses delegation');
    const delegationId = realtimeId('dlg');
    const responseId = realtimeId('resp');
    this.emit({
      type: 'session.delegation.created',
      delegation: { id: delegationId, type: 'delegation', target: 'responses', response_id: responseId },
      offset_ms: Math.round(this.timeline),
    });
    const model = this.backendModel();
    this.backendEvent(delegationId, { type: 'response.created', sequence_number: 0, response: backendResponse(responseId, model, 'in_progress') });
    const callIds: string[] = [];
    calls.forEach((call, index) => {
      const callId = call.callId ?? realtimeId('call');
      callIds.push(callId);
      this.calls.set(callId, { callId, name: call.name, output: null });
      const item = { type: 'function_call' as const, id: realtimeId('fc'), call_id: callId, name: call.name, arguments: '', status: 'in_progress' as const };
      this.backendEvent(delegationId, { type: 'response.output_item.added', sequence_number: 1 + index * 3, output_index: index, item });
      this.backendEvent(delegationId, {
        type: 'response.function_call_arguments.done',
        sequence_number: 2 + index * 3,
        output_index: index,
        item_id: item.id,
        arguments: call.arguments,
      });
      this.backendEvent(delegationId, {
        type: 'response.output_item.done',
        sequence_number: 3 + index * 3,
        output_index: index,
        item: { ...item, arguments: call.arguments, status: 'completed' },
      });
    });
    this.backendEvent(delegationId, {
      type: 'response.completed',
      sequence_number: 1 + calls.length * 3,
      response: backendResponse(responseId, model, 'completed', 60),
    });
    return { delegationId, responseId, callIds };
  }

  /** The backend answers with text (e.g. after the tool outputs and response.create): the model is to speak it. */
  backendAnswer(text: string, delegationId: string | null = null): string {
    const responseId = realtimeId('resp');
    const model = this.backendModel();
    const item = { type: 'message' as const, id: realtimeId('msg'), role: 'assistant' as const, status: 'in_progress' as const, content: [] };
    this.backendEvent(delegationId, { type: 'response.created', sequence_number: 0, response: backendResponse(responseId, model, 'in_progress') });
    this.backendEvent(delegationId, { type: 'response.output_item.added', sequence_number: 1, output_index: 0, item });
    this.backendEvent(delegationId, {
      type: 'response.output_text.delta',
      sequence_number: 2,
      output_index: 0,
      item_id: item.id,
      content_index: 0,
      delta: text,
      logprobs: [],
    });
    this.backendEvent(delegationId, {
      type: 'response.output_item.done',
      sequence_number: 3,
      output_index: 0,
      item: { ...item, status: 'completed', content: [{ type: 'output_text', text, annotations: [] }] },
    });
    this.backendEvent(delegationId, {
      type: 'response.completed',
      sequence_number: 4,
      response: backendResponse(responseId, model, 'completed', 40 + Math.ceil(text.length / 4)),
    });
    return responseId;
  }

  /** Client delegation: the model hands a task to the application, which answers with commentary or thinking. */
  delegateToClient(): string {
    if (this.delegation !== 'client') throw new Error('fake: delegateToClient() needs client delegation');
    const id = realtimeId('dlg');
    this.clientDelegations.add(id);
    this.emit({ type: 'session.delegation.created', delegation: { id, type: 'delegation', target: 'client' }, offset_ms: Math.round(this.timeline) });
    return id;
  }

  /** Function calls of the backend still waiting for their output. */
  get pendingCalls(): string[] {
    return [...this.calls.values()].filter((c) => c.output === null).map((c) => c.callId);
  }

  error(opts: { type?: string; code: string; message: string; param?: string; clientEventId?: string }): void {
    this.sendError({
      type: opts.type ?? 'invalid_request_error',
      code: opts.code,
      message: opts.message,
      param: opts.param,
      client_event_id: opts.clientEventId,
    });
  }

  /** The service ends the session: session.closed with its reason and final usage, then the socket closes. */
  closeSession(reason: 'close_requested' | 'expired' | 'content' | 'remote_hangup' | 'connection_lost'): void {
    if (this.closed || this.closedReason) return;
    this.closedReason = reason;
    this.stopTimers();
    this.speaking?.wake?.();
    this.finalSeconds = this.seconds;
    if (this.session) this.emit({ type: 'session.closed', reason, session: this.session, usage: { seconds: this.finalSeconds } });
    this.ws.close(1000, reason);
  }

  /** Server-initiated close without session.closed. */
  close(code = 1000, reason = ''): void {
    this.ws.close(code, reason);
  }

  /** Abrupt loss of the connection (the client sees 1006). */
  drop(): void {
    this.ws.terminate();
  }

  // ---- protocol handling ----

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.frozen) return;
    let event: unknown;
    try {
      event = isBinary ? undefined : JSON.parse(data.toString());
    } catch {
      event = undefined;
    }
    if (!isRecord(event) || typeof event.type !== 'string') {
      return this.sendError({ type: 'invalid_request_error', code: 'invalid_json', message: 'The server could not parse the event.' });
    }
    const clientEvent = event as unknown as ClientEvent;
    if (clientEvent.type === 'session.input_audio.append') this.appends++;
    if (this.opts.recordAudio !== false || clientEvent.type !== 'session.input_audio.append') this.log.push(clientEvent);
    const eventId = typeof event.event_id === 'string' ? event.event_id : undefined;
    try {
      this.handle(clientEvent);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      return this.sendError({ type: 'invalid_request_error', code: err.code, message: err.message, param: err.param, client_event_id: eventId });
    }
    for (const observer of this.observers) observer(clientEvent);
  }

  private handle(event: ClientEvent): void {
    if (event.type === 'session.start') return this.onStart(event);
    if (!this.started) {
      throw new Refusal('session_not_started', `'${event.type}' before session.started: send session.start first and wait for session.started.`);
    }
    if (this.closedReason) throw new Refusal('session_closed', 'The session is closing.');
    switch (event.type) {
      case 'session.input_audio.append': {
        const audio: unknown = event.audio;
        if (typeof audio !== 'string' || !BASE64.test(audio)) throw invalidValue('audio', 'expected base64-encoded audio');
        const bytes = Buffer.from(audio, 'base64');
        if (this.opts.recordAudio !== false) this.audioIn.push(bytes);
        this.audioInBytes += bytes.length;
        this.log.notify();
        return;
      }
      case 'session.update':
        return this.onUpdate(event);
      case 'session.commentary.append':
      case 'session.thinking.append':
      case 'session.instructions.append':
        return this.onAppend(event);
      case 'response.item.create':
        return this.onItemCreate(event);
      case 'response.create':
        if (this.delegation !== 'responses') throw new Refusal('invalid_request', 'response.create requires Responses delegation.');
        return;
      case 'session.input_audio.mute':
        return this.emit({ type: 'session.input_audio.muted', client_event_id: event.event_id ?? undefined });
      case 'session.input_audio.unmute':
        return this.emit({ type: 'session.input_audio.unmuted', client_event_id: event.event_id ?? undefined });
      case 'session.close':
        return this.closeSession('close_requested');
      default:
        throw invalidValue('type', `'${(event as { type: string }).type}' is not a GPT-Live client event this fake supports`);
    }
  }

  private onStart(event: SessionStartEvent): void {
    if (this.start) throw new Refusal('session_already_started', 'session.start was already sent on this connection.');
    const session: unknown = event.session;
    if (!isRecord(session)) throw new Refusal('missing_required_parameter', "Missing required parameter: 'session'.", 'session');
    validateSession(session);
    this.start = session as unknown as SessionConfig;
    const started = (): void => {
      this.startTimer = null;
      if (this.closed) return;
      this.startedAt = performance.now();
      const seconds = this.opts.sessionSeconds ?? 3600;
      const config = this.start!;
      this.session = {
        id: realtimeId('live'),
        model: config.model,
        status: 'active',
        expires_at: Math.round(Date.now() / 1000 + seconds),
        instructions: config.instructions ?? '',
        audio: { format: config.audio?.format, output: { voice: config.audio?.output?.voice ?? 'marin' } },
        // A copy: updates change the resolved session, never `start` (what was sent).
        delegation: config.delegation ? structuredClone(config.delegation) : { type: 'client' },
        input: config.input,
        store: config.store ?? false,
      };
      this.emit({ type: 'session.started', session: this.session, client_event_id: event.event_id ?? undefined });
      this.log.notify();
      this.expiryTimer = setTimeout(() => this.closeSession('expired'), seconds * 1000);
      const every = this.opts.usageIntervalMs ?? 1000;
      if (every > 0) this.usageTimer = setInterval(() => this.emit({ type: 'session.usage.updated', usage: { seconds: this.seconds } }), every);
    };
    const delay = this.opts.startDelayMs ?? 0;
    if (delay > 0) this.startTimer = setTimeout(started, delay);
    else started();
  }

  /**
   * session.update as the types define it (SessionUpdateConfig): only `delegation` and `triggers`;
   * the delegation's owner cannot change, and its settings are sparse (omitted ones keep their
   * values). For Responses delegation that is the backend's instructions, model, tools, reasoning…
   * (ResponsesDelegationUpdateConfig); the Live model's own instructions are immutable.
   */
  private onUpdate(event: SessionUpdateEvent): void {
    const patch: unknown = event.session;
    if (!isRecord(patch)) throw new Refusal('missing_required_parameter', "Missing required parameter: 'session'.", 'session');
    for (const key of Object.keys(patch)) {
      if (SESSION_KEYS.has(key) && key !== 'delegation' && key !== 'triggers') {
        throw new Refusal('immutable_parameter', `'session.${key}' cannot change after the session started.`, `session.${key}`);
      }
      if (key !== 'delegation' && key !== 'triggers') throw unknownParameter(`session.${key}`);
    }
    if (patch.triggers !== undefined && !Array.isArray(patch.triggers)) throw invalidValue('session.triggers', 'expected an array');
    const delegation = patch.delegation;
    if (delegation !== undefined) {
      // null would remove the delegation: a change of owner like any other.
      if (!isRecord(delegation) || delegation.type !== this.delegation) {
        throw new Refusal('immutable_parameter', 'The delegation type cannot change after the session started.', 'session.delegation.type');
      }
      const keys = delegation.type === 'responses' ? ['type', 'responses', 'acknowledgement_delay_ms'] : ['type', 'acknowledgement_delay_ms'];
      for (const key of Object.keys(delegation)) if (!keys.includes(key)) throw unknownParameter(`session.delegation.${key}`);
      validateAcknowledgementDelay(delegation.acknowledgement_delay_ms, 'session.delegation.acknowledgement_delay_ms');
      if (delegation.responses !== undefined) validateResponses(delegation.responses, 'session.delegation.responses', false);
    }
    // Accepted: applied to the resolved session only now, so a refused update changes nothing.
    this.updates.push(event.session);
    if (isRecord(delegation)) {
      const current = this.session!.delegation as { acknowledgement_delay_ms?: number; responses?: Record<string, unknown> };
      if (typeof delegation.acknowledgement_delay_ms === 'number') current.acknowledgement_delay_ms = delegation.acknowledgement_delay_ms;
      if (isRecord(delegation.responses) && current.responses) current.responses = { ...current.responses, ...structuredClone(delegation.responses) };
    }
    this.emit({ type: 'session.updated', session: this.session!, client_event_id: event.event_id ?? undefined });
  }

  private onAppend(event: ClientEventOf<'session.commentary.append' | 'session.thinking.append' | 'session.instructions.append'>): void {
    const raw = event as unknown as Record<string, unknown>;
    for (const key of Object.keys(raw)) if (!['type', 'event_id', 'content', 'delegation_id'].includes(key)) throw unknownParameter(key);
    if (!('delegation_id' in raw))
      throw new Refusal('missing_required_parameter', "Missing required parameter: 'delegation_id' (null for general context).", 'delegation_id');
    const delegationId = raw.delegation_id;
    if (delegationId !== null) {
      if (typeof delegationId !== 'string') throw invalidValue('delegation_id', 'expected a string or null');
      if (this.delegation === 'responses') throw invalidValue('delegation_id', 'non-null delegation ids are not accepted with Responses delegation');
      if (!this.clientDelegations.has(delegationId)) throw invalidValue('delegation_id', `no delegation '${delegationId}'`);
    }
    const content = raw.content;
    if (typeof content !== 'string' || content.trim() === '') throw invalidValue('content', 'expected non-empty text');
    if (content.length > MAX_APPEND_TOKENS * CHARS_PER_TOKEN)
      throw new Refusal('content_too_long', `'content' is limited to ${MAX_APPEND_TOKENS} tokens.`, 'content');
    const type = event.type.slice('session.'.length, -'.append'.length) as 'commentary' | 'thinking' | 'instructions';
    this.appended.push({ type, delegationId, content });
    const start = Math.round(this.timeline);
    const ack = { start_ms: start, end_ms: start, client_event_id: event.event_id ?? undefined };
    if (type === 'commentary') this.emit({ type: 'session.commentary.appended', ...ack });
    else if (type === 'thinking') this.emit({ type: 'session.thinking.appended', ...ack });
    else this.emit({ type: 'session.instructions.appended', ...ack });
  }

  private onItemCreate(event: ResponseItemCreateEvent): void {
    if (this.delegation !== 'responses') throw new Refusal('invalid_request', 'response.item.create requires Responses delegation.');
    const item: unknown = event.item;
    if (!isRecord(item) || typeof item.type !== 'string') throw new Refusal('missing_required_parameter', "Missing required parameter: 'item'.", 'item');
    if (item.type !== 'function_call_output') return;
    const call = this.calls.get(String(item.call_id));
    if (!call) throw invalidValue('item.call_id', `no function call '${String(item.call_id)}' in this session`);
    if (call.output !== null) throw invalidValue('item.call_id', `function call '${call.callId}' already has an output`);
    if (typeof item.output !== 'string') throw invalidValue('item.output', 'expected a string');
    call.output = item.output;
    this.toolOutputs.push({ callId: call.callId, output: item.output });
  }

  // ---- helpers ----

  private backendModel(): string {
    return this.backend?.model ?? 'gpt-5.4-mini';
  }

  private backendEvent(delegationId: string | null, event: ResponseStreamEvent): void {
    this.emit({ type: 'response.event', delegation_id: delegationId, event: event as unknown as Record<string, unknown> });
  }

  private stopTimers(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    if (this.usageTimer) clearInterval(this.usageTimer);
    if (this.startTimer) clearTimeout(this.startTimer);
    this.expiryTimer = this.usageTimer = this.startTimer = null;
  }

  private sendError(error: { type: string; code: string; message: string; param?: string; client_event_id?: string }): void {
    const full: LiveError = { type: error.type, code: error.code, message: error.message };
    if (error.param !== undefined) full.param = error.param;
    if (error.client_event_id !== undefined) full.client_event_id = error.client_event_id;
    this.errors.push(full);
    this.emit({ type: 'error', error: full, client_event_id: error.client_event_id });
  }

  private emit(body: ServerEventBody): void {
    if (this.ws.readyState !== WebSocket.OPEN || this.frozen) return;
    this.ws.send(JSON.stringify({ event_id: realtimeId('event'), ...body }));
  }
}

// ---- session.start validation: what the real service refuses ----

function validateSession(session: Record<string, unknown>): void {
  for (const key of Object.keys(session)) if (!SESSION_KEYS.has(key)) throw unknownParameter(`session.${key}`);
  if (typeof session.model !== 'string' || session.model === '')
    throw new Refusal('missing_required_parameter', "Missing required parameter: 'session.model'.", 'session.model');
  if (!/^gpt-live-/.test(session.model))
    throw new Refusal('model_not_found', `The model '${session.model}' does not exist or you do not have access to it.`, 'session.model');
  if (session.instructions !== undefined && session.instructions !== null) {
    if (typeof session.instructions !== 'string') throw invalidValue('session.instructions', 'expected a string');
    if (session.instructions.length > MAX_INSTRUCTIONS_TOKENS * CHARS_PER_TOKEN) throw invalidValue('session.instructions', 'longer than 16,384 tokens');
  }
  if (session.store !== undefined && typeof session.store !== 'boolean') throw invalidValue('session.store', 'expected a boolean');
  if (session.audio !== undefined) validateAudio(session.audio);
  if (session.delegation !== undefined && session.delegation !== null) validateDelegation(session.delegation);
  if (session.input !== undefined) validateInput(session.input);
}

function validateAudio(audio: unknown): void {
  if (!isRecord(audio)) throw invalidValue('session.audio', 'expected an object');
  for (const key of Object.keys(audio)) if (!AUDIO_KEYS.has(key)) throw unknownParameter(`session.audio.${key}`);
  const format = audio.format;
  if (format !== undefined) {
    if (!isRecord(format)) throw invalidValue('session.audio.format', 'expected an object');
    for (const key of Object.keys(format)) if (key !== 'type' && key !== 'rate') throw unknownParameter(`session.audio.format.${key}`);
    if (format.type === 'audio/pcm') {
      if (format.rate !== 16000 && format.rate !== 24000) throw invalidValue('session.audio.format.rate', 'audio/pcm supports 16000 or 24000');
    } else if (format.type === 'audio/pcmu' || format.type === 'audio/pcma') {
      // Unlike the Realtime API, G.711 needs its rate stated.
      if (format.rate === undefined)
        throw new Refusal('missing_required_parameter', "Missing required parameter: 'session.audio.format.rate'.", 'session.audio.format.rate');
      if (format.rate !== 8000) throw invalidValue('session.audio.format.rate', 'G.711 audio uses 8000 Hz');
    } else throw invalidValue('session.audio.format.type', "expected 'audio/pcm', 'audio/pcmu' or 'audio/pcma'");
  }
  const output = audio.output;
  if (output !== undefined) {
    if (!isRecord(output)) throw invalidValue('session.audio.output', 'expected an object');
    for (const key of Object.keys(output)) if (key !== 'voice') throw unknownParameter(`session.audio.output.${key}`);
    const voice = output.voice;
    if (voice !== undefined && !(typeof voice === 'string' ? VOICES.has(voice) : isRecord(voice) && typeof voice.id === 'string')) {
      throw invalidValue('session.audio.output.voice', 'not a built-in voice');
    }
  }
}

function validateDelegation(delegation: unknown): void {
  if (!isRecord(delegation)) throw invalidValue('session.delegation', 'expected an object');
  if (delegation.type === 'client') {
    for (const key of Object.keys(delegation)) if (key !== 'type' && key !== 'acknowledgement_delay_ms') throw unknownParameter(`session.delegation.${key}`);
    return validateAcknowledgementDelay(delegation.acknowledgement_delay_ms, 'session.delegation.acknowledgement_delay_ms');
  }
  if (delegation.type !== 'responses') throw invalidValue('session.delegation.type', "this fake supports 'client' and 'responses'");
  for (const key of Object.keys(delegation))
    if (!['type', 'responses', 'acknowledgement_delay_ms'].includes(key)) throw unknownParameter(`session.delegation.${key}`);
  validateAcknowledgementDelay(delegation.acknowledgement_delay_ms, 'session.delegation.acknowledgement_delay_ms');
  validateResponses(delegation.responses, 'session.delegation.responses', true);
}

function validateAcknowledgementDelay(value: unknown, where: string): void {
  if (value !== undefined && !(typeof value === 'number' && Number.isInteger(value) && value >= 0)) throw invalidValue(where, 'expected milliseconds');
}

/**
 * The backend's settings: ResponsesDelegationConfig at start (`modelRequired`), or the sparse
 * ResponsesDelegationUpdateConfig of a session.update, where `model` may be omitted but not null.
 */
function validateResponses(responses: unknown, where: string, modelRequired: boolean): void {
  if (!isRecord(responses)) throw new Refusal('missing_required_parameter', `Missing required parameter: '${where}'.`, where);
  for (const key of Object.keys(responses)) if (!RESPONSES_KEYS.has(key)) throw unknownParameter(`${where}.${key}`);
  if (modelRequired && responses.model === undefined) {
    throw new Refusal('missing_required_parameter', `Missing required parameter: '${where}.model'.`, `${where}.model`);
  }
  if (responses.model !== undefined && (typeof responses.model !== 'string' || responses.model === ''))
    throw invalidValue(`${where}.model`, 'expected a model name');
  const instructions = responses.instructions;
  if (instructions !== undefined && instructions !== null) {
    if (typeof instructions !== 'string') throw invalidValue(`${where}.instructions`, 'expected a string');
    if (instructions.length > MAX_INSTRUCTIONS_TOKENS * CHARS_PER_TOKEN) throw invalidValue(`${where}.instructions`, 'longer than 16,384 tokens');
  }
  const maxTokens = responses.max_output_tokens;
  if (maxTokens !== undefined && maxTokens !== null && !(typeof maxTokens === 'number' && Number.isInteger(maxTokens) && maxTokens > 0)) {
    throw invalidValue(`${where}.max_output_tokens`, 'expected a positive integer');
  }
  const parallel = responses.parallel_tool_calls;
  if (parallel !== undefined && parallel !== null && typeof parallel !== 'boolean') throw invalidValue(`${where}.parallel_tool_calls`, 'expected a boolean');
  const tier = responses.service_tier;
  if (tier !== undefined && tier !== null && !(typeof tier === 'string' && SERVICE_TIERS.has(tier)))
    throw invalidValue(`${where}.service_tier`, 'unknown tier');
  const text = responses.text;
  if (text !== undefined && text !== null) {
    if (!isRecord(text)) throw invalidValue(`${where}.text`, 'expected an object');
    for (const key of Object.keys(text)) if (key !== 'verbosity') throw unknownParameter(`${where}.text.${key}`);
    if (text.verbosity !== undefined && text.verbosity !== null && !(typeof text.verbosity === 'string' && VERBOSITIES.has(text.verbosity)))
      throw invalidValue(`${where}.text.verbosity`, 'expected low, medium or high');
  }
  const choice = responses.tool_choice;
  if (choice !== undefined && !(typeof choice === 'string' ? TOOL_CHOICE_MODES.has(choice) : isRecord(choice) && typeof choice.type === 'string')) {
    throw invalidValue(`${where}.tool_choice`, 'expected auto, none, required or a tool choice object');
  }
  const reasoning = responses.reasoning;
  if (reasoning !== undefined && reasoning !== null) {
    if (!isRecord(reasoning)) throw invalidValue(`${where}.reasoning`, 'expected an object');
    for (const key of Object.keys(reasoning)) if (key !== 'effort' && key !== 'summary') throw unknownParameter(`${where}.reasoning.${key}`);
    if (reasoning.effort !== undefined && reasoning.effort !== null && !(typeof reasoning.effort === 'string' && EFFORTS.has(reasoning.effort)))
      throw invalidValue(`${where}.reasoning.effort`, 'unknown effort');
    if (reasoning.summary !== undefined && reasoning.summary !== null && !(typeof reasoning.summary === 'string' && SUMMARIES.has(reasoning.summary)))
      throw invalidValue(`${where}.reasoning.summary`, 'expected concise, detailed or auto');
  }
  const tools = responses.tools;
  if (tools === undefined) return;
  if (!Array.isArray(tools)) throw invalidValue(`${where}.tools`, 'expected an array');
  tools.forEach((tool: unknown, i) => {
    if (!isRecord(tool) || typeof tool.type !== 'string') throw invalidValue(`${where}.tools[${i}]`, 'expected a tool');
    if (tool.type !== 'function') return;
    for (const key of Object.keys(tool)) if (!FUNCTION_TOOL_KEYS.has(key)) throw unknownParameter(`${where}.tools[${i}].${key}`);
    if (typeof tool.name !== 'string' || !/^[\w-]{1,64}$/.test(tool.name)) throw invalidValue(`${where}.tools[${i}].name`, 'expected a function name');
  });
}

function validateInput(input: unknown): void {
  if (!Array.isArray(input)) throw invalidValue('session.input', 'expected an array of messages');
  if (input.length > MAX_HISTORY) throw invalidValue('session.input', `at most ${MAX_HISTORY} messages`);
  let chars = 0;
  input.forEach((raw: unknown, i) => {
    const where = `session.input[${i}]`;
    if (!isRecord(raw)) throw invalidValue(where, 'expected a message');
    for (const key of Object.keys(raw)) if (!['type', 'role', 'content', 'id', 'status'].includes(key)) throw unknownParameter(`${where}.${key}`);
    if (raw.type !== undefined && raw.type !== 'message') throw invalidValue(`${where}.type`, "expected 'message'");
    const item = raw as unknown as InitialItem;
    if (item.role !== 'developer' && item.role !== 'user' && item.role !== 'assistant')
      throw invalidValue(`${where}.role`, 'expected developer, user or assistant');
    if (!Array.isArray(item.content) || item.content.length !== 1) throw invalidValue(`${where}.content`, 'supply exactly one text part');
    const part: unknown = item.content[0];
    if (!isRecord(part) || typeof part.text !== 'string') throw invalidValue(`${where}.content[0]`, 'expected a text part');
    for (const key of Object.keys(part)) if (key !== 'type' && key !== 'text') throw unknownParameter(`${where}.content[0].${key}`);
    const allowed = item.role === 'assistant' ? ['text', 'output_text'] : ['input_text'];
    if (part.type !== undefined && !(typeof part.type === 'string' && allowed.includes(part.type)))
      throw invalidValue(`${where}.content[0].type`, `expected ${allowed.join(' or ')}`);
    if (item.role === 'assistant' && part.type === undefined)
      throw new Refusal('missing_required_parameter', `Missing required parameter: '${where}.content[0].type'.`);
    chars += part.text.length;
  });
  if (chars > MAX_HISTORY_TOKENS * CHARS_PER_TOKEN) throw invalidValue('session.input', `longer than ${MAX_HISTORY_TOKENS} tokens`);
}

function backendResponse(id: string, model: string, status: 'in_progress' | 'completed', outputTokens = 0): BackendResponse {
  // Lifecycle snapshots carry no output (granular events do), as the real service sends them.
  return {
    id,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    model,
    status,
    output: [],
    usage:
      status === 'completed'
        ? {
            input_tokens: 900,
            input_tokens_details: { cached_tokens: 600, cache_write_tokens: 0 },
            output_tokens: outputTokens,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: 900 + outputTokens,
          }
        : undefined,
  } as unknown as BackendResponse;
}

function splitText(text: string, parts: number): string[] {
  if (parts <= 0) return [];
  const pieces: string[] = [];
  for (let i = 0; i < parts; i++) pieces.push(text.slice(Math.floor((i * text.length) / parts), Math.floor(((i + 1) * text.length) / parts)));
  return pieces;
}

function pause(run: { wake: (() => void) | null }, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      run.wake = null;
      resolve();
    };
    const timer = setTimeout(done, ms);
    run.wake = done;
  });
}
