import { describe, expect, it } from 'vitest';
import {
  mulawDecode,
  mulawDecodeSample,
  mulawEncode,
  mulawEncodeSample,
  mulawRms,
  mulawToWav,
  readWav,
  resample,
  toneMulaw,
  UnsupportedWavError,
  wavToMulaw,
} from './audio-codec';

function sine(frequency: number, rate: number, seconds: number, level = 0.5): Float32Array {
  const out = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = level * Math.sin((2 * Math.PI * frequency * i) / rate);
  return out;
}

function rms(samples: ArrayLike<number>, from = 0, to = samples.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += samples[i] * samples[i];
  return Math.sqrt(sum / (to - from));
}

// Counts sign changes: twice the frequency per second of signal.
function zeroCrossings(samples: ArrayLike<number>): number {
  let n = 0;
  for (let i = 1; i < samples.length; i++) if (samples[i - 1] < 0 !== samples[i] < 0) n++;
  return n;
}

// A WAV file written the plain way, to read back.
function wavFile(opts: { format: number; channels: number; rate: number; bits: number; data: Buffer; streamedSizes?: boolean }): Buffer {
  const fmt = Buffer.alloc(24);
  fmt.write('fmt ', 0, 'ascii');
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(opts.format, 8);
  fmt.writeUInt16LE(opts.channels, 10);
  fmt.writeUInt32LE(opts.rate, 12);
  fmt.writeUInt32LE((opts.rate * opts.channels * opts.bits) / 8, 16);
  fmt.writeUInt16LE((opts.channels * opts.bits) / 8, 20);
  fmt.writeUInt16LE(opts.bits, 22);
  const dataHeader = Buffer.alloc(8);
  dataHeader.write('data', 0, 'ascii');
  dataHeader.writeUInt32LE(opts.streamedSizes ? 0x7ffff000 : opts.data.length, 4);
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'ascii');
  riff.writeUInt32LE(opts.streamedSizes ? 0x7ffff024 : 4 + fmt.length + dataHeader.length + opts.data.length, 4);
  riff.write('WAVE', 8, 'ascii');
  // An unrelated chunk before fmt, as some editors write, must be skipped.
  const list = Buffer.concat([Buffer.from('LIST', 'ascii'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc\0', 'ascii')]);
  return Buffer.concat([riff, list, fmt, dataHeader, opts.data]);
}

describe('G.711 mu-law', () => {
  it('matches the standard code points', () => {
    expect(mulawEncodeSample(0)).toBe(0xff);
    expect(mulawDecodeSample(0xff)).toBe(0);
    expect(mulawDecodeSample(0x00)).toBe(-32124);
    expect(mulawDecodeSample(0x80)).toBe(32124);
    expect(mulawEncodeSample(32767)).toBe(0x80);
    expect(mulawEncodeSample(-32768)).toBe(0x00);
    expect(mulawEncodeSample(1000)).toBe(0xce);
    expect(mulawDecodeSample(0xce)).toBe(988);
  });

  it('round-trips every code (0x7f is negative zero, which encodes back as 0xff)', () => {
    for (let byte = 0; byte < 256; byte++) {
      const back = mulawEncodeSample(mulawDecodeSample(byte));
      expect(back).toBe(byte === 0x7f ? 0xff : byte);
    }
  });

  it('quantises within half a step of the segment', () => {
    for (let s = -32000; s <= 32000; s += 37) {
      const back = mulawDecodeSample(mulawEncodeSample(s));
      // Step size doubles each segment: 8 at the bottom, 1024 at the top.
      expect(Math.abs(back - s)).toBeLessThanOrEqual(Math.max(8, Math.abs(s) / 16));
    }
  });

  it('measures energy: silence is 0, a tone is loud', () => {
    expect(mulawRms(Buffer.alloc(160, 0xff))).toBe(0);
    const tone = mulawEncode(sine(440, 8000, 0.1, 0.5));
    expect(mulawRms(tone)).toBeGreaterThan(0.5 * 32768 * 0.65);
    expect(mulawRms(tone)).toBeLessThan(0.5 * 32768 * 0.75);
  });
});

describe('WAV', () => {
  it('reads 16-bit stereo PCM, averaging the channels', () => {
    const data = Buffer.alloc(8);
    data.writeInt16LE(16384, 0); // L
    data.writeInt16LE(0, 2); // R
    data.writeInt16LE(-32768, 4);
    data.writeInt16LE(-32768, 6);
    const wav = readWav(wavFile({ format: 1, channels: 2, rate: 16000, bits: 16, data }));
    expect(wav.sampleRate).toBe(16000);
    expect(Array.from(wav.samples)).toEqual([0.25, -1]);
  });

  it('reads float, 8-bit, 24-bit and mu-law data, and streamed (unknown) sizes', () => {
    const float = Buffer.alloc(8);
    float.writeFloatLE(0.5, 0);
    float.writeFloatLE(-0.25, 4);
    expect(Array.from(readWav(wavFile({ format: 3, channels: 1, rate: 8000, bits: 32, data: float })).samples)).toEqual([0.5, -0.25]);
    expect(Array.from(readWav(wavFile({ format: 1, channels: 1, rate: 8000, bits: 8, data: Buffer.from([128, 192, 0]) })).samples)).toEqual([0, 0.5, -1]);
    const s24 = Buffer.from([0, 0, 0x40, 0, 0, 0xc0]); // +0.5, -0.5
    expect(Array.from(readWav(wavFile({ format: 1, channels: 1, rate: 8000, bits: 24, data: s24 })).samples)).toEqual([0.5, -0.5]);
    const mu = readWav(wavFile({ format: 7, channels: 1, rate: 8000, bits: 8, data: Buffer.from([0xff, 0x80]), streamedSizes: true }));
    expect(Array.from(mu.samples)).toEqual([0, 32124 / 32768]);
  });

  it('rejects what it cannot read with a clear error', () => {
    expect(() => readWav(Buffer.from('not a wav file at all'))).toThrow(UnsupportedWavError);
    expect(() => readWav(wavFile({ format: 2, channels: 1, rate: 8000, bits: 4, data: Buffer.alloc(4) }))).toThrow(/format 2/);
  });

  it('writes mu-law as PCM16 WAV that reads back as the same samples', () => {
    const mulaw = toneMulaw(200);
    const wav = mulawToWav(mulaw);
    expect(wav.length).toBe(44 + mulaw.length * 2);
    const back = readWav(wav);
    expect(back.sampleRate).toBe(8000);
    const expected = mulawDecode(mulaw);
    expect(Array.from(back.samples, (s) => Math.round(s * 32768))).toEqual(Array.from(expected));
  });
});

describe('resampling to 8 kHz', () => {
  it('keeps a 1 kHz tone at 1 kHz and at the same level (44.1 kHz → 8 kHz)', () => {
    const out = resample(sine(1000, 44100, 1), 44100, 8000);
    expect(out.length).toBe(8000);
    expect(zeroCrossings(out)).toBeGreaterThanOrEqual(1998);
    expect(zeroCrossings(out)).toBeLessThanOrEqual(2002);
    expect(rms(out, 200, 7800)).toBeCloseTo(0.5 / Math.SQRT2, 2);
  });

  it('removes content above the new Nyquist frequency instead of aliasing it (6 kHz tone at 48 kHz)', () => {
    const out = resample(sine(6000, 48000, 0.5), 48000, 8000);
    expect(rms(out, 200, out.length - 200)).toBeLessThan(0.005);
  });

  it('upsamples too (a 300 Hz tone at 6 kHz)', () => {
    const out = resample(sine(300, 6000, 1), 6000, 8000);
    expect(out.length).toBe(8000);
    expect(Math.abs(zeroCrossings(out) - 600)).toBeLessThanOrEqual(2);
  });

  it('converts a WAV file to 20 ms mu-law frames worth of bytes', () => {
    const pcm = Buffer.alloc(16000 * 2); // 1 s at 16 kHz
    const tone = sine(500, 16000, 1, 0.3);
    for (let i = 0; i < tone.length; i++) pcm.writeInt16LE(Math.round(tone[i] * 32767), i * 2);
    const mulaw = wavToMulaw(wavFile({ format: 1, channels: 1, rate: 16000, bits: 16, data: pcm }));
    expect(mulaw.length).toBe(8000);
    expect(mulawRms(mulaw, 400, 7600) / 32768).toBeCloseTo(0.3 / Math.SQRT2, 2);
  });
});
