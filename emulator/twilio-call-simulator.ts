// Plays Twilio's side of a bidirectional Media Stream over a real WebSocket client: sends the
// messages Twilio sends (connected, start, paced media, dtmf, stop) and models Twilio's player,
// which buffers the app's outbound audio and plays it in real time, echoing marks when playback
// reaches them. Tests assert on what the caller actually heard, not on what the app sent; the
// demo, `npm run simulate` and the benchmark place their calls with it too.
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { WebSocket, type RawData } from 'ws';
import { DEFAULT_WAIT_MS, MessageLog } from './waiters';

export interface TwilioCallOptions {
  callSid?: string;
  streamSid?: string;
  accountSid?: string;
  /** `<Parameter>` values; Twilio delivers them in `start.customParameters`. */
  customParameters?: Record<string, string>;
  /** Upgrade request headers, e.g. `x-twilio-signature`. */
  headers?: Record<string, string>;
  /** Send `start` right after `connected` (default true). */
  sendStart?: boolean;
  /** Echo marks back to the app when played or cleared (default true). */
  echoMarks?: boolean;
  /** Keep every media and mark message and the audio (default true). Off, the player still
   * plays, marks are echoed and clears work, but `received` holds neither media nor marks and
   * receivedAudio()/heardAudio() are empty: the benchmark's hundreds of real-time calls would
   * otherwise pile up in memory. */
  record?: boolean;
  /** Called with every valid app message once the player has handled it, and when it arrived. */
  onMessage?: (message: any, receivedAt: number) => void;
  /** Called with every JSON message this simulator sends (as Twilio would), before it is sent. */
  onSend?: (message: object) => void;
}

// mu-law 8 kHz: one byte per sample, 8 bytes per millisecond; Twilio sends 20 ms frames.
const BYTES_PER_MS = 8;
const FRAME_BYTES = 160;
const FRAME_MS = 20;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function sid(prefix: string): string {
  return prefix + randomBytes(16).toString('hex');
}

// Decoded size of valid base64, without decoding it.
function base64Length(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return (base64.length / 4) * 3 - padding;
}

function isRecord(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface PendingMark {
  name: string;
  /** Position in the played stream (bytes) that playback must reach before the echo. */
  offset: number;
}

export class TwilioCallSimulator {
  readonly callSid: string;
  readonly streamSid: string;
  readonly accountSid: string;
  /** Every JSON message the app sent, parsed, in order (valid or not). Loosely typed on purpose:
   * tests inspect whatever the app sent, including malformed messages. */
  readonly received: any[];
  /** Messages the real Twilio would reject. Tests assert this stays empty. */
  readonly protocolErrors: string[] = [];
  /** Each `clear`, with the total ms played across the call at that moment. */
  readonly clears: { atPlayedMs: number }[] = [];
  /** Marks echoed to the app, in order; `cleared` = echoed because of a clear, not played. */
  readonly echoedMarks: { name: string; cleared: boolean }[] = [];

  private readonly log = new MessageLog<any>();
  private readonly customParameters: Record<string, string>;
  private readonly echoMarks: boolean;
  private readonly record: boolean;
  private readonly onAppMessage: ((message: any, receivedAt: number) => void) | undefined;
  private readonly onSend: ((message: object) => void) | undefined;
  private sequence = 0;
  private chunk = 0;
  private inboundBytes = 0;
  private closeInfo: { code: number; reason: string } | null = null;

  // The player. Queued audio forms one stream of bytes; cleared audio is cut out of it, so a
  // position in the stream is also "bytes heard so far". Playback runs at BYTES_PER_MS from
  // (anchorTime, anchorBytes) until it reaches queuedEnd, and positions are derived from wall
  // time, so timer jitter never accumulates.
  private readonly outbound: Buffer[] = [];
  private stream: Buffer[] = [];
  private queuedEnd = 0;
  private anchorTime = 0;
  private anchorBytes = 0;
  /** Wall time at which playback stopped for good (stop sent or socket closed). */
  private endTime: number | null = null;
  private pendingMarks: PendingMark[] = [];
  private markTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly ws: WebSocket,
    opts: TwilioCallOptions,
  ) {
    this.callSid = opts.callSid ?? sid('CA');
    this.streamSid = opts.streamSid ?? sid('MZ');
    this.accountSid = opts.accountSid ?? sid('AC');
    this.customParameters = opts.customParameters ?? {};
    this.echoMarks = opts.echoMarks ?? true;
    this.record = opts.record ?? true;
    this.onAppMessage = opts.onMessage;
    this.onSend = opts.onSend;
    this.received = this.log.items;
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', (code, reason) => {
      this.stopPlayback();
      this.closeInfo = { code, reason: reason.toString() };
      this.log.notify();
    });
  }

  /** Opens the stream socket and sends `connected` then (by default) `start`. Rejects if the
   * upgrade fails, e.g. "Unexpected server response: 403". */
  static async connect(url: string, opts: TwilioCallOptions = {}): Promise<TwilioCallSimulator> {
    const ws = new WebSocket(url, { headers: opts.headers });
    const call = new TwilioCallSimulator(ws, opts);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    // After the handshake, socket errors end in 'close', which is what tests observe.
    ws.on('error', () => undefined);
    call.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    if (opts.sendStart ?? true) call.sendStart();
    return call;
  }

  get closed(): boolean {
    return this.closeInfo !== null;
  }

  sendRaw(data: string | Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data);
  }

  sendStart(): void {
    this.sendJson({
      event: 'start',
      sequenceNumber: this.nextSequence(),
      start: {
        accountSid: this.accountSid,
        streamSid: this.streamSid,
        callSid: this.callSid,
        tracks: ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        customParameters: this.customParameters,
      },
      streamSid: this.streamSid,
    });
  }

  /** One inbound media frame; `timestamp` is the ms of caller audio sent before it. */
  sendMedia(payload: Buffer): void {
    this.chunk += 1;
    this.sendJson({
      event: 'media',
      sequenceNumber: this.nextSequence(),
      media: {
        track: 'inbound',
        chunk: String(this.chunk),
        timestamp: String(Math.floor(this.inboundBytes / BYTES_PER_MS)),
        payload: payload.toString('base64'),
      },
      streamSid: this.streamSid,
    });
    this.inboundBytes += payload.length;
  }

  /** Sends caller audio as 160-byte frames (the last may be shorter). Paced frames follow a
   * fixed schedule from the first frame, so late timers do not add up to drift. Stops early if
   * the stream ends. */
  async sendAudio(audio: Buffer, opts: { paced?: boolean } = {}): Promise<void> {
    const paced = opts.paced ?? true;
    const start = performance.now();
    for (let i = 0, offset = 0; offset < audio.length; i++, offset += FRAME_BYTES) {
      if (paced) {
        const wait = start + i * FRAME_MS - performance.now();
        if (wait > 0) await delay(wait);
      }
      if (this.closed || this.endTime !== null) return;
      this.sendMedia(audio.subarray(offset, offset + FRAME_BYTES));
    }
  }

  sendDtmf(digit: string): void {
    this.sendJson({
      event: 'dtmf',
      streamSid: this.streamSid,
      sequenceNumber: this.nextSequence(),
      dtmf: { track: 'inbound_track', digit },
    });
  }

  /** The caller hung up: `stop`, and playback ends. The socket stays open until the app or
   * close() closes it. */
  sendStop(): void {
    this.sendJson({
      event: 'stop',
      sequenceNumber: this.nextSequence(),
      streamSid: this.streamSid,
      stop: { accountSid: this.accountSid, callSid: this.callSid },
    });
    this.stopPlayback();
  }

  /** The caller's side vanishes: the TCP connection is destroyed without a close frame. */
  terminate(): void {
    this.ws.terminate();
  }

  close(code = 1000): void {
    this.ws.close(code);
  }

  /** The first app message with this `event` (matching `predicate`) not returned by an
   * earlier waitFor, whether it arrived before or after the call. */
  waitFor(event: string, predicate: (message: any) => boolean = () => true, timeoutMs = DEFAULT_WAIT_MS): Promise<any> {
    return this.log.waitFor(
      (m) => m.event === event && predicate(m),
      timeoutMs,
      `app message '${event}'`,
      (m) => String(m.event),
    );
  }

  waitForClose(timeoutMs = DEFAULT_WAIT_MS): Promise<{ code: number; reason: string }> {
    return this.log.until(
      () => this.closeInfo ?? undefined,
      timeoutMs,
      () => 'the Twilio stream socket to close',
    );
  }

  // ---- what the caller heard ----

  /** Every outbound media payload, decoded and concatenated, whether played or not. */
  receivedAudio(): Buffer {
    return Buffer.concat(this.outbound);
  }

  /** Milliseconds of audio played so far across the call (cleared audio excluded). */
  playedMs(): number {
    return this.playedBytes() / BYTES_PER_MS;
  }

  /** The bytes actually played so far, in order. */
  heardAudio(): Buffer {
    return Buffer.concat(this.stream).subarray(0, this.playedBytes());
  }

  /** ms of audio queued on the phone and not yet played (0 when the player is idle). */
  playbackRemainingMs(): number {
    if (this.endTime !== null) return 0;
    return (this.queuedEnd - this.playedBytes()) / BYTES_PER_MS;
  }

  // ---- app messages ----

  private onMessage(data: RawData, isBinary: boolean): void {
    const receivedAt = performance.now();
    if (isBinary) {
      this.protocolErrors.push('binary frame (Twilio expects JSON text)');
      return;
    }
    const text = data.toString();
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.protocolErrors.push(`not JSON: ${text.slice(0, 80)}`);
      return;
    }
    if (!isRecord(message)) {
      this.protocolErrors.push(`not a JSON object: ${text.slice(0, 80)}`);
      return;
    }
    const valid = this.handle(message, receivedAt);
    if (this.record || (message.event !== 'media' && message.event !== 'mark')) this.log.push(message);
    if (valid) this.onAppMessage?.(message, receivedAt);
  }

  // Plays, queues or clears; false for a message Twilio would reject.
  private handle(message: Record<string, any>, now: number): boolean {
    const event: unknown = message.event;
    if (event !== 'media' && event !== 'mark' && event !== 'clear') {
      this.protocolErrors.push(event === undefined ? 'message without event' : `unknown event ${JSON.stringify(event)}`);
      return false;
    }
    if (message.streamSid !== this.streamSid) {
      this.protocolErrors.push(`${event} with streamSid ${String(message.streamSid)}, expected ${this.streamSid}`);
      return false;
    }
    if (this.endTime !== null) return true; // the stream has ended: nothing more is played or echoed
    if (event === 'media') {
      const payload: unknown = message.media?.payload;
      if (typeof payload !== 'string' || payload.length === 0 || !BASE64.test(payload)) {
        this.protocolErrors.push('media without a base64 payload');
        return false;
      }
      this.play(this.record ? Buffer.from(payload, 'base64') : base64Length(payload), now);
    } else if (event === 'mark') {
      const name: unknown = message.mark?.name;
      if (typeof name !== 'string' || name.length === 0) {
        this.protocolErrors.push('mark without a name');
        return false;
      }
      this.pendingMarks.push({ name, offset: this.queuedEnd });
      this.echoDueMarks(now);
    } else {
      this.clear(now);
    }
    return true;
  }

  // ---- the player ----

  private playedBytes(now = performance.now()): number {
    const t = Math.min(now, this.endTime ?? now);
    return Math.min(this.queuedEnd, this.anchorBytes + Math.floor(Math.max(0, t - this.anchorTime) * BYTES_PER_MS));
  }

  // `audio` is the decoded payload, or only its length when not recording.
  private play(audio: Buffer | number, now: number): void {
    const length = typeof audio === 'number' ? audio : audio.length;
    if (typeof audio !== 'number') this.outbound.push(audio);
    // Marks due before this audio arrived are echoed first, keeping echoes in playback order.
    this.echoDueMarks(now);
    if (this.playedBytes(now) >= this.queuedEnd) {
      // The queue had run dry: playback of this audio starts now.
      this.anchorTime = now;
      this.anchorBytes = this.queuedEnd;
    }
    if (typeof audio !== 'number') this.stream.push(audio);
    this.queuedEnd += length;
  }

  private clear(now: number): void {
    this.echoDueMarks(now);
    const played = this.playedBytes(now);
    this.clears.push({ atPlayedMs: played / BYTES_PER_MS });
    // Unplayed audio is discarded, so the stream ends at what was heard and playback is idle.
    if (this.record) this.stream = [Buffer.concat(this.stream).subarray(0, played)];
    this.queuedEnd = played;
    // Twilio echoes every pending mark at once; they were not played.
    const cleared = this.pendingMarks;
    this.pendingMarks = [];
    this.cancelMarkTimer();
    for (const mark of cleared) this.echo(mark.name, true);
  }

  // Echoes the marks playback has reached, then sets one timer for the next one, so echoes
  // always go out in order. The timer may fire a little early or late; positions come from
  // the clock, so an early fire just re-arms and a late one echoes on arrival.
  private echoDueMarks(now = performance.now()): void {
    this.cancelMarkTimer();
    const played = this.playedBytes(now);
    while (this.pendingMarks.length > 0 && this.pendingMarks[0].offset <= played) {
      this.echo(this.pendingMarks.shift()!.name, false);
    }
    const next = this.pendingMarks[0];
    if (!next) return;
    const dueAt = this.anchorTime + (next.offset - this.anchorBytes) / BYTES_PER_MS;
    this.markTimer = setTimeout(
      () => {
        this.markTimer = null;
        this.echoDueMarks();
      },
      Math.max(0, Math.ceil(dueAt - now)),
    );
  }

  private echo(name: string, cleared: boolean): void {
    this.echoedMarks.push({ name, cleared });
    if (!this.echoMarks) return;
    this.sendJson({ event: 'mark', sequenceNumber: this.nextSequence(), streamSid: this.streamSid, mark: { name } });
  }

  private cancelMarkTimer(): void {
    if (this.markTimer) clearTimeout(this.markTimer);
    this.markTimer = null;
  }

  private stopPlayback(): void {
    if (this.endTime !== null) return;
    this.endTime = performance.now();
    this.cancelMarkTimer();
  }

  private nextSequence(): string {
    this.sequence += 1;
    return String(this.sequence);
  }

  private sendJson(message: object): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.onSend?.(message);
    this.ws.send(JSON.stringify(message));
  }
}
