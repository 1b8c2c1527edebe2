// G.711 mu-law, WAV files and sample-rate conversion, for the offline tools: the caller audio a
// simulated call streams and the answers it saves. Twilio and the Realtime API both speak 8 kHz
// mu-law, so everything is converted to that once, before a call, never on the way.

export const MULAW_RATE = 8000;
/** One 20 ms Twilio frame of 8 kHz mu-law. */
export const FRAME_BYTES = 160;
/** Digital silence in mu-law (the code for 0). */
export const MULAW_SILENCE = 0xff;

const BIAS = 0x84;
const CLIP = 32635;

/** Encodes one 16-bit linear sample (ITU-T G.711 mu-law). */
export function mulawEncodeSample(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  // The exponent is the position of the highest set bit above bit 7.
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

const DECODE_TABLE = new Int16Array(256);
for (let byte = 0; byte < 256; byte++) {
  const u = ~byte & 0xff;
  const magnitude = ((((u & 0x0f) << 3) + BIAS) << ((u >> 4) & 7)) - BIAS;
  DECODE_TABLE[byte] = u & 0x80 ? -magnitude : magnitude;
}

export function mulawDecodeSample(byte: number): number {
  return DECODE_TABLE[byte & 0xff];
}

/** Float samples in [-1, 1] → mu-law bytes. */
export function mulawEncode(samples: Float32Array): Buffer {
  const out = Buffer.alloc(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = mulawEncodeSample(samples[i] * 32768);
  return out;
}

/** mu-law bytes → 16-bit linear samples. */
export function mulawDecode(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = DECODE_TABLE[bytes[i]];
  return out;
}

/** A 20 ms frame louder than this (RMS, 16-bit scale) counts as speech: the scripted voice model's VAD and the caller's microphone agree on it. */
export const SPEECH_RMS = 200;

/** Root mean square of a run of mu-law bytes, on the 16-bit scale (0 … 32768). */
export function mulawRms(bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (end <= start) return 0;
  let sum = 0;
  for (let i = start; i < end; i++) {
    const s = DECODE_TABLE[bytes[i]];
    sum += s * s;
  }
  return Math.sqrt(sum / (end - start));
}

// ---- WAV ----------------------------------------------------------------------------------

export interface PcmAudio {
  sampleRate: number;
  /** Mono samples in [-1, 1] (channels are averaged). */
  samples: Float32Array;
}

const WAVE_PCM = 1;
const WAVE_FLOAT = 3;
const WAVE_MULAW = 7;
const WAVE_EXTENSIBLE = 0xfffe;

export class UnsupportedWavError extends Error {}

/**
 * Reads a RIFF/WAVE file: integer PCM (8, 16, 24, 32 bit), 32-bit float or mu-law, any rate and
 * channel count. Also accepts the 0xFFFFFFFF sizes streaming writers (espeak-ng --stdout) leave.
 */
export function readWav(file: Buffer): PcmAudio {
  if (file.length < 12 || file.toString('ascii', 0, 4) !== 'RIFF' || file.toString('ascii', 8, 12) !== 'WAVE') {
    throw new UnsupportedWavError('not a RIFF/WAVE file');
  }
  let format = 0;
  let channels = 0;
  let sampleRate = 0;
  let bits = 0;
  let data: Buffer | null = null;
  for (let offset = 12; offset + 8 <= file.length;) {
    const id = file.toString('ascii', offset, offset + 4);
    const declared = file.readUInt32LE(offset + 4);
    const body = offset + 8;
    // A streamed file may say 0 or 0xFFFFFFFF for the data size: it runs to the end of the file.
    const size = id === 'data' && (declared === 0 || body + declared > file.length) ? file.length - body : declared;
    if (id === 'fmt ') {
      format = file.readUInt16LE(body);
      channels = file.readUInt16LE(body + 2);
      sampleRate = file.readUInt32LE(body + 4);
      bits = file.readUInt16LE(body + 14);
      // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the sub-format GUID.
      if (format === WAVE_EXTENSIBLE && size >= 26) format = file.readUInt16LE(body + 24);
    } else if (id === 'data') {
      data = file.subarray(body, body + size);
      break;
    }
    offset = body + size + (size & 1); // chunks are padded to an even size
  }
  if (!data || channels === 0 || sampleRate === 0) throw new UnsupportedWavError('WAV file without fmt or data chunk');
  const read = sampleReader(format, bits);
  if (!read) throw new UnsupportedWavError(`unsupported WAV encoding (format ${format}, ${bits} bits)`);
  const bytesPerSample = bits / 8;
  const frames = Math.floor(data.length / (bytesPerSample * channels));
  const samples = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += read(data, (i * channels + c) * bytesPerSample);
    samples[i] = sum / channels;
  }
  return { sampleRate, samples };
}

function sampleReader(format: number, bits: number): ((data: Buffer, offset: number) => number) | null {
  if (format === WAVE_PCM && bits === 8) return (d, o) => (d[o] - 128) / 128;
  if (format === WAVE_PCM && bits === 16) return (d, o) => d.readInt16LE(o) / 32768;
  if (format === WAVE_PCM && bits === 24) return (d, o) => d.readIntLE(o, 3) / 8388608;
  if (format === WAVE_PCM && bits === 32) return (d, o) => d.readInt32LE(o) / 2147483648;
  if (format === WAVE_FLOAT && bits === 32) return (d, o) => d.readFloatLE(o);
  if (format === WAVE_MULAW && bits === 8) return (d, o) => DECODE_TABLE[d[o]] / 32768;
  return null;
}

/** A mono 16-bit PCM WAV file of 8 kHz mu-law audio (decoded: every player reads PCM16). */
export function mulawToWav(mulaw: Uint8Array, sampleRate = MULAW_RATE): Buffer {
  const pcm = mulawDecode(mulaw);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + pcm.length * 2, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(WAVE_PCM, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(pcm.length * 2, 40);
  const body = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) body.writeInt16LE(pcm[i], i * 2);
  return Buffer.concat([header, body]);
}

// ---- resampling ---------------------------------------------------------------------------

/** Half-width of the interpolation kernel, in zero crossings of the (lower) output rate. */
const KERNEL_ZEROS = 16;

/**
 * Band-limited resampling (windowed sinc). Going down, the low-pass cuts just below the new
 * Nyquist frequency, so e.g. 44.1 kHz speech does not alias into the 8 kHz phone band.
 */
export function resample(samples: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (fromRate === toRate) return samples.slice();
  const ratio = toRate / fromRate;
  const scale = Math.min(1, ratio); // low-pass relative to the input's Nyquist
  const cutoff = 0.5 * scale * 0.94; // cycles per input sample, a little under Nyquist
  const half = Math.ceil(KERNEL_ZEROS / scale); // taps each side, in input samples
  const out = new Float32Array(Math.floor(samples.length * ratio));
  for (let n = 0; n < out.length; n++) {
    const center = n / ratio;
    const first = Math.max(0, Math.floor(center) - half + 1);
    const last = Math.min(samples.length - 1, Math.floor(center) + half);
    let sum = 0;
    let weights = 0;
    for (let i = first; i <= last; i++) {
      const x = center - i;
      const w = 2 * cutoff * sinc(2 * cutoff * x) * blackman(x / half);
      sum += samples[i] * w;
      weights += w;
    }
    // Normalising by the weights keeps unity gain at DC, also at the edges of the signal.
    out[n] = weights !== 0 ? sum / weights : 0;
  }
  return out;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

// Blackman window over [-1, 1].
function blackman(t: number): number {
  if (t <= -1 || t >= 1) return 0;
  const p = Math.PI * (t + 1);
  return 0.42 - 0.5 * Math.cos(p) + 0.08 * Math.cos(2 * p);
}

/** Any WAV file this module reads → 8 kHz mono mu-law, the format of a Twilio media stream. */
export function wavToMulaw(file: Buffer): Buffer {
  const audio = readWav(file);
  return mulawEncode(resample(audio.samples, audio.sampleRate, MULAW_RATE));
}

/** A tone with a syllable-like 4 Hz envelope, `ms` long: stands in for speech when no TTS exists. */
export function toneMulaw(ms: number, frequency = 440, level = 0.3): Buffer {
  const samples = new Float32Array(Math.round((ms * MULAW_RATE) / 1000));
  for (let i = 0; i < samples.length; i++) {
    const t = i / MULAW_RATE;
    const envelope = 0.55 + 0.45 * Math.sin(2 * Math.PI * 4 * t);
    samples[i] = level * envelope * Math.sin(2 * Math.PI * frequency * t);
  }
  return mulawEncode(samples);
}

export function silenceMulaw(ms: number): Buffer {
  return Buffer.alloc(Math.round((ms * MULAW_RATE) / 1000), MULAW_SILENCE);
}
