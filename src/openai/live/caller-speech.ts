/**
 * Notices the caller starting and stopping to talk, from the energy of their μ-law frames, on
 * this server. GPT-Live needs no turn detection (the model is full duplex and stops talking by
 * itself when interrupted), but the phone keeps playing whatever audio was already queued on it:
 * only this server can `clear` that, and it must do it within a few hundred milliseconds of the
 * caller starting to talk. Transcripts come too late for that (a word must be heard before it is
 * transcribed), and the model's output stopping is ambiguous (an answer also stops when it is
 * finished), so the trigger is local: a frame is voiced when its RMS is well above the line's
 * noise floor (and above an absolute minimum), and ONSET_FRAMES voiced frames in a row are speech.
 *
 * Hot path: one call per 20 ms caller frame. The base64 payload is decoded in place through two
 * lookup tables, with no allocation; the result is a number, not an object.
 */

/** The frame changed nothing. */
export const NO_CHANGE = 0;
/** The caller started talking with this frame. */
export const SPEECH_STARTED = 1;
/** The caller has been quiet long enough: their turn is over. */
export const SPEECH_STOPPED = 2;
export type SpeechChange = typeof NO_CHANGE | typeof SPEECH_STARTED | typeof SPEECH_STOPPED;

/** Voiced frames in a row before it counts as speech: 60 ms, short enough to clear well within 300 ms, long enough that a click or a cough is not a turn. */
export const ONSET_FRAMES = 3;
/** Below this RMS (16-bit scale, ≈ -40 dBFS) a frame is never speech, whatever the line's floor: phone speech sits around 1000–8000. */
export const MIN_SPEECH_RMS = 300;
/** A voiced frame is this many times (≈ 12 dB) louder than the noise floor. */
export const FLOOR_MARGIN = 4;
/** Where the noise floor starts (≈ -50 dBFS): a quiet line, until the first frames say otherwise. */
export const INITIAL_FLOOR_RMS = 100;
/** The floor is the quietest frame of the last FLOOR_BLOCKS × FLOOR_BLOCK_FRAMES frames (2 s): speech always has quieter frames between words, steady noise has none. */
export const FLOOR_BLOCK_FRAMES = 25;
export const FLOOR_BLOCKS = 4;

const BASE64_VALUES = new Uint8Array(128).fill(255);
for (let i = 0; i < 64; i++) BASE64_VALUES['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;

/** Squared linear amplitude of each μ-law byte (ITU-T G.711), so a frame's energy is a sum of lookups. */
const MULAW_ENERGY = new Float64Array(256);
for (let byte = 0; byte < 256; byte++) {
  const u = ~byte & 0xff;
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << ((u >> 4) & 7)) - 0x84;
  MULAW_ENERGY[byte] = magnitude * magnitude;
}

/** RMS (16-bit scale) of base64 μ-law audio, decoded without allocating. NaN for an empty or malformed payload. */
export function mulawBase64Rms(base64: string): number {
  let sum = 0;
  let samples = 0;
  const length = base64.length;
  for (let i = 0; i + 3 < length; i += 4) {
    const a = BASE64_VALUES[base64.charCodeAt(i) & 127];
    const b = BASE64_VALUES[base64.charCodeAt(i + 1) & 127];
    if (a === 255 || b === 255) return NaN;
    sum += MULAW_ENERGY[((a << 2) | (b >> 4)) & 0xff];
    samples++;
    const c = base64.charCodeAt(i + 2);
    if (c === 61) break; // '=': one byte in this group
    const cv = BASE64_VALUES[c & 127];
    if (cv === 255) return NaN;
    sum += MULAW_ENERGY[((b << 4) | (cv >> 2)) & 0xff];
    samples++;
    const d = base64.charCodeAt(i + 3);
    if (d === 61) break;
    const dv = BASE64_VALUES[d & 127];
    if (dv === 255) return NaN;
    sum += MULAW_ENERGY[((cv << 6) | dv) & 0xff];
    samples++;
  }
  return samples === 0 ? NaN : Math.sqrt(sum / samples);
}

/**
 * One call's caller-speech state: quiet ⇄ speaking. The noise floor is tracked by minimum
 * statistics (the quietest frame of the last two seconds, in or out of speech), so steady line
 * noise or hum is learnt within two seconds and never keeps a "turn" open, while speech — which
 * always has quieter frames between words — keeps the floor down. An echo of the assistant well
 * below the caller's own level stays under the margin. Pure logic: frames in, changes out.
 */
export class CallerSpeechDetector {
  private speaking = false;
  private voicedRun = 0;
  private quietFrames = 0;
  /** Minimum of each finished block, oldest first overwritten (ring), and of the block in progress. */
  private readonly blockMins = new Float64Array(FLOOR_BLOCKS).fill(INITIAL_FLOOR_RMS);
  private block = 0;
  private blockFrames = 0;
  private blockMin = Infinity;
  private floor = INITIAL_FLOOR_RMS;
  private readonly stopFrames: number;

  /** `silenceMs`: quiet that ends the caller's turn (20 ms frames). */
  constructor(silenceMs = 500) {
    this.stopFrames = Math.max(1, Math.round(silenceMs / 20));
  }

  get isSpeaking(): boolean {
    return this.speaking;
  }

  get noiseFloor(): number {
    return this.floor;
  }

  /** One caller frame (base64 μ-law). */
  frame(base64: string): SpeechChange {
    const rms = mulawBase64Rms(base64);
    if (Number.isNaN(rms)) return NO_CHANGE;
    this.track(rms);
    const voiced = rms > MIN_SPEECH_RMS && rms > this.floor * FLOOR_MARGIN;
    if (!this.speaking) {
      this.voicedRun = voiced ? this.voicedRun + 1 : 0;
      if (this.voicedRun < ONSET_FRAMES) return NO_CHANGE;
      this.speaking = true;
      this.quietFrames = 0;
      return SPEECH_STARTED;
    }
    this.quietFrames = voiced ? 0 : this.quietFrames + 1;
    if (this.quietFrames < this.stopFrames) return NO_CHANGE;
    this.speaking = false;
    this.voicedRun = 0;
    return SPEECH_STOPPED;
  }

  private track(rms: number): void {
    if (rms < this.blockMin) this.blockMin = rms;
    if (rms < this.floor) this.floor = rms; // a quieter line is believed at once
    if (++this.blockFrames < FLOOR_BLOCK_FRAMES) return;
    this.blockMins[this.block] = this.blockMin;
    this.block = (this.block + 1) % FLOOR_BLOCKS;
    this.blockFrames = 0;
    this.blockMin = Infinity;
    let floor = Infinity;
    for (let i = 0; i < FLOOR_BLOCKS; i++) if (this.blockMins[i] < floor) floor = this.blockMins[i];
    this.floor = floor;
  }
}
