// The Realtime emulator: a fake of the OpenAI Realtime API (GA interface) over a real WebSocket
// server, for end-to-end tests, the offline demo and the benchmark. It answers the protocol on
// its own where the real service does (session.created/updated, item bookkeeping, truncation
// checks, cancellation, errors), and exposes model behaviour (speech events, audio and
// function-call responses) that tests drive explicitly, or that a ScriptedVoiceModel
// (voice-model.ts) drives from the caller's audio. Event shapes come from the `openai` package's types.
import { randomBytes } from 'node:crypto';
import { STATUS_CODES, createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type {
  ConversationItem,
  ConversationItemCreateEvent,
  ConversationItemTruncateEvent,
  RealtimeAudioConfigInput,
  RealtimeAudioConfigOutput,
  RealtimeAudioFormats,
  RealtimeClientEvent,
  RealtimeConversationItemAssistantMessage,
  RealtimeConversationItemFunctionCall,
  RealtimeError,
  RealtimeResponse,
  RealtimeResponseUsage,
  RealtimeServerEvent,
  RealtimeSessionCreateRequest,
  SessionUpdateEvent,
} from 'openai/resources/realtime/realtime';
import { DEFAULT_WAIT_MS, MessageLog, Waiters } from './waiters';

type ClientEventType = RealtimeClientEvent['type'];
type ClientEventOf<T extends ClientEventType> = Extract<RealtimeClientEvent, { type: T }>;
// The fake stamps `event_id` itself, so builders pass events without it (distributed over the
// union so each event is still checked against its own GA shape).
type WithoutEventId<E> = E extends unknown ? Omit<E, 'event_id'> : never;
type ServerEventBody = WithoutEventId<RealtimeServerEvent>;

/** The session as the fake holds it: the GA create request plus the fields the server adds. */
export type FakeSession = RealtimeSessionCreateRequest & {
  id: string;
  object: 'realtime.session';
  expires_at: number;
  audio: { input: RealtimeAudioConfigInput; output: RealtimeAudioConfigOutput };
};

export interface FakeRealtimeServerOptions {
  /** Delay before the WebSocket upgrade is accepted (a slow handshake). */
  handshakeDelayMs?: number;
  /** When set, the upgrade needs `Authorization: Bearer <key>` (or Azure's `api-key: <key>`), else HTTP 401. */
  requireApiKey?: string;
  /** Called with each accepted connection (after session.created), e.g. to attach a scripted model. */
  onConnection?: (connection: FakeRealtimeConnection) => void;
  /** Keep every appended audio chunk and append event (default true). The benchmark turns this
   * off: hundreds of calls of real-time audio would otherwise pile up in memory. */
  recordAudio?: boolean;
}

export interface AudioResponseOptions {
  /** Audio in the session's output format, one `response.output_audio.delta` per chunk. */
  chunks?: Buffer[];
  /** Spread over the chunks as transcript deltas. */
  transcript?: string;
  /** Several audio items in one response, in order (instead of `chunks`/`transcript`). */
  items?: { chunks: Buffer[]; transcript?: string }[];
  /** Delay between chunks; 0 sends everything at once. */
  paceMs?: number;
  /** Deltas still sent after a cancellation (by speech_started or response.cancel): the real
   * service has some in flight, and the app must drop them. */
  lateDeltas?: number;
  /** With `paceMs`: this many chunks go out at once before pacing starts, as the real service
   * front-loads audio. */
  prebufferChunks?: number;
  /** Called right after each chunk's delta is sent (for latency measurements). */
  onChunkSent?: (index: number, sentAt: number) => void;
}

// Top-level session fields of the GA interface. Anything else (beta names such as `voice`,
// `modalities`, `input_audio_format`) is rejected as the real service does.
const GA_SESSION_KEYS = new Set([
  'type',
  'model',
  'instructions',
  'output_modalities',
  'audio',
  'tools',
  'tool_choice',
  'max_output_tokens',
  'tracing',
  'truncation',
  'prompt',
  'include',
  'parallel_tool_calls',
  'reasoning',
]);

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

// Random bytes for ids, drawn from a pool: every event carries a fresh event_id, and one
// randomBytes() call per event showed up in the benchmark's load generator profile.
let idPool = Buffer.alloc(0);
let idPoolOffset = 0;

/** Ids shaped like the real service's: `item_`, `resp_`, `call_`, `event_`, `sess_` + 21 characters. */
export function realtimeId(prefix: string): string {
  if (idPoolOffset + 21 > idPool.length) {
    idPool = randomBytes(4096);
    idPoolOffset = 0;
  }
  let out = `${prefix}_`;
  for (let i = 0; i < 21; i++) out += ID_ALPHABET[idPool[idPoolOffset++] % ID_ALPHABET.length];
  return out;
}

// pcmu/pcma are 8 kHz, one byte per sample; pcm is 24 kHz 16-bit.
function bytesPerMs(format: RealtimeAudioFormats | undefined): number {
  return format?.type === 'audio/pcmu' || format?.type === 'audio/pcma' ? 8 : 48;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export class FakeRealtimeServer {
  readonly url: string;
  readonly connections: FakeRealtimeConnection[] = [];
  private readonly waiters = new Waiters();
  private readonly pendingUpgrades = new Set<{ timer: NodeJS.Timeout; socket: Duplex }>();
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    private readonly opts: FakeRealtimeServerOptions,
  ) {
    const { port } = http.address() as AddressInfo;
    this.url = `ws://127.0.0.1:${port}/v1/realtime`;
  }

  static async start(opts: FakeRealtimeServerOptions = {}): Promise<FakeRealtimeServer> {
    // Plain HTTP requests get 426: the endpoint only speaks WebSocket.
    const http = createServer((_req, res) => res.writeHead(426).end());
    // Pings are answered by each connection itself, so a test can make one stop answering (freeze).
    const wss = new WebSocketServer({ noServer: true, autoPong: false });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(0, '127.0.0.1', () => resolve());
    });
    const server = new FakeRealtimeServer(http, wss, opts);
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => server.onUpgrade(req, socket, head));
    return server;
  }

  /** Fault injection: refuse the next `count` upgrades with HTTP `status` (e.g. 503), as an overloaded service does. */
  refuseNext(count: number, status = 503): void {
    for (let i = 0; i < count; i++) this.refusals.push(status);
  }

  /** Upgrades refused so far by refuseNext. */
  refused = 0;
  private readonly refusals: number[] = [];

  /** Resolves when connection number `index` (0-based, in order of acceptance) exists. */
  waitForConnection(index = 0, timeoutMs = DEFAULT_WAIT_MS): Promise<FakeRealtimeConnection> {
    return this.waiters.until(
      () => this.connections[index],
      timeoutMs,
      () => `realtime connection #${index} (have ${this.connections.length})`,
    );
  }

  /** Terminates every client and stops listening. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const pending of this.pendingUpgrades) {
        clearTimeout(pending.timer);
        pending.socket.destroy();
      }
      this.pendingUpgrades.clear();
      for (const connection of this.connections) connection?.drop(); // tests may have released some
      await new Promise<void>((resolve) => this.wss.close(() => resolve()));
      this.http.closeAllConnections();
      await new Promise<void>((resolve) => this.http.close(() => resolve()));
    })();
    return this.closing;
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A client that gives up mid-handshake resets the socket; that must not crash the fake.
    socket.on('error', () => undefined);
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (this.refusals.length > 0) {
      const status = this.refusals.shift()!;
      this.refused++;
      rejectUpgrade(socket, status, {
        error: { message: 'The server had an error while processing your request.', type: 'server_error', code: null, param: null },
      });
      return;
    }
    if (this.opts.requireApiKey !== undefined && !this.authorized(req.headers, this.opts.requireApiKey)) {
      rejectUpgrade(socket, 401, {
        error: {
          message: 'Incorrect API key provided.',
          type: 'invalid_request_error',
          code: 'invalid_api_key',
          param: null,
        },
      });
      return;
    }
    const accept = (): void => {
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const connection = new FakeRealtimeConnection(ws, req, this.opts.recordAudio ?? true);
        this.connections.push(connection);
        this.waiters.notify();
        this.opts.onConnection?.(connection);
      });
    };
    const delay = this.opts.handshakeDelayMs ?? 0;
    if (delay <= 0) {
      accept();
      return;
    }
    const pending = {
      socket,
      timer: setTimeout(() => {
        this.pendingUpgrades.delete(pending);
        accept();
      }, delay),
    };
    this.pendingUpgrades.add(pending);
  }

  private authorized(headers: IncomingHttpHeaders, key: string): boolean {
    return headers.authorization === `Bearer ${key}` || headers['api-key'] === key;
  }
}

// Answers the upgrade request with a plain HTTP error, as the real endpoint does (401 for a bad key, 5xx when overloaded).
function rejectUpgrade(socket: Duplex, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
  );
}

interface ItemRecord {
  item: ConversationItem;
  /** Assistant audio produced for this item, in the output format of its response. */
  audioBytes: number;
  bytesPerMs: number;
  /** Set by a truncation: the item's audio is this long from then on. */
  truncatedMs: number | null;
  /** The assistant item's full transcript as generated (before any truncation). */
  transcript?: string;
}

interface ActiveResponse {
  id: string;
  cancelReason: 'turn_detected' | 'client_cancelled' | null;
  /** Ends the current pacing pause early, so a cancellation takes effect at once. */
  wake: (() => void) | null;
}

export class FakeRealtimeConnection {
  readonly model: string | null;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Every client event, parsed, in arrival order (including ones the fake rejected). */
  readonly received: RealtimeClientEvent[];
  /** Every `error` the fake sent, whether provoked by the client or scripted. */
  readonly errors: RealtimeError[] = [];
  readonly truncations: { itemId: string; audioEndMs: number }[] = [];
  /** The session configuration after every accepted `session.update`. */
  session: FakeSession;

  private readonly log = new MessageLog<RealtimeClientEvent>();
  private readonly items = new Map<string, ItemRecord>();
  private readonly callIds = new Set<string>();
  private readonly audioIn: Buffer[] = [];
  private audioInBytes = 0;
  private uncommittedBytes = 0;
  // Item ids in conversation order, for previous_item_id.
  private readonly order: string[] = [];
  private active: ActiveResponse | null = null;
  private assistantAudioProduced = false;
  private closeInfo: { code: number; reason: string } | null = null;
  private appends = 0;
  private readonly observers = new Set<(event: RealtimeClientEvent) => void>();
  private readonly preHandlers = new Set<(event: RealtimeClientEvent) => void>();

  constructor(
    private readonly ws: WebSocket,
    req: IncomingMessage,
    private readonly recordAudio = true,
  ) {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    this.model = url.searchParams.get('model');
    this.path = url.pathname;
    this.headers = req.headers;
    this.received = this.log.items;
    this.session = defaultSession(this.model ?? 'gpt-realtime');
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString() };
      this.active?.wake?.();
      this.log.notify();
    });
    // Resets from the client surface as 'error' then 'close'; the close is what tests observe.
    ws.on('error', () => undefined);
    ws.on('ping', (data) => {
      this.pings++;
      if (!this.frozen) ws.pong(data);
    });
    this.emit({ type: 'session.created', session: this.session });
  }

  get closed(): boolean {
    return this.closeInfo !== null;
  }

  /** Pings received from the client (answered with a pong unless frozen). */
  pings = 0;
  private frozen = false;

  /**
   * The network path dies silently (a half-open TCP connection): from now on nothing arrives from
   * the client and nothing goes back — no events, no pongs, no close.
   */
  freeze(): void {
    this.frozen = true;
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  /** A response is in progress (a new response.create would be rejected). */
  get responding(): boolean {
    return this.active !== null;
  }

  /** ms of input audio appended so far (input_audio_buffer's clock, as in speech events). */
  get inputAudioMs(): number {
    return this.inputMs();
  }

  /** Every appended chunk, concatenated (empty when the server does not record audio). */
  appendedAudio(): Buffer {
    return Buffer.concat(this.audioIn);
  }

  appendCount(): number {
    return this.appends;
  }

  /** Calls `listener` with each client event just before the fake handles it: to stage races
   * (e.g. the service's own response starting just as a client's response.create arrives). */
  beforeHandling(listener: (event: RealtimeClientEvent) => void): () => void {
    this.preHandlers.add(listener);
    return () => this.preHandlers.delete(listener);
  }

  /** Calls `listener` with every accepted client event, after the fake has handled it (so its
   * own answers, such as session.updated or an error, have gone out first). */
  observe(listener: (event: RealtimeClientEvent) => void): () => void {
    this.observers.add(listener);
    return () => this.observers.delete(listener);
  }

  /** The first event of `type` (matching `predicate`) not returned by an earlier waitFor. */
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
      () => 'the realtime socket to close',
    );
  }

  /** Sends anything as-is (no event_id added): for malformed or unusual server events. */
  send(event: RealtimeServerEvent | Record<string, unknown>): void {
    if (this.ws.readyState === WebSocket.OPEN && !this.frozen) this.ws.send(JSON.stringify(event));
  }

  /** `input_audio_buffer.speech_started`; with `interrupt_response` (the default) it also
   * cancels the response in progress, as the real server's VAD does. */
  speechStarted(itemId: string = realtimeId('item')): string {
    this.emit({
      type: 'input_audio_buffer.speech_started',
      audio_start_ms: Math.floor(this.inputMs()),
      item_id: itemId,
    });
    const turnDetection = this.session.audio.input.turn_detection;
    if (this.active && turnDetection && turnDetection.interrupt_response !== false) {
      this.cancel(this.active, 'turn_detected');
    }
    return itemId;
  }

  /** End of the user's turn: speech_stopped, committed, and the user item. */
  speechStopped(itemId: string): void {
    this.emit({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: Math.floor(this.inputMs()), item_id: itemId });
    this.commitUserItem(itemId);
  }

  userTranscript(itemId: string, text: string): void {
    this.emit({ type: 'conversation.item.input_audio_transcription.delta', item_id: itemId, content_index: 0, delta: text });
    this.emit({
      type: 'conversation.item.input_audio_transcription.completed',
      item_id: itemId,
      content_index: 0,
      transcript: text,
      usage: { type: 'tokens', input_tokens: 20, output_tokens: 5, total_tokens: 25 },
    });
  }

  /**
   * One response of assistant audio, streamed chunk by chunk; stops early when cancelled. With
   * `items`, the response holds several audio items one after the other, as gpt-realtime-2 does
   * with a spoken preamble ("let me check") and then the answer.
   */
  async audioResponse(opts: AudioResponseOptions): Promise<{ responseId: string; itemId: string; itemIds: string[] }> {
    if (this.active) throw new Error(`fake: response ${this.active.id} is still in progress`);
    const run: ActiveResponse = { id: realtimeId('resp'), cancelReason: null, wake: null };
    this.active = run;
    this.emit({ type: 'response.created', response: this.responseObject(run.id, 'in_progress', []) });
    const parts = opts.items ?? [{ chunks: opts.chunks ?? [], transcript: opts.transcript }];
    let late = opts.lateDeltas ?? 0;
    const paceMs = opts.paceMs ?? 0;
    const prebuffer = Math.max(1, opts.prebufferChunks ?? 1);
    // Chunks follow a fixed schedule from the start, so late timers do not add up to drift.
    const startedAt = performance.now();
    let sent = 0;
    const output: RealtimeConversationItemAssistantMessage[] = [];
    for (const [outputIndex, part] of parts.entries()) {
      if (this.closed || (run.cancelReason && late === 0)) break;
      const itemId = realtimeId('item');
      const record = this.addItem(itemId, { id: itemId, type: 'message', object: 'realtime.item', status: 'in_progress', role: 'assistant', content: [] });
      record.bytesPerMs = bytesPerMs(this.session.audio.output.format);
      const base = { response_id: run.id, item_id: itemId, output_index: outputIndex, content_index: 0 };
      this.emit({ type: 'response.output_item.added', response_id: run.id, output_index: outputIndex, item: record.item });
      this.emit({ type: 'conversation.item.added', item: record.item, previous_item_id: this.previousOf(itemId) });
      this.emit({ type: 'response.content_part.added', ...base, part: { type: 'audio', transcript: '' } });
      const pieces = splitText(part.transcript ?? '', part.chunks.length);
      let transcript = '';
      for (let i = 0; i < part.chunks.length; i++, sent++) {
        if (sent >= prebuffer && paceMs > 0 && !run.cancelReason) {
          const wait = startedAt + (sent - prebuffer + 1) * paceMs - performance.now();
          if (wait > 0) await pause(run, wait);
        }
        if (this.closed) break;
        if (run.cancelReason) {
          if (late === 0) break;
          late -= 1;
        }
        if (pieces[i]) {
          transcript += pieces[i];
          this.emit({ type: 'response.output_audio_transcript.delta', ...base, delta: pieces[i] });
        }
        const chunk = part.chunks[i];
        record.audioBytes += chunk.length;
        this.assistantAudioProduced = true;
        this.emit({ type: 'response.output_audio.delta', ...base, delta: chunk.toString('base64') });
        opts.onChunkSent?.(sent, performance.now());
      }
      // A cancelled response still closes its item and content part; the item is 'incomplete'.
      const done: RealtimeConversationItemAssistantMessage = {
        id: itemId,
        type: 'message',
        object: 'realtime.item',
        status: run.cancelReason ? 'incomplete' : 'completed',
        role: 'assistant',
        content: [{ type: 'output_audio', transcript }],
      };
      record.item = done;
      record.transcript = transcript;
      // A truncation that came while the item was streaming has already deleted the unheard text.
      if (record.truncatedMs !== null) this.cutTranscript(record);
      this.emit({ type: 'response.output_audio.done', ...base });
      this.emit({ type: 'response.output_audio_transcript.done', ...base, transcript });
      this.emit({ type: 'response.content_part.done', ...base, part: { type: 'audio', transcript } });
      this.emit({ type: 'response.output_item.done', response_id: run.id, output_index: outputIndex, item: done });
      this.emit({ type: 'conversation.item.done', item: done, previous_item_id: this.previousOf(itemId) });
      output.push(done);
    }
    const cancelled = run.cancelReason !== null;
    this.active = null;
    this.emit({ type: 'response.done', response: this.responseObject(run.id, cancelled ? 'cancelled' : 'completed', output, run.cancelReason) });
    const itemIds = output.map((item) => item.id!);
    return { responseId: run.id, itemId: itemIds[0], itemIds };
  }

  /** One response holding function calls, sent at once. */
  functionCallResponse(calls: { name: string; arguments: string; callId?: string }[]): { responseId: string; callIds: string[] } {
    if (this.active) throw new Error(`fake: response ${this.active.id} is still in progress`);
    const responseId = realtimeId('resp');
    this.emit({ type: 'response.created', response: this.responseObject(responseId, 'in_progress', []) });
    const output: RealtimeConversationItemFunctionCall[] = [];
    calls.forEach((call, outputIndex) => {
      const callId = call.callId ?? realtimeId('call');
      const itemId = realtimeId('item');
      const started: RealtimeConversationItemFunctionCall = {
        id: itemId,
        type: 'function_call',
        object: 'realtime.item',
        status: 'in_progress',
        name: call.name,
        call_id: callId,
        arguments: '',
      };
      this.addItem(itemId, started);
      const ids = { response_id: responseId, item_id: itemId, output_index: outputIndex, call_id: callId };
      this.emit({ type: 'response.output_item.added', response_id: responseId, output_index: outputIndex, item: started });
      this.emit({ type: 'conversation.item.added', item: started, previous_item_id: this.previousOf(itemId) });
      this.emit({ type: 'response.function_call_arguments.delta', ...ids, delta: call.arguments });
      this.emit({ type: 'response.function_call_arguments.done', ...ids, name: call.name, arguments: call.arguments });
      const done: RealtimeConversationItemFunctionCall = { ...started, status: 'completed', arguments: call.arguments };
      this.items.get(itemId)!.item = done;
      this.emit({ type: 'response.output_item.done', response_id: responseId, output_index: outputIndex, item: done });
      this.emit({ type: 'conversation.item.done', item: done, previous_item_id: this.previousOf(itemId) });
      output.push(done);
    });
    this.emit({ type: 'response.done', response: this.responseObject(responseId, 'completed', output) });
    return { responseId, callIds: output.map((item) => item.call_id!) };
  }

  error(opts: { type?: string; code?: string; message: string; param?: string }): void {
    this.sendError({ type: opts.type ?? 'invalid_request_error', code: opts.code ?? null, message: opts.message, param: opts.param ?? null });
  }

  /** Server-initiated close handshake (e.g. the session hit its time limit). */
  close(code = 1000, reason = ''): void {
    this.ws.close(code, reason);
  }

  /** Abrupt loss of the connection, with no close frame (the client sees 1006). */
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
    if (!isRecord(event)) {
      this.sendError({ type: 'invalid_request_error', code: 'invalid_json', message: 'The server could not parse the JSON body of the event.', param: null });
      return;
    }
    if (typeof event.type !== 'string') {
      this.sendError({ type: 'invalid_request_error', code: 'missing_required_parameter', message: "Missing required parameter: 'type'.", param: 'type' });
      return;
    }
    const clientEvent = event as unknown as RealtimeClientEvent;
    if (clientEvent.type === 'input_audio_buffer.append') this.appends++;
    if (this.recordAudio || clientEvent.type !== 'input_audio_buffer.append') this.log.push(clientEvent);
    for (const handler of this.preHandlers) handler(clientEvent);
    this.handle(clientEvent);
    for (const observer of this.observers) observer(clientEvent);
  }

  private handle(event: RealtimeClientEvent): void {
    switch (event.type) {
      case 'session.update':
        return this.onSessionUpdate(event);
      case 'input_audio_buffer.append':
        return this.onAppend(event.audio, event.event_id);
      case 'input_audio_buffer.commit':
        return this.onCommit(event.event_id);
      case 'input_audio_buffer.clear':
        this.uncommittedBytes = 0;
        return this.emit({ type: 'input_audio_buffer.cleared' });
      case 'conversation.item.create':
        return this.onItemCreate(event);
      case 'conversation.item.truncate':
        return this.onTruncate(event);
      case 'conversation.item.delete':
        if (!this.items.delete(event.item_id)) return this.itemNotFound(event.item_id, event.event_id);
        this.order.splice(this.order.indexOf(event.item_id), 1);
        return this.emit({ type: 'conversation.item.deleted', item_id: event.item_id });
      case 'conversation.item.retrieve': {
        const record = this.items.get(event.item_id);
        if (!record) return this.itemNotFound(event.item_id, event.event_id);
        return this.emit({ type: 'conversation.item.retrieved', item: this.withKeptAudio(record) });
      }
      case 'response.create':
        // Responses are scripted by the test; the fake only enforces one at a time.
        if (this.active) {
          return this.sendError({
            type: 'invalid_request_error',
            code: 'conversation_already_has_active_response',
            message: `Conversation already has an active response in progress: ${this.active.id}. Wait until the response is finished before creating a new one.`,
            param: null,
            event_id: event.event_id,
          });
        }
        return;
      case 'response.cancel':
        if (!this.active || this.active.cancelReason || (event.response_id && event.response_id !== this.active.id)) {
          return this.sendError({
            type: 'invalid_request_error',
            code: 'response_cancel_not_active',
            message: 'Cancellation failed: no active response found',
            param: null,
            event_id: event.event_id,
          });
        }
        return this.cancel(this.active, 'client_cancelled');
      case 'output_audio_buffer.clear':
        // Only WebRTC/SIP sessions have a server-side output buffer.
        return this.sendError({
          type: 'invalid_request_error',
          code: 'invalid_value',
          message: 'output_audio_buffer.clear is only supported for WebRTC and SIP connections.',
          param: 'type',
          event_id: event.event_id,
        });
      default: {
        const type: string = (event as { type: string }).type;
        return this.sendError({
          type: 'invalid_request_error',
          code: 'invalid_value',
          message: `Invalid value: '${type}'. Supported values are: 'session.update', 'input_audio_buffer.append', 'input_audio_buffer.commit', 'input_audio_buffer.clear', 'conversation.item.create', 'conversation.item.truncate', 'conversation.item.delete', 'conversation.item.retrieve', 'response.create', 'response.cancel', and 'output_audio_buffer.clear'.`,
          param: 'type',
          event_id: (event as { event_id?: string }).event_id,
        });
      }
    }
  }

  private onSessionUpdate(event: SessionUpdateEvent): void {
    const patch: unknown = event.session;
    const eventId = event.event_id;
    if (!isRecord(patch)) {
      return this.sendError({
        type: 'invalid_request_error',
        code: 'missing_required_parameter',
        message: "Missing required parameter: 'session'.",
        param: 'session',
        event_id: eventId,
      });
    }
    if (patch.type !== 'realtime') {
      return this.sendError({
        type: 'invalid_request_error',
        code: patch.type === undefined ? 'missing_required_parameter' : 'invalid_value',
        message:
          patch.type === undefined
            ? "Missing required parameter: 'session.type'."
            : `Invalid value: '${JSON.stringify(patch.type)}'. Supported values are: 'realtime'.`,
        param: 'session.type',
        event_id: eventId,
      });
    }
    const unknown = Object.keys(patch).find((key) => !GA_SESSION_KEYS.has(key));
    if (unknown) {
      return this.sendError({
        type: 'invalid_request_error',
        code: 'unknown_parameter',
        message: `Unknown parameter: 'session.${unknown}'.`,
        param: `session.${unknown}`,
        event_id: eventId,
      });
    }
    const audio = isRecord(patch.audio) ? patch.audio : {};
    const input = isRecord(audio.input) ? (audio.input as RealtimeAudioConfigInput) : {};
    const output = isRecord(audio.output) ? (audio.output as RealtimeAudioConfigOutput) : {};
    const voice = output.voice;
    if (voice !== undefined && this.assistantAudioProduced && JSON.stringify(voice) !== JSON.stringify(this.session.audio.output.voice)) {
      return this.sendError({
        type: 'invalid_request_error',
        code: 'cannot_update_voice',
        message: "Cannot update a conversation's voice if assistant audio is present.",
        param: 'session.audio.output.voice',
        event_id: eventId,
      });
    }
    // Top-level fields replace; audio.input/output merge field by field, so an update that
    // omits e.g. noise_reduction leaves it as it was. Values such as format or
    // turn_detection are replaced whole, never mixed with the old value.
    this.session = {
      ...this.session,
      ...(patch as Partial<FakeSession>),
      id: this.session.id,
      object: 'realtime.session',
      expires_at: this.session.expires_at,
      audio: {
        input: { ...this.session.audio.input, ...input },
        output: { ...this.session.audio.output, ...output },
      },
    };
    this.emit({ type: 'session.updated', session: this.session });
  }

  private onAppend(audio: unknown, eventId: string | undefined): void {
    if (typeof audio !== 'string' || !BASE64.test(audio)) {
      return this.sendError({
        type: 'invalid_request_error',
        code: 'invalid_value',
        message: "Invalid 'audio'. Expected base64-encoded audio bytes.",
        param: 'audio',
        event_id: eventId,
      });
    }
    const bytes = base64Length(audio);
    if (this.recordAudio) this.audioIn.push(Buffer.from(audio, 'base64'));
    this.audioInBytes += bytes;
    this.uncommittedBytes += bytes;
    this.log.notify();
  }

  private onCommit(eventId: string | undefined): void {
    const ms = this.uncommittedBytes / bytesPerMs(this.session.audio.input.format);
    if (ms < 100) {
      return this.sendError({
        type: 'invalid_request_error',
        code: 'input_audio_buffer_commit_empty',
        message: `Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has ${ms.toFixed(2)}ms of audio.`,
        param: null,
        event_id: eventId,
      });
    }
    this.commitUserItem(realtimeId('item'));
  }

  private onItemCreate(event: ConversationItemCreateEvent): void {
    const item: unknown = event.item;
    if (!isRecord(item) || typeof item.type !== 'string') {
      return this.sendError({
        type: 'invalid_request_error',
        code: 'missing_required_parameter',
        message: "Missing required parameter: 'item'.",
        param: 'item',
        event_id: event.event_id,
      });
    }
    if (item.type === 'function_call_output' && !this.callIds.has(String(item.call_id))) {
      return this.sendError({
        type: 'invalid_request_error',
        code: 'invalid_value',
        message: `Tool call ID '${String(item.call_id)}' not found in conversation.`,
        param: 'item.call_id',
        event_id: event.event_id,
      });
    }
    if (typeof item.id === 'string' && this.items.has(item.id)) {
      return this.sendError({
        type: 'invalid_request_error',
        code: 'item_id_already_exists',
        message: `Item with id '${item.id}' already exists.`,
        param: 'item.id',
        event_id: event.event_id,
      });
    }
    if (event.previous_item_id !== undefined && event.previous_item_id !== 'root' && !this.items.has(event.previous_item_id)) {
      return this.itemNotFound(event.previous_item_id, event.event_id);
    }
    const id = typeof item.id === 'string' ? item.id : realtimeId('item');
    const full = { ...item, id, object: 'realtime.item', status: 'completed' } as ConversationItem;
    this.addItem(id, full, event.previous_item_id);
    const previous = this.previousOf(id);
    this.emit({ type: 'conversation.item.added', item: full, previous_item_id: previous });
    this.emit({ type: 'conversation.item.done', item: full, previous_item_id: previous });
  }

  private onTruncate(event: ConversationItemTruncateEvent): void {
    const eventId = event.event_id;
    const record = this.items.get(event.item_id);
    if (!record) {
      return this.sendError({
        type: 'invalid_request_error',
        code: 'item_truncate_invalid_item_id',
        message: `Item with item_id not found: ${String(event.item_id)}`,
        param: 'item_id',
        event_id: eventId,
      });
    }
    if (record.item.type !== 'message' || record.item.role !== 'assistant') {
      return this.sendError({
        type: 'invalid_request_error',
        code: 'invalid_value',
        message: 'Only assistant messages can be truncated.',
        param: 'item_id',
        event_id: eventId,
      });
    }
    if (event.content_index !== 0) {
      return this.sendError({
        type: 'invalid_request_error',
        code: 'invalid_value',
        message: `Invalid 'content_index': ${String(event.content_index)}. The item has no such content part.`,
        param: 'content_index',
        event_id: eventId,
      });
    }
    const haveMs = Math.min(record.audioBytes / record.bytesPerMs, record.truncatedMs ?? Infinity);
    const endMs: unknown = event.audio_end_ms;
    if (typeof endMs !== 'number' || !Number.isInteger(endMs)) {
      return this.sendError({
        type: 'invalid_request_error',
        code: 'invalid_type',
        message: `Invalid type for 'audio_end_ms': expected an integer, but got ${JSON.stringify(endMs)} instead.`,
        param: 'audio_end_ms',
        event_id: eventId,
      });
    }
    if (endMs < 0 || endMs > haveMs) {
      return this.sendError({
        type: 'invalid_request_error',
        code: 'invalid_value',
        message: `Invalid 'audio_end_ms': ${endMs}. Audio content of ${haveMs}ms is already shorter than ${endMs}ms.`,
        param: 'audio_end_ms',
        event_id: eventId,
      });
    }
    record.truncatedMs = endMs;
    // The service deletes the transcript of the audio the user did not hear.
    if (record.transcript !== undefined) this.cutTranscript(record);
    this.truncations.push({ itemId: event.item_id, audioEndMs: endMs });
    this.emit({ type: 'conversation.item.truncated', item_id: event.item_id, content_index: 0, audio_end_ms: endMs });
  }

  // ---- helpers ----

  /**
   * As the service answers a retrieve: an assistant item's audio part carries its kept audio
   * (base64, up to the truncation point). The fake does not keep the bytes it streamed, so it sends
   * μ-law silence of the same length: what a client sees of it is its size.
   */
  private withKeptAudio(record: ItemRecord): ConversationItem {
    const item = record.item;
    if (item.type !== 'message' || item.role !== 'assistant' || record.audioBytes === 0) return item;
    const keptBytes = Math.min(record.audioBytes, (record.truncatedMs ?? Infinity) * record.bytesPerMs);
    const audio = Buffer.alloc(keptBytes, 0xff).toString('base64');
    return { ...item, content: item.content.map((part, i) => (i === 0 && part.type === 'output_audio' ? { ...part, audio } : part)) };
  }

  // Keeps the share of the transcript that the kept audio spoke (text and audio advance together).
  private cutTranscript(record: ItemRecord): void {
    const totalMs = record.audioBytes / record.bytesPerMs;
    const text = record.transcript ?? '';
    const keep = totalMs > 0 ? Math.floor((text.length * Math.min(record.truncatedMs ?? totalMs, totalMs)) / totalMs) : 0;
    const space = text.lastIndexOf(' ', keep);
    const cut = keep >= text.length ? text : text.slice(0, space > 0 ? space : keep);
    record.item = { ...(record.item as RealtimeConversationItemAssistantMessage), content: [{ type: 'output_audio', transcript: cut }] };
  }

  private commitUserItem(itemId: string): void {
    const previous = this.order.at(-1) ?? null;
    this.emit({ type: 'input_audio_buffer.committed', item_id: itemId, previous_item_id: previous });
    const item: ConversationItem = {
      id: itemId,
      type: 'message',
      object: 'realtime.item',
      status: 'completed',
      role: 'user',
      content: [{ type: 'input_audio' }],
    };
    this.addItem(itemId, item);
    this.uncommittedBytes = 0;
    this.emit({ type: 'conversation.item.added', item, previous_item_id: previous });
    this.emit({ type: 'conversation.item.done', item, previous_item_id: previous });
  }

  // Appends the item, or inserts it after `after` ('root' = at the start), as
  // conversation.item.create's previous_item_id does.
  private addItem(id: string, item: ConversationItem, after?: string): ItemRecord {
    const record: ItemRecord = { item, audioBytes: 0, bytesPerMs: 8, truncatedMs: null };
    this.items.set(id, record);
    if (item.type === 'function_call' && item.call_id) this.callIds.add(item.call_id);
    const at = after === undefined ? this.order.length : after === 'root' ? 0 : this.order.indexOf(after) + 1;
    this.order.splice(at, 0, id);
    return record;
  }

  private previousOf(itemId: string): string | null {
    const index = this.order.indexOf(itemId);
    return index > 0 ? this.order[index - 1] : null;
  }

  private cancel(run: ActiveResponse, reason: 'turn_detected' | 'client_cancelled'): void {
    if (run.cancelReason) return;
    run.cancelReason = reason;
    run.wake?.();
  }

  private inputMs(): number {
    return this.audioInBytes / bytesPerMs(this.session.audio.input.format);
  }

  private responseObject(
    id: string,
    status: 'in_progress' | 'completed' | 'cancelled',
    output: ConversationItem[],
    cancelReason: 'turn_detected' | 'client_cancelled' | null = null,
  ): RealtimeResponse {
    const audioTokens = output.reduce((sum, item) => sum + (item.id ? Math.ceil((this.items.get(item.id)?.audioBytes ?? 0) / 400) : 0), 0);
    const usage: RealtimeResponseUsage = {
      total_tokens: 120 + audioTokens,
      input_tokens: 100,
      output_tokens: 20 + audioTokens,
      input_token_details: { text_tokens: 80, audio_tokens: 20, cached_tokens: 0 },
      output_token_details: { text_tokens: 20, audio_tokens: audioTokens },
    };
    return {
      id,
      object: 'realtime.response',
      status,
      status_details: cancelReason ? { type: 'cancelled', reason: cancelReason } : status === 'completed' ? { type: 'completed' } : undefined,
      output,
      conversation_id: 'conv_fake',
      output_modalities: this.session.output_modalities ?? ['audio'],
      max_output_tokens: this.session.max_output_tokens ?? 'inf',
      audio: { output: { format: this.session.audio.output.format, voice: voiceName(this.session.audio.output.voice) } },
      usage: status === 'in_progress' ? undefined : usage,
      metadata: null,
    };
  }

  private itemNotFound(itemId: string, eventId: string | undefined): void {
    this.sendError({
      type: 'invalid_request_error',
      code: 'item_not_found',
      message: `Item with item_id not found: ${itemId}`,
      param: 'item_id',
      event_id: eventId,
    });
  }

  private sendError(error: RealtimeError): void {
    const full: RealtimeError = {
      type: error.type,
      code: error.code ?? null,
      message: error.message,
      param: error.param ?? null,
      event_id: error.event_id ?? null,
    };
    this.errors.push(full);
    this.emit({ type: 'error', error: full });
  }

  private emit(body: ServerEventBody): void {
    if (this.ws.readyState !== WebSocket.OPEN || this.frozen) return;
    this.ws.send(JSON.stringify({ event_id: realtimeId('event'), ...body }));
  }
}

function defaultSession(model: string): FakeSession {
  return {
    type: 'realtime',
    object: 'realtime.session',
    id: realtimeId('sess'),
    model,
    output_modalities: ['audio'],
    instructions: '',
    tools: [],
    tool_choice: 'auto',
    max_output_tokens: 'inf',
    tracing: null,
    prompt: null,
    expires_at: Math.floor(Date.now() / 1000) + 3600,
    audio: {
      input: {
        format: { type: 'audio/pcm', rate: 24000 },
        transcription: undefined,
        noise_reduction: undefined,
        turn_detection: {
          type: 'server_vad',
          threshold: 0.5,
          prefix_padding_ms: 300,
          silence_duration_ms: 200,
          idle_timeout_ms: null,
          create_response: true,
          interrupt_response: true,
        },
      },
      output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'marin', speed: 1 },
    },
  };
}

// Decoded size of valid base64, without decoding it.
function base64Length(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return (base64.length / 4) * 3 - padding;
}

function voiceName(voice: RealtimeAudioConfigOutput['voice']): string | undefined {
  return typeof voice === 'string' ? voice : voice?.id;
}

// Splits text into `parts` contiguous pieces whose concatenation is the text.
function splitText(text: string, parts: number): string[] {
  if (parts <= 0) return [];
  const pieces: string[] = [];
  for (let i = 0; i < parts; i++) {
    pieces.push(text.slice(Math.floor((i * text.length) / parts), Math.floor(((i + 1) * text.length) / parts)));
  }
  return pieces;
}

function pause(run: ActiveResponse, ms: number): Promise<void> {
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
