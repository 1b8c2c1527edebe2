// The Twilio transport on its own, over a fake socket: the start timeout, the bad-frame policy,
// SID and parameter validation, backpressure on every write, and a close that is final.
import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import type WebSocket from 'ws';
import { CloseCode, MAX_BAD_FRAMES, MAX_BUFFERED_BYTES, MediaStream, type MediaStreamListener, type StreamStart } from './media-stream';

/** What MediaStream uses of a `ws` socket: frames in; sends, closes and corks recorded. */
class FakeSocket extends EventEmitter {
  readyState = 1; // OPEN
  bufferedAmount = 0;
  readonly sent: string[] = [];
  readonly closes: { code: number; reason: string }[] = [];
  /** ws's net.Socket: MediaStream corks it around a media frame and its mark. */
  readonly _socket = { corked: 0, cork: () => this._socket.corked++, uncork: () => this._socket.corked-- };
  /** Whether each send happened while corked. */
  readonly corkedSends: boolean[] = [];
  send(data: string): void {
    this.sent.push(data);
    this.corkedSends.push(this._socket.corked > 0);
  }
  close(code: number, reason: string): void {
    this.closes.push({ code, reason });
    this.readyState = 2; // CLOSING: ws emits 'close' later, after the closing handshake
  }
  frame(message: object | string): void {
    this.emit('message', Buffer.from(typeof message === 'string' ? message : JSON.stringify(message)), false);
  }
}

const START_TIMEOUT_MS = 5000;
const CALL_SID = 'CA' + '0123456789abcdef'.repeat(2);
const STREAM_SID = 'MZ' + 'fedcba9876543210'.repeat(2);
const AUDIO = Buffer.alloc(160, 0xff).toString('base64');

const startFrame = (start: { callSid?: string; streamSid?: string; customParameters?: Record<string, unknown> } = {}, outerStreamSid?: string) => ({
  event: 'start',
  sequenceNumber: '1',
  streamSid: outerStreamSid ?? start.streamSid ?? STREAM_SID,
  start: { accountSid: 'AC' + '0'.repeat(32), callSid: CALL_SID, streamSid: STREAM_SID, tracks: ['inbound'], customParameters: {}, ...start },
});
const media = (streamSid = STREAM_SID) => ({ event: 'media', streamSid, media: { track: 'inbound', chunk: '1', timestamp: '0', payload: AUDIO } });

function setup(overrides: Partial<MediaStreamListener> = {}) {
  const socket = new FakeSocket();
  const stream = new MediaStream(socket as unknown as WebSocket, START_TIMEOUT_MS);
  const seen = {
    starts: [] as StreamStart[],
    media: 0,
    marks: [] as string[],
    dtmf: [] as string[],
    stops: 0,
    closed: [] as string[],
    faults: [] as unknown[],
  };
  const listener: MediaStreamListener = {
    onStart: (start) => seen.starts.push(start),
    onMedia: () => seen.media++,
    onMark: (name) => seen.marks.push(name),
    onDtmf: (digit) => seen.dtmf.push(digit),
    onStop: () => seen.stops++,
    onClosed: (why) => seen.closed.push(why),
    onFault: (err) => seen.faults.push(err),
    ...overrides,
  };
  stream.listen(listener);
  return { socket, stream, seen };
}

function started(overrides: Partial<MediaStreamListener> = {}) {
  const s = setup(overrides);
  s.socket.frame({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  s.socket.frame(startFrame());
  expect(s.seen.starts).toHaveLength(1);
  return s;
}

let warn: MockInstance<Logger['warn']>;
/** Everything MediaStream logged, as text. */
const logged = () => JSON.stringify(warn.mock.calls);
/** The kinds of bad frame logged, in order. */
const badKindsLogged = () =>
  warn.mock.calls.filter(([, msg]) => msg === 'dropped an invalid Twilio frame').map(([fields]) => (fields as { kind: string }).kind);

describe('MediaStream', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
    warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  describe('before start', () => {
    it('closes a socket that never sends start (1008) when the start timeout passes, not before; `connected` does not count as start', () => {
      const { socket, seen } = setup();
      socket.frame({ event: 'connected', protocol: 'Call', version: '1.0.0' });
      vi.advanceTimersByTime(START_TIMEOUT_MS - 1);
      expect(socket.closes).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(socket.closes).toEqual([{ code: CloseCode.protocolError, reason: 'no start message' }]);
      expect(seen.closed).toEqual(['protocol-error']);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('stops the start timeout once start arrives', () => {
      const { socket, seen } = started();
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(START_TIMEOUT_MS * 10);
      expect(socket.closes).toEqual([]);
      expect(seen.closed).toEqual([]);
    });

    it('counts media, mark, dtmf and stop before start as invalid, never hands them on, and closes at the threshold', () => {
      const { socket, stream, seen } = setup();
      const early = [
        media(),
        { event: 'mark', streamSid: STREAM_SID, mark: { name: 'm' } },
        { event: 'dtmf', streamSid: STREAM_SID, dtmf: { track: 'inbound_track', digit: '1' } },
        { event: 'stop', streamSid: STREAM_SID },
      ];
      for (let i = 0; i < MAX_BAD_FRAMES - 1; i++) socket.frame(early[i % early.length]);
      socket.frame({ event: 'connected', protocol: 'Call', version: '1.0.0' }); // Twilio's own first message: not counted
      expect(stream.badFrames).toBe(MAX_BAD_FRAMES - 1);
      expect(socket.closes).toEqual([]);
      expect(seen).toMatchObject({ media: 0, marks: [], dtmf: [], stops: 0, starts: [] });
      socket.frame(media());
      expect(stream.badFrames).toBe(MAX_BAD_FRAMES);
      expect(socket.closes).toEqual([{ code: CloseCode.protocolError, reason: `too many invalid frames (${MAX_BAD_FRAMES})` }]);
      expect(seen.closed).toEqual(['protocol-error']);
      // Logged once per kind, not once per frame.
      expect(badKindsLogged()).toEqual(['media-before-start', 'mark-before-start', 'dtmf-before-start', 'stop-before-start']);
    });

    it.for([
      ['a 60 KB callSid', { callSid: 'CA' + 'a'.repeat(60_000) }, 'a'.repeat(100)],
      ['a multi-line callSid', { callSid: 'CA0123\nlevel=error msg="forged"' }, 'forged'],
      ['a callSid of the wrong shape', { callSid: 'CA' + 'g'.repeat(32) }, 'g'.repeat(32)],
      ['a 60 KB streamSid', { streamSid: 'MZ' + 'b'.repeat(60_000) }, 'b'.repeat(100)],
      ['a multi-line streamSid', { streamSid: 'MZ0123\r\nforged: yes' }, 'forged'],
    ] as const)('refuses a start with %s (1008): never started, never echoed in a log or a close reason', ([, ids, needle]) => {
      const { socket, stream, seen } = setup();
      socket.frame(startFrame(ids));
      expect(seen.starts).toEqual([]);
      expect(socket.closes).toEqual([{ code: CloseCode.protocolError, reason: 'start without valid callSid and streamSid' }]);
      expect(seen.closed).toEqual(['protocol-error']);
      expect(warn).toHaveBeenCalled();
      expect(logged()).not.toContain(needle);
      // Nothing is written on a stream that never started, under any SID.
      stream.sendAudio(AUDIO, 'm');
      stream.clear();
      expect(socket.sent).toEqual([]);
    });

    it('refuses a start whose two streamSids differ', () => {
      const { socket, seen } = setup();
      socket.frame(startFrame({}, 'MZ' + '1'.repeat(32)));
      expect(seen.starts).toEqual([]);
      expect(socket.closes[0].code).toBe(CloseCode.protocolError);
    });

    it.for([
      ['a 60 KB value', { token: 'v'.repeat(60_000) }],
      ['a multi-line value', { token: 'ok\nforged' }],
      ['a value that is not a string', { token: 42 }],
      ['too many parameters', Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`p${i}`, 'x']))],
    ] as const)('refuses a start whose custom parameters have %s (1008)', ([, customParameters]) => {
      const { socket, seen } = setup();
      socket.frame(startFrame({ customParameters }));
      expect(seen.starts).toEqual([]);
      expect(socket.closes[0].code).toBe(CloseCode.protocolError);
      expect(logged()).not.toContain('vvvvvvvvvv');
      expect(logged()).not.toContain('forged');
    });

    it('writes nothing before start: there is no stream to address yet', () => {
      const { socket, stream } = setup();
      stream.sendAudio(AUDIO, 'm');
      stream.clear();
      expect(socket.sent).toEqual([]);
    });

    it('hands on a valid start with its SIDs and parameters', () => {
      const { socket, seen } = setup();
      socket.frame(startFrame({ customParameters: { streamToken: 'abc', from: '+15551230000' } }));
      expect(seen.starts).toEqual([{ callSid: CALL_SID, streamSid: STREAM_SID, parameters: { streamToken: 'abc', from: '+15551230000' } }]);
      expect(socket.closes).toEqual([]);
    });
  });

  describe('the bad-frame policy', () => {
    it('counts every kind of invalid frame after start, valid frames in between do not reset it, and the 100th closes the socket', () => {
      const { socket, stream, seen } = started();
      const bad: (() => void)[] = [
        () => socket.frame('not json'),
        () => socket.emit('message', Buffer.from([1, 2, 3]), true), // binary
        () => socket.frame({ event: 'hello' }), // unknown event
        () => socket.frame({ event: 'media', streamSid: STREAM_SID }), // no media object
        () => socket.frame({ event: 'media', streamSid: STREAM_SID, media: { payload: '!!not base64!!' } }),
        () => socket.frame(media('MZ' + '9'.repeat(32))), // another stream's media
        () => socket.frame(startFrame()), // a second start
        () => socket.frame({ event: 'dtmf', streamSid: STREAM_SID, dtmf: { digit: 'Z' } }),
      ];
      for (let i = 0; i < MAX_BAD_FRAMES - 1; i++) {
        bad[i % bad.length]();
        socket.frame(media()); // valid: handed on, counted nowhere
      }
      expect(stream.badFrames).toBe(MAX_BAD_FRAMES - 1);
      expect(seen.media).toBe(MAX_BAD_FRAMES - 1);
      expect(seen.closed).toEqual([]);
      // Logged once per kind, not once per frame.
      expect(badKindsLogged()).toEqual([
        'malformed-json',
        'binary',
        'unknown-event',
        'invalid-shape',
        'invalid-payload',
        'media-of-another-stream',
        'duplicate-start',
      ]);
      bad[0]();
      expect(stream.badFrames).toBe(MAX_BAD_FRAMES);
      // Once started, the call decides how to end (it closes the socket): the transport tells it why.
      expect(seen.closed).toEqual(['protocol-error']);
    });

    it('hands on media, marks, dtmf and stop once started, and names the stream in its log lines', () => {
      const { socket, seen } = started();
      socket.frame(media());
      socket.frame({ event: 'mark', streamSid: STREAM_SID, mark: { name: '1:item:20' } });
      socket.frame({ event: 'dtmf', streamSid: STREAM_SID, dtmf: { track: 'inbound_track', digit: '#' } });
      socket.frame({ event: 'stop', streamSid: STREAM_SID });
      expect(seen).toMatchObject({ media: 1, marks: ['1:item:20'], dtmf: ['#'], stops: 1 });
      socket.frame('nope');
      expect(warn).toHaveBeenCalledWith({ callSid: CALL_SID, streamSid: STREAM_SID, kind: 'malformed-json' }, 'dropped an invalid Twilio frame');
    });

    it('reports a handler that throws as a fault, and goes on', () => {
      const { socket, seen } = started({
        onMedia: () => {
          throw new Error('a bug');
        },
      });
      socket.frame(media());
      socket.frame({ event: 'mark', streamSid: STREAM_SID, mark: { name: 'm' } });
      expect(seen.faults).toEqual([new Error('a bug')]);
      expect(seen.marks).toEqual(['m']);
    });
  });

  describe('writes and close', () => {
    it('writes a media frame and its mark in one corked write, as Twilio expects them', () => {
      const { socket, stream } = started();
      stream.sendAudio(AUDIO, '1:item_a:20');
      stream.sendAudio(AUDIO, null);
      stream.clear();
      expect(socket.sent.map((s) => JSON.parse(s))).toEqual([
        { event: 'media', streamSid: STREAM_SID, media: { payload: AUDIO } },
        { event: 'mark', streamSid: STREAM_SID, mark: { name: '1:item_a:20' } },
        { event: 'media', streamSid: STREAM_SID, media: { payload: AUDIO } },
        { event: 'clear', streamSid: STREAM_SID },
      ]);
      expect(socket.corkedSends).toEqual([true, true, true, false]);
      expect(socket._socket.corked).toBe(0);
    });

    it('writes nothing and reports backpressure when Twilio stops reading during a media write', () => {
      const { socket, stream, seen } = started();
      socket.bufferedAmount = MAX_BUFFERED_BYTES; // at the bound: still fine
      stream.sendAudio(AUDIO, 'm1');
      expect(socket.sent).toHaveLength(2);
      socket.bufferedAmount = MAX_BUFFERED_BYTES + 1;
      stream.sendAudio(AUDIO, 'm2');
      expect(socket.sent).toHaveLength(2);
      expect(seen.closed).toEqual(['backpressure']);
      expect(socket._socket.corked).toBe(0);
    });

    it('writes nothing and reports backpressure when Twilio stops reading before a clear', () => {
      const { socket, stream, seen } = started();
      socket.bufferedAmount = MAX_BUFFERED_BYTES + 1;
      stream.clear();
      expect(socket.sent).toEqual([]);
      expect(seen.closed).toEqual(['backpressure']);
    });

    it('is safe to close twice, and the close is final: no writes, no frames handed on, nothing counted', () => {
      const { socket, stream, seen } = started();
      stream.close(CloseCode.normal, 'caller-hung-up');
      stream.close(CloseCode.modelUnavailable, 'internal-error');
      expect(socket.closes).toEqual([{ code: CloseCode.normal, reason: 'caller-hung-up' }]);
      stream.sendAudio(AUDIO, 'm');
      stream.clear();
      expect(socket.sent).toEqual([]);
      // Frames still in flight, and the socket's own close event, are no one's fault.
      socket.frame(media());
      socket.frame('late garbage');
      socket.emit('close', 1000, Buffer.from(''));
      expect(seen).toMatchObject({ media: 0, closed: [], faults: [] });
      expect(stream.badFrames).toBe(0);
    });

    it('is safe to close before start: the start timeout goes with it', () => {
      const { socket, stream, seen } = setup();
      stream.close(CloseCode.tryAgainLater, 'too many streams waiting for start');
      stream.close(CloseCode.tryAgainLater, 'again');
      expect(socket.closes).toHaveLength(1);
      expect(vi.getTimerCount()).toBe(0);
      socket.frame(startFrame());
      expect(seen.starts).toEqual([]);
    });
  });
});
