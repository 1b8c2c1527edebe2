import { Logger } from '@nestjs/common';
import WebSocket, { type RawData } from 'ws';
import { isCallSid, isStreamSid } from './twilio-ids';
import { parseTwilioMessage, type TwilioClear, type TwilioStart } from './twilio-messages';

/** WebSocket close codes we use on the Twilio socket. */
export const CloseCode = {
  normal: 1000,
  protocolError: 1008,
  modelUnavailable: 1011,
  tryAgainLater: 1013,
} as const;

/** Too many invalid frames from one socket means it is not Twilio (or Twilio is broken): hang up. */
export const MAX_BAD_FRAMES = 100;
/** A socket buffering more than this is not keeping up with real-time audio. */
export const MAX_BUFFERED_BYTES = 1024 * 1024;
/** `<Parameter>`s we accept on `start`: ours are a handful of short values. */
const MAX_PARAMETERS = 16;
const MAX_PARAMETER_CHARS = 256;
const PRINTABLE = /^[^\p{Cc}]*$/u;

/** A validated `start`: SIDs of Twilio's shape, parameters bounded and free of control characters. */
export interface StreamStart {
  callSid: string;
  streamSid: string;
  parameters: Record<string, string>;
}

export type StreamEnd = 'disconnected' | 'protocol-error' | 'backpressure';

/** What the transport tells its call. `onMedia` is the hot path. */
export interface MediaStreamListener {
  onStart(start: StreamStart): void;
  onMedia(payload: string): void;
  onMark(name: string): void;
  onDtmf(digit: string): void;
  onStop(): void;
  /** The stream is over for a reason of the transport's own (the socket closed, a protocol violation, backpressure). */
  onClosed(why: StreamEnd, detail: string): void;
  /** A handler threw (a bug): the call ends, the process goes on. */
  onFault(err: unknown): void;
}

type StreamState = 'awaiting-start' | 'started' | 'closed';

/**
 * The Twilio side of a call: owns the media socket, parses and validates every frame (one
 * JSON.parse, cheap guards), applies the bad-frame policy and the start timeout, and writes the
 * outbound `media`, `mark` and `clear` messages. No other class touches the Twilio socket.
 */
export class MediaStream {
  private readonly logger = new Logger('MediaStream');
  private state: StreamState = 'awaiting-start';
  private listener: MediaStreamListener | null = null;
  private streamSid = '';
  private callSid = '';
  private mediaPrefix = '';
  private markPrefix = '';
  private clearMessage = '';
  private startTimer: NodeJS.Timeout | undefined;
  private readonly badKinds = new Set<string>();
  /** Frames refused, before and after `start`. */
  badFrames = 0;

  constructor(
    private readonly socket: WebSocket,
    startTimeoutMs: number,
  ) {
    socket.on('message', (data: RawData, isBinary: boolean) => {
      try {
        this.onFrame(data, isBinary);
      } catch (err) {
        this.listener?.onFault(err);
      }
    });
    socket.on('close', () => this.closed('disconnected', 'the Twilio socket closed'));
    socket.on('error', (err) => this.logger.warn({ ...this.ids(), err }, 'Twilio socket error'));
    this.startTimer = setTimeout(() => this.protocolError('no start message'), startTimeoutMs);
  }

  listen(listener: MediaStreamListener): void {
    this.listener = listener;
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  // ---- outbound ----

  /** Hot path: one assistant audio chunk and (when given) the mark after it, in one corked write. */
  sendAudio(base64: string, mark: string | null): void {
    if (!this.writable()) return;
    // One write for the media and its mark instead of two: socket writes are most of the relay's
    // CPU (bench: -7% server CPU at 200 calls). ws has no public batching, hence its socket.
    const raw = (this.socket as unknown as { _socket?: { cork?(): void; uncork?(): void } })._socket;
    raw?.cork?.();
    this.socket.send(this.mediaPrefix + JSON.stringify(base64) + '}}');
    if (mark !== null) this.socket.send(this.markMessage(mark));
    raw?.uncork?.();
  }

  /** A mark on its own (the end of a response's audio): Twilio echoes it when playback reaches it. */
  sendMark(name: string): void {
    if (this.writable()) this.socket.send(this.markMessage(name));
  }

  private markMessage(name: string): string {
    return this.markPrefix + JSON.stringify(name) + '}}';
  }

  /** Empties Twilio's playback buffer at once. */
  clear(): void {
    if (this.writable()) this.socket.send(this.clearMessage);
  }

  /** Ends the stream from our side. Safe to call twice. */
  close(code: number, reason: string): void {
    const wasOpen = this.state !== 'closed';
    this.state = 'closed';
    clearTimeout(this.startTimer);
    this.listener = null;
    if (wasOpen && (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING)) {
      this.socket.close(code, reason.slice(0, 120));
    }
  }

  private writable(): boolean {
    if (this.state !== 'started' || this.socket.readyState !== WebSocket.OPEN) return false;
    if (this.socket.bufferedAmount <= MAX_BUFFERED_BYTES) return true;
    this.closed('backpressure', `${this.socket.bufferedAmount} bytes buffered for Twilio`);
    return false;
  }

  // ---- inbound ----

  private onFrame(data: RawData, isBinary: boolean): void {
    if (this.state === 'closed') return; // frames still in flight after the end are not the sender's fault
    if (isBinary) return this.badFrame('binary');
    const msg = parseTwilioMessage(data.toString());
    if (typeof msg === 'string') return this.badFrame(msg);
    if (this.state === 'awaiting-start') {
      if (msg.event === 'start') return this.onStart(msg);
      if (msg.event === 'connected') return;
      return this.badFrame(`${msg.event}-before-start`);
    }
    const listener = this.listener;
    if (listener === null) return;
    switch (msg.event) {
      case 'media':
        // The hot path: one parse above, one call here.
        if (msg.streamSid !== this.streamSid) return this.badFrame('media-of-another-stream');
        return listener.onMedia(msg.media.payload);
      case 'mark':
        return listener.onMark(msg.mark.name);
      case 'dtmf':
        return listener.onDtmf(msg.dtmf.digit);
      case 'stop':
        return listener.onStop();
      case 'start':
        return this.badFrame('duplicate-start');
      case 'connected':
        return;
    }
  }

  private onStart(msg: TwilioStart): void {
    const { start } = msg;
    if (!isCallSid(start.callSid) || !isStreamSid(start.streamSid) || msg.streamSid !== start.streamSid) {
      return this.protocolError('start without valid callSid and streamSid');
    }
    const parameters: Record<string, string> = {};
    const raw = start.customParameters ?? {};
    const names = Object.keys(raw);
    if (names.length > MAX_PARAMETERS) return this.protocolError('too many custom parameters');
    for (const name of names) {
      const value = raw[name];
      if (typeof value !== 'string' || value.length > MAX_PARAMETER_CHARS || name.length > 64 || !PRINTABLE.test(value) || !PRINTABLE.test(name)) {
        return this.protocolError('malformed custom parameter');
      }
      parameters[name] = value;
    }
    clearTimeout(this.startTimer);
    this.state = 'started';
    this.callSid = start.callSid;
    this.streamSid = start.streamSid;
    // Built once per stream: TwilioOutboundMedia and TwilioOutboundMark up to their last field.
    const sid = JSON.stringify(this.streamSid);
    this.mediaPrefix = '{"event":"media","streamSid":' + sid + ',"media":{"payload":';
    this.markPrefix = '{"event":"mark","streamSid":' + sid + ',"mark":{"name":';
    this.clearMessage = JSON.stringify({ event: 'clear', streamSid: this.streamSid } satisfies TwilioClear);
    this.listener?.onStart({ callSid: start.callSid, streamSid: start.streamSid, parameters });
  }

  private badFrame(kind: string): void {
    this.badFrames++;
    if (!this.badKinds.has(kind)) {
      // Logged once per kind per stream: a flood of bad frames must not become a flood of log lines.
      this.badKinds.add(kind);
      this.logger.warn({ ...this.ids(), kind }, 'dropped an invalid Twilio frame');
    }
    if (this.badFrames >= MAX_BAD_FRAMES) this.protocolError(`too many invalid frames (${this.badFrames})`);
  }

  private protocolError(why: string): void {
    if (this.state === 'closed') return;
    this.logger.warn({ ...this.ids(), why }, 'closing the Twilio socket: protocol error');
    this.closed('protocol-error', why);
  }

  /** What identifies this stream in a log line, once `start` has said (validated shapes only). */
  private ids(): { callSid?: string; streamSid?: string } {
    return this.callSid ? { callSid: this.callSid, streamSid: this.streamSid } : {};
  }

  /** The transport's own end: tell the call (which ends and closes the socket), or close it here before `start`. */
  private closed(why: StreamEnd, detail: string): void {
    if (this.state === 'closed') return;
    const listener = this.listener;
    const started = this.state === 'started';
    if (started && listener) return listener.onClosed(why, detail);
    this.close(why === 'protocol-error' ? CloseCode.protocolError : CloseCode.normal, why === 'protocol-error' ? detail : why);
    listener?.onClosed(why, detail);
  }
}
