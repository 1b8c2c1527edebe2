// The benchmark's load generator, a process of its own (forked by bench.ts, talking over IPC):
// the Realtime emulator (or, with `--engine live`, the GPT-Live emulator) on one side of the
// server and N simulated Twilio calls on the other, with callers talking and the model answering
// in real time, 20 ms frames both ways.
//
// Every frame is tagged in its first 6 payload bytes (uint16 index, uint32 sequence number), so
// whoever receives it looks up when it was sent: both ends live in this process, on one clock.
// What this measures is the server's relay time plus two loopback hops and this process's own
// event-loop delay, which is reported alongside so a saturated generator is visible.
import { once } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import twilio from 'twilio';
import { FRAME_BYTES } from '../emulator/audio-codec';
import { CallerMicrophone } from '../emulator/caller-microphone';
import { FakeLiveServer, type FakeLiveConnection } from '../emulator/fake-live-server';
import { FakeRealtimeServer, type FakeRealtimeConnection } from '../emulator/fake-realtime-server';
import { dial, newCallSid, sameOrigin } from '../emulator/phone';
import { TwilioCallSimulator } from '../emulator/twilio-call-simulator';
import { cpuTimeMs, cpuTimes, rssKb } from './server-process';

export type BenchEngine = 'realtime' | 'live';

export interface LoadRequest {
  type: 'run';
  serverUrl: string;
  serverPid: number;
  calls: number;
  durationMs: number;
  /** Webhook → stream `start`, as Twilio takes between our TwiML and the stream. */
  streamDelayMs: number;
  /** Unmeasured calls first, so one-time costs (JIT, lazy loading) stay out of the numbers. */
  warmupCalls: number;
  warmupMs: number;
  /** The server's V8 inspector, to read its live heap after a forced GC. */
  inspectorUrl?: string;
  /** The server's TWILIO_AUTH_TOKEN: every webhook and stream is signed, as in production. */
  twilioAuthToken: string;
}

export interface Stats {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  calls: number;
  connected: number;
  failed: string[];
  windowMs: number;
  serverCpuMs: number;
  /** The kernel's share (socket syscalls, loopback TCP) of the server's CPU time. */
  serverSystemCpuMs: number;
  serverCpuMsPerCallSecond: number;
  serverCpuPercent: number;
  /** Caller → model (Twilio media in → input_audio_buffer.append out) and model → caller. */
  relayInMs: Stats;
  relayOutMs: Stats;
  /** % of the window's frames relayed in more than SLOW_RELAY_MS, each way: a steadier view of the tail than one percentile. */
  relaySlowPercent: { in: number; out: number };
  framesIn: { sent: number; lost: number };
  framesOut: { sent: number; lost: number };
  rssBaselineKb: number;
  rssWindowKb: number;
  rssPerCallKb: number;
  /** Live memory (V8 heap used + external, after a forced full GC) with the calls up, minus before, per call. */
  liveMemoryPerCallKb: number;
  /** VmRSS right after those forced GCs, minus before, per call. */
  rssAfterGcPerCallKb: number;
  startToFirstAudioMs: Stats;
  /** The same for one call whose stream arrives without a webhook first: the server dials on `start`. */
  startToFirstAudioWithoutPredialMs: number;
  bargeIns: number;
  bargeInsWithoutClear: number;
  clearLatencyMs: Stats;
  truncationErrorMs: Stats;
  loadGenCpuPercent: number;
  loadGenLoopDelayMs: { p99: number; max: number };
  /**
   * Inside the server over the window (through its inspector): how late its event loop ran (what makes
   * a relay's tail) and its garbage collection (time per second, longest pause, full collections).
   */
  serverLoop?: { delayP99Ms: number; delayMaxMs: number; gcMsPerSecond: number; gcMaxPauseMs: number; majorGcs: number };
}

const HANDSHAKE_MS = 300;
/**
 * GPT-Live: the caller really talks over the answer (loud frames for this long) — the server's own
 * speech check is what clears the phone — and the model, full duplex, stops at once and answers
 * again LIVE_REPLY_AFTER_MS later (long enough after the caller that its reply is a new turn).
 */
const LIVE_INTERRUPT_MS = 400;
const LIVE_REPLY_AFTER_MS = 1000;
const FRAME_MS = 20;
/** Audio the model sends before pacing in real time: Twilio's buffer stays ~100 ms ahead. */
const MODEL_PREBUFFER_FRAMES = 5;
const SETTLE_MS = 1000;
const GRACE_MS = 1000;
/** Time after the interruption before the caller's turn ends and the model answers again. */
const TURN_GAP_MS = 200;

export function stats(values: number[]): Stats {
  if (values.length === 0) return { count: 0, p50: NaN, p99: NaN, max: NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] };
}

/** Relays slower than this (half a 20 ms frame) are counted: the share is a steadier view of the tail than one percentile. */
export const SLOW_RELAY_MS = 10;

function slowPercent(values: number[]): number {
  if (values.length === 0) return NaN;
  let slow = 0;
  for (const v of values) if (v > SLOW_RELAY_MS) slow++;
  return (100 * slow) / values.length;
}

function tag(frame: Buffer, index: number, seq: number): void {
  frame.writeUInt16BE(index, 0);
  frame.writeUInt32BE(seq, 2);
}

// The first 8 base64 characters are exactly the first 6 bytes.
function readTag(base64: string): { index: number; seq: number } {
  const head = Buffer.from(base64.slice(0, 8), 'base64');
  return { index: head.readUInt16BE(0), seq: head.readUInt32BE(2) };
}

/**
 * Caller frames on GPT-Live go through the server's speech check: raw tag bytes would sound like
 * clicks. The same 6 bytes are written as 12 nibbles in the quietest μ-law codes (0xF0–0xFF, under
 * 130 on the 16-bit scale), so a tagged frame of silence is still silence.
 */
function quietTag(frame: Buffer, index: number, seq: number): void {
  const bytes = [index >> 8, index & 0xff, seq >>> 24, (seq >>> 16) & 0xff, (seq >>> 8) & 0xff, seq & 0xff];
  for (let i = 0; i < 6; i++) {
    frame[2 * i] = 0xf0 | (bytes[i] >> 4);
    frame[2 * i + 1] = 0xf0 | (bytes[i] & 0x0f);
  }
}

// 12 bytes: the first 16 base64 characters.
function readQuietTag(base64: string): { index: number; seq: number } {
  const head = Buffer.from(base64.slice(0, 16), 'base64');
  const byte = (i: number): number => ((head[2 * i] & 0x0f) << 4) | (head[2 * i + 1] & 0x0f);
  return { index: (byte(0) << 8) | byte(1), seq: ((byte(2) << 24) | (byte(3) << 16) | (byte(4) << 8) | byte(5)) >>> 0 };
}

/** When each frame of one stream was sent, and whether it arrived (indexed by sequence number). */
class FrameLedger {
  sentAt: Float64Array;
  arrived: Uint8Array;

  constructor(capacity: number) {
    this.sentAt = new Float64Array(capacity);
    this.arrived = new Uint8Array(capacity);
  }

  sent(seq: number, at: number): void {
    if (seq >= this.sentAt.length) this.grow(seq);
    this.sentAt[seq] = at;
  }

  /** Returns the send time, or 0 for an unknown frame. */
  received(seq: number): number {
    if (seq >= this.sentAt.length) return 0;
    this.arrived[seq] = 1;
    return this.sentAt[seq];
  }

  private grow(seq: number): void {
    const size = Math.max(seq + 1, this.sentAt.length * 2);
    const sentAt = new Float64Array(size);
    sentAt.set(this.sentAt);
    const arrived = new Uint8Array(size);
    arrived.set(this.arrived);
    this.sentAt = sentAt;
    this.arrived = arrived;
  }
}

/** Results of one measurement window, filled as frames arrive. */
class Window {
  start = Infinity;
  end = Infinity;
  readonly relayIn: number[] = [];
  readonly relayOut: number[] = [];

  has(t: number): boolean {
    return t >= this.start && t <= this.end;
  }
}

/** What a call needs of its model side, whatever the engine. */
interface BenchModelSide {
  readonly index: number;
  readonly frames: FrameLedger;
  readonly closed: boolean;
  /** Set when the model was told how much of its answer was heard (Realtime's truncate). */
  readonly truncatedAtMs: number | null;
}

/** The model side of one call: answers every response.create with tagged real-time audio. */
class BenchModel implements BenchModelSide {
  readonly frames: FrameLedger;
  private seq = 0;
  private userItem = '';
  truncatedAtMs: number | null = null;

  constructor(
    readonly index: number,
    readonly connection: FakeRealtimeConnection,
    private readonly callers: Map<number, BenchCall>,
    private readonly window: Window,
    private readonly capacity: number,
  ) {
    this.frames = new FrameLedger(capacity);
    connection.observe((event) => {
      if (event.type === 'input_audio_buffer.append') return this.callerFrame(event.audio);
      if (event.type === 'response.create' && !connection.responding) return this.speak();
      if (event.type === 'conversation.item.truncate') this.truncatedAtMs = event.audio_end_ms;
    });
  }

  get closed(): boolean {
    return this.connection.closed;
  }

  private callerFrame(audio: string): void {
    const now = performance.now();
    const { index, seq } = readTag(audio);
    const sentAt = this.callers.get(index)?.frames.received(seq) ?? 0;
    if (sentAt && this.window.has(sentAt)) this.window.relayIn.push(now - sentAt);
  }

  /** Real-time audio until the call ends or the caller interrupts. */
  speak(): void {
    // One 20 ms buffer, re-tagged after each send: the emulator encodes a chunk when it sends it,
    // so hundreds of calls do not each hold minutes of pre-tagged audio.
    const frame = Buffer.alloc(FRAME_BYTES, 0x55);
    const base = this.seq;
    tag(frame, this.index, base);
    const chunks: Buffer[] = new Array(this.capacity).fill(frame); // longer than the run: the call ends first
    void this.connection
      .audioResponse({
        chunks,
        paceMs: FRAME_MS,
        prebufferChunks: MODEL_PREBUFFER_FRAMES,
        onChunkSent: (i, at) => {
          this.frames.sent(base + i, at);
          this.seq = base + i + 1;
          tag(frame, this.index, this.seq);
        },
      })
      .catch(() => undefined);
  }

  /** The caller talks over the answer: VAD events as the real service sends them, then a new answer. */
  interrupt(): number {
    const at = performance.now();
    this.userItem = this.connection.speechStarted();
    setTimeout(() => {
      if (this.connection.closed) return;
      this.connection.speechStopped(this.userItem);
      if (!this.connection.responding) this.speak();
    }, TURN_GAP_MS);
    return at;
  }
}

/**
 * The GPT-Live model side of one call: speaks tagged real-time audio when told to (the greeting
 * is commentary), stops by itself when its caller talks over it, and answers again after a pause.
 */
class LiveBenchModel implements BenchModelSide {
  readonly frames: FrameLedger;
  readonly truncatedAtMs = null; // GPT-Live has no truncation
  private seq = 0;

  constructor(
    readonly index: number,
    readonly connection: FakeLiveConnection,
    private readonly callers: Map<number, BenchCall>,
    private readonly window: Window,
    private readonly capacity: number,
  ) {
    this.frames = new FrameLedger(capacity);
    connection.observe((event) => {
      if (event.type === 'session.input_audio.append') return this.callerFrame(event.audio);
      if (event.type === 'session.commentary.append' && !connection.isSpeaking) return this.speak();
    });
  }

  get closed(): boolean {
    return this.connection.closed;
  }

  private callerFrame(audio: string): void {
    const now = performance.now();
    const { index, seq } = readQuietTag(audio);
    const sentAt = this.callers.get(index)?.frames.received(seq) ?? 0;
    if (sentAt && this.window.has(sentAt)) this.window.relayIn.push(now - sentAt);
  }

  speak(): void {
    if (this.connection.isSpeaking || this.connection.closed) return;
    const frame = Buffer.alloc(FRAME_BYTES, 0x55);
    const base = this.seq;
    tag(frame, this.index, base);
    const chunks: Buffer[] = new Array(this.capacity).fill(frame);
    void this.connection
      .speak({
        chunks,
        paceMs: FRAME_MS,
        prebufferChunks: MODEL_PREBUFFER_FRAMES,
        onChunkSent: (i, at) => {
          this.frames.sent(base + i, at);
          this.seq = base + i + 1;
          tag(frame, this.index, this.seq);
        },
      })
      .catch(() => undefined);
  }

  /** The caller talks over the answer: the model hears it and stops at once, then answers again. */
  interrupted(): void {
    this.connection.interrupt();
    setTimeout(() => this.speak(), LIVE_REPLY_AFTER_MS);
  }
}

/** The Twilio side of one call. */
class BenchCall {
  readonly frames: FrameLedger;
  call: TwilioCallSimulator | null = null;
  mic: CallerMicrophone | null = null;
  model: BenchModelSide | null = null;
  /** GPT-Live: the caller talks (loud frames) until then. */
  private talkingUntil = 0;
  startedAt = 0;
  firstAudioAt = 0;
  bargeInAt = 0;
  clearAt = 0;
  error: string | null = null;
  private readonly frame = Buffer.alloc(FRAME_BYTES, 0x33);

  constructor(
    readonly index: number,
    private readonly models: BenchModelSide[],
    private readonly window: Window,
    capacity: number,
    private readonly engine: BenchEngine,
  ) {
    this.frames = new FrameLedger(capacity);
  }

  /** GPT-Live: the caller talks over the answer for a moment; bargeInAt is set when its first loud frame goes out. */
  talkOver(): void {
    this.talkingUntil = performance.now() + LIVE_INTERRUPT_MS;
    this.bargeInAt = 0;
  }

  /** Webhook (which pre-dials the model), then the stream; or, with `predial` false, only the stream. */
  async place(serverUrl: string, streamDelayMs: number, token: string, predial = true): Promise<void> {
    const onMessage = (m: any, at: number): void => this.onAppMessage(m, at);
    if (predial) {
      const placed = await dial({ baseUrl: serverUrl, streamDelayMs, signatureToken: token, simulator: { record: false, onMessage } });
      this.call = placed.call;
      this.startedAt = placed.startedAt;
    } else {
      const callSid = newCallSid();
      // PUBLIC_URL is the server's own address here, so the stream URL it signs is the one we open.
      const url = sameOrigin(serverUrl, 'ws://x/ws/call');
      const headers = { 'x-twilio-signature': twilio.getExpectedTwilioSignature(token, url, {}) };
      this.call = await TwilioCallSimulator.connect(url, { callSid, customParameters: { callSid }, headers, record: false, onMessage });
      this.startedAt = performance.now();
    }
    const live = this.engine === 'live';
    const quiet = Buffer.alloc(FRAME_BYTES, 0xff);
    const loud = Buffer.alloc(FRAME_BYTES, 0x10);
    this.mic = new CallerMicrophone(this.call, {
      frame: (seq) => {
        const now = performance.now();
        this.frames.sent(seq, now);
        if (!live) {
          tag(this.frame, this.index, seq);
          return this.frame;
        }
        const talking = now < this.talkingUntil;
        if (talking && this.bargeInAt === 0) this.bargeInAt = now; // where the caller started talking
        const frame = talking ? loud : quiet;
        quietTag(frame, this.index, seq);
        return frame;
      },
    });
    this.mic.start();
  }

  private onAppMessage(m: any, at: number): void {
    if (m.event === 'media') {
      if (!this.firstAudioAt) this.firstAudioAt = at;
      const { index, seq } = readTag(m.media.payload);
      const model = this.models[index];
      if (!model) return;
      this.model ??= model;
      const sentAt = model.frames.received(seq);
      if (sentAt && this.window.has(sentAt)) this.window.relayOut.push(at - sentAt);
    } else if (m.event === 'clear' && !this.clearAt) {
      this.clearAt = at;
    }
  }

  hangUp(): void {
    this.mic?.stop();
    if (this.call && !this.call.closed) {
      this.call.sendStop();
      this.call.close();
    }
  }
}

// Frames sent in [from, to] and how many of them never arrived.
function lostBetween(ledger: FrameLedger, from: number, to: number): { sent: number; lost: number } {
  let sent = 0;
  let lost = 0;
  for (let seq = 0; seq < ledger.sentAt.length; seq++) {
    const t = ledger.sentAt[seq];
    if (t === 0 || t < from || t > to) continue;
    sent++;
    if (!ledger.arrived[seq]) lost++;
  }
  return { sent, lost };
}

async function until(probe: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!probe()) {
    if (performance.now() > deadline) return false;
    await delay(20);
  }
  return true;
}

/** Reads the server's memory through its inspector, after a full GC: what the calls really keep alive. */
class ServerHeap {
  private id = 0;
  private readonly pending = new Map<number, (result: any) => void>();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      this.pending.get(msg.id)?.(msg.result);
      this.pending.delete(msg.id);
    });
  }

  static async connect(url: string): Promise<ServerHeap> {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    await once(socket, 'open');
    return new ServerHeap(socket);
  }

  private call(method: string, params: object = {}): Promise<any> {
    const id = ++this.id;
    this.socket.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve) => this.pending.set(id, resolve));
  }

  /**
   * Live objects after a full GC: the old generation (and large objects) plus memory outside the heap
   * (socket buffers). Not the young generation, which the live calls refill with garbage between the GC
   * and this reading (up to ~8 KB per call of noise at 100 calls), nor the code spaces, where V8 keeps
   * the machine code it compiled for paths first run during the window: neither is what a call keeps.
   */
  async afterGc(pid: number): Promise<{ liveKb: number; rssKb: number }> {
    await this.call('HeapProfiler.collectGarbage');
    const result = await this.call('Runtime.evaluate', {
      expression: `JSON.stringify({
        external: process.memoryUsage().external,
        spaces: process.getBuiltinModule('node:v8').getHeapSpaceStatistics()
          .filter((s) => s.space_name === 'old_space' || s.space_name === 'large_object_space')
          .reduce((sum, s) => sum + s.space_used_size, 0),
      })`,
      returnByValue: true,
    });
    const usage = JSON.parse(result.result.value) as { spaces: number; external: number };
    return { liveKb: (usage.spaces + usage.external) / 1024, rssKb: rssKb(pid) };
  }

  /**
   * Starts watching the server's event loop delay and GC pauses (perf_hooks, injected from outside so
   * that any build can be measured, also one that predates this benchmark).
   */
  async watchLoop(): Promise<void> {
    await this.call('Runtime.evaluate', {
      expression: `(() => {
        const ph = process.getBuiltinModule('node:perf_hooks');
        const delay = ph.monitorEventLoopDelay({ resolution: 5 });
        const gc = { ms: 0, max: 0, major: 0 };
        const observer = new ph.PerformanceObserver((list) => {
          for (const e of list.getEntries()) {
            gc.ms += e.duration;
            if (e.duration > gc.max) gc.max = e.duration;
            if (e.detail && e.detail.kind === ph.constants.NODE_PERFORMANCE_GC_MAJOR) gc.major++;
          }
        });
        observer.observe({ entryTypes: ['gc'] });
        delay.enable();
        globalThis.__benchLoop = { delay, gc, observer, since: performance.now() };
      })()`,
    });
  }

  async loopResult(): Promise<LoadResult['serverLoop']> {
    const result = await this.call('Runtime.evaluate', {
      expression: `(() => {
        const { delay, gc, observer, since } = globalThis.__benchLoop;
        delay.disable();
        observer.disconnect();
        delete globalThis.__benchLoop;
        const seconds = (performance.now() - since) / 1000;
        return JSON.stringify({ delayP99Ms: delay.percentile(99) / 1e6, delayMaxMs: delay.max / 1e6, gcMsPerSecond: gc.ms / seconds, gcMaxPauseMs: gc.max, majorGcs: gc.major });
      })()`,
      returnByValue: true,
    });
    return JSON.parse(result.result.value) as LoadResult['serverLoop'];
  }

  close(): void {
    this.socket.close();
  }
}

async function activeCalls(serverUrl: string): Promise<number> {
  try {
    return ((await (await fetch(`${serverUrl}/`)).json()) as { activeCalls: number }).activeCalls;
  } catch {
    return -1;
  }
}

class LoadGenerator {
  private readonly models: BenchModelSide[] = [];
  private callers = new Map<number, BenchCall>();
  private window = new Window();
  private capacity = 0;
  private nextCallIndex = 0;

  private constructor(
    readonly emulator: FakeRealtimeServer | FakeLiveServer,
    readonly engine: BenchEngine,
  ) {}

  static async start(engine: BenchEngine): Promise<LoadGenerator> {
    let generator: LoadGenerator | null = null;
    const pending: (FakeRealtimeConnection | FakeLiveConnection)[] = [];
    const onConnection = (c: FakeRealtimeConnection | FakeLiveConnection): void => void (generator ? generator.adopt(c) : pending.push(c));
    const emulator =
      engine === 'live'
        ? await FakeLiveServer.start({ handshakeDelayMs: HANDSHAKE_MS, recordAudio: false, onConnection })
        : await FakeRealtimeServer.start({ handshakeDelayMs: HANDSHAKE_MS, recordAudio: false, onConnection });
    generator = new LoadGenerator(emulator, engine);
    for (const c of pending) generator.adopt(c);
    return generator;
  }

  private adopt(connection: FakeRealtimeConnection | FakeLiveConnection): void {
    const index = this.models.length;
    this.models.push(
      this.engine === 'live'
        ? new LiveBenchModel(index, connection as FakeLiveConnection, this.callers, this.window, this.capacity)
        : new BenchModel(index, connection as FakeRealtimeConnection, this.callers, this.window, this.capacity),
    );
  }

  /** Places `n` calls, spread over a short ramp so webhooks do not all land in the same millisecond. */
  private async placeCalls(n: number, req: LoadRequest): Promise<BenchCall[]> {
    const rampMs = Math.min(4000, n * 20);
    const calls: BenchCall[] = [];
    const placing: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const call = new BenchCall(this.nextCallIndex++, this.models, this.window, this.capacity, this.engine);
      this.callers.set(call.index, call);
      calls.push(call);
      const at = (i * rampMs) / n;
      placing.push(
        delay(at)
          .then(() => call.place(req.serverUrl, req.streamDelayMs, req.twilioAuthToken))
          .catch((err: Error) => void (call.error = err.message)),
      );
    }
    await Promise.all(placing);
    await until(() => calls.every((c) => c.error || c.firstAudioAt > 0), 30_000);
    return calls;
  }

  private async hangUpAll(calls: BenchCall[], serverUrl: string): Promise<void> {
    for (const call of calls) call.hangUp();
    await until(() => calls.every((c) => !c.call || c.call.closed), 10_000);
    // The server has released every call (and closed its model sockets) before anything is measured next.
    const deadline = performance.now() + 10_000;
    while ((await activeCalls(serverUrl)) > 0 && performance.now() < deadline) await delay(100);
  }

  async run(req: LoadRequest): Promise<LoadResult> {
    const totalMs = 4000 + 30_000 + SETTLE_MS + req.durationMs + GRACE_MS + 10_000;
    this.capacity = Math.ceil(totalMs / FRAME_MS);

    if (req.warmupCalls > 0) {
      const warm = await this.placeCalls(req.warmupCalls, req);
      await delay(req.warmupMs);
      await this.hangUpAll(warm, req.serverUrl);
      await delay(500);
    }
    // One call without the webhook: what pre-dial saves.
    const direct = new BenchCall(this.nextCallIndex++, this.models, this.window, this.capacity, this.engine);
    this.callers.set(direct.index, direct);
    await direct.place(req.serverUrl, 0, req.twilioAuthToken, false).catch((err: Error) => void (direct.error = err.message));
    await until(() => direct.error !== null || direct.firstAudioAt > 0, 10_000);
    const withoutPredialMs = direct.firstAudioAt ? direct.firstAudioAt - direct.startedAt : NaN;
    await this.hangUpAll([direct], req.serverUrl);
    await delay(500);
    const heap = req.inspectorUrl ? await ServerHeap.connect(req.inspectorUrl) : null;
    const memoryBefore = await heap?.afterGc(req.serverPid);
    // After a forced GC when possible, so the baseline does not include the warm-up's garbage.
    const rssBaselineKb = memoryBefore?.rssKb ?? rssKb(req.serverPid);

    const calls = await this.placeCalls(req.calls, req);
    await delay(SETTLE_MS);

    const window = this.window;
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    await heap?.watchLoop();
    const cpu0 = cpuTimes(req.serverPid);
    const self0 = cpuTimeMs('self');
    window.start = performance.now();
    window.end = window.start + req.durationMs;

    // Each caller talks over the answer once, from mid-window on, spread over a quarter of it
    // (interruptions are not synchronised across calls).
    const live = calls.filter((c) => !c.error && c.firstAudioAt > 0);
    const bargeIns = live.map((call, i) =>
      delay(req.durationMs / 2 + (i * req.durationMs) / 4 / Math.max(1, live.length)).then(() => {
        const model = call.model;
        if (!model || model.closed) return;
        if (model instanceof LiveBenchModel) {
          // The caller really talks: the server's speech check is what clears the phone.
          call.talkOver();
          model.interrupted();
        } else if (model instanceof BenchModel) call.bargeInAt = model.interrupt();
      }),
    );
    const rssSamples: number[] = [];
    while (performance.now() < window.end) {
      await delay(Math.min(500, Math.max(0, window.end - performance.now())));
      rssSamples.push(rssKb(req.serverPid));
    }
    const cpu1 = cpuTimes(req.serverPid);
    const self1 = cpuTimeMs('self');
    loop.disable();
    const windowMs = performance.now() - window.start;
    const serverLoop = await heap?.loopResult();
    await Promise.all(bargeIns);
    await delay(GRACE_MS);
    // After the window and its in-flight frames: the forced GC's pause must not count as relay latency.
    const memoryDuring = await heap?.afterGc(req.serverPid);
    heap?.close();

    const connected = calls.filter((c) => !c.error && c.firstAudioAt > 0 && c.call && !c.call.closed).length;
    let framesIn = { sent: 0, lost: 0 };
    let framesOut = { sent: 0, lost: 0 };
    for (const call of live) {
      const a = lostBetween(call.frames, window.start, window.end);
      framesIn = { sent: framesIn.sent + a.sent, lost: framesIn.lost + a.lost };
      if (call.model) {
        const b = lostBetween(call.model.frames, window.start, window.end);
        framesOut = { sent: framesOut.sent + b.sent, lost: framesOut.lost + b.lost };
      }
    }
    const interrupted = live.filter((c) => c.bargeInAt > 0);
    const cleared = interrupted.filter((c) => c.clearAt > c.bargeInAt);
    const truncationErrors = cleared
      .filter((c) => c.model?.truncatedAtMs !== null && c.call!.clears.length > 0)
      .map((c) => Math.abs(c.model!.truncatedAtMs! - c.call!.clears[0].atPlayedMs));
    const rssWindowKb = rssSamples.reduce((a, b) => a + b, 0) / Math.max(1, rssSamples.length);
    const serverCpuMs = cpu1.user + cpu1.system - (cpu0.user + cpu0.system);

    const result: LoadResult = {
      calls: req.calls,
      connected,
      failed: calls.filter((c) => c.error).map((c) => c.error!),
      windowMs,
      serverCpuMs,
      serverSystemCpuMs: cpu1.system - cpu0.system,
      serverCpuMsPerCallSecond: serverCpuMs / (Math.max(1, connected) * (windowMs / 1000)),
      serverCpuPercent: (serverCpuMs / windowMs) * 100,
      relayInMs: stats(window.relayIn),
      relayOutMs: stats(window.relayOut),
      relaySlowPercent: { in: slowPercent(window.relayIn), out: slowPercent(window.relayOut) },
      framesIn,
      framesOut,
      rssBaselineKb,
      rssWindowKb,
      rssPerCallKb: (rssWindowKb - rssBaselineKb) / Math.max(1, connected),
      liveMemoryPerCallKb: memoryBefore && memoryDuring ? (memoryDuring.liveKb - memoryBefore.liveKb) / Math.max(1, connected) : NaN,
      rssAfterGcPerCallKb: memoryBefore && memoryDuring ? (memoryDuring.rssKb - memoryBefore.rssKb) / Math.max(1, connected) : NaN,
      startToFirstAudioMs: stats(live.map((c) => c.firstAudioAt - c.startedAt)),
      startToFirstAudioWithoutPredialMs: withoutPredialMs,
      bargeIns: interrupted.length,
      bargeInsWithoutClear: interrupted.length - cleared.length,
      clearLatencyMs: stats(cleared.map((c) => c.clearAt - c.bargeInAt)),
      truncationErrorMs: stats(truncationErrors),
      loadGenCpuPercent: ((self1 - self0) / windowMs) * 100,
      loadGenLoopDelayMs: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
      serverLoop,
    };
    await this.hangUpAll(calls, req.serverUrl);
    return result;
  }
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('bench-load runs as a child of bench.ts (it talks over IPC)');
  const generator = await LoadGenerator.start(process.argv.includes('live') ? 'live' : 'realtime');
  process.on('message', (msg: LoadRequest) => {
    if (msg.type !== 'run') return;
    generator
      .run(msg)
      .then((result) => process.send!({ type: 'result', result }))
      .catch((err: Error) => process.send!({ type: 'error', message: err.stack ?? err.message }));
  });
  process.on('disconnect', () => {
    void generator.emulator.close().then(() => process.exit(0));
  });
  process.send({ type: 'ready', url: generator.emulator.url });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
