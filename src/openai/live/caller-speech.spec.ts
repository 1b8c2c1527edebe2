import { describe, expect, it } from 'vitest';
import { mulawEncodeSample, mulawRms } from '../../../emulator/audio-codec';
import { CallerSpeechDetector, mulawBase64Rms, NO_CHANGE, ONSET_FRAMES, SPEECH_STARTED, SPEECH_STOPPED } from './caller-speech';

/** A 20 ms frame of a sine at `amplitude` (16-bit scale), μ-law, base64. */
function tone(amplitude: number, phase = 0): string {
  const frame = Buffer.alloc(160);
  for (let i = 0; i < 160; i++) frame[i] = mulawEncodeSample(amplitude * Math.sin(((i + phase) * 2 * Math.PI * 440) / 8000));
  return frame.toString('base64');
}

describe('mulawBase64Rms', () => {
  it('measures base64 μ-law exactly as decoding it would, for every padding', () => {
    for (const bytes of [160, 161, 162, 7]) {
      const audio = Buffer.from(Array.from({ length: bytes }, (_, i) => (i * 37) & 0xff));
      expect(mulawBase64Rms(audio.toString('base64'))).toBeCloseTo(mulawRms(audio), 6);
    }
    expect(mulawBase64Rms('')).toBeNaN();
    expect(mulawBase64Rms('!!!!')).toBeNaN();
  });
});

describe('CallerSpeechDetector', () => {
  it('starts on the third voiced frame and stops after the configured silence', () => {
    const detector = new CallerSpeechDetector(100); // 5 frames
    const quiet = tone(0);
    expect(detector.frame(tone(3000))).toBe(NO_CHANGE);
    expect(detector.frame(quiet)).toBe(NO_CHANGE); // a click is not speech
    const changes = Array.from({ length: ONSET_FRAMES }, () => detector.frame(tone(3000)));
    expect(changes).toEqual([NO_CHANGE, NO_CHANGE, SPEECH_STARTED]);
    expect(detector.isSpeaking).toBe(true);
    expect([1, 2, 3, 4].map(() => detector.frame(quiet))).toEqual([NO_CHANGE, NO_CHANGE, NO_CHANGE, NO_CHANGE]);
    expect(detector.frame(tone(3000))).toBe(NO_CHANGE); // a pause inside a sentence
    expect([1, 2, 3, 4, 5].map(() => detector.frame(quiet)).at(-1)).toBe(SPEECH_STOPPED);
  });

  it('learns a steady noisy line within two seconds, so its hum never holds a turn open, yet hears speech over it', () => {
    const detector = new CallerSpeechDetector();
    const hum = tone(600); // above the absolute minimum: only the learnt floor keeps it out
    // The first frames of a loud line may pass for speech once; the floor catches up within 2 s and ends it.
    const changes = Array.from({ length: 150 }, () => detector.frame(hum));
    expect(changes.filter((c) => c === SPEECH_STARTED).length).toBeLessThanOrEqual(1);
    expect(detector.isSpeaking).toBe(false);
    expect(detector.noiseFloor).toBeGreaterThan(300);
    expect(Array.from({ length: 300 }, () => detector.frame(hum)).every((c) => c === NO_CHANGE)).toBe(true);
    const speech = [1, 2, 3].map(() => detector.frame(tone(6000)));
    expect(speech.at(-1)).toBe(SPEECH_STARTED);
  });

  it('keeps its floor down through real speech (quieter frames between words)', () => {
    const detector = new CallerSpeechDetector();
    // 4 s of syllables: 160 ms loud, 60 ms between them at a low level.
    const changes: number[] = [];
    for (let t = 0; t < 200; t++) changes.push(detector.frame(t % 11 < 8 ? tone(4000, t) : tone(150, t)));
    expect(changes.filter((c) => c === SPEECH_STARTED)).toHaveLength(1);
    expect(changes).not.toContain(SPEECH_STOPPED);
    expect(detector.noiseFloor).toBeLessThan(300);
  });

  it('never takes a quiet line for speech, however low its floor', () => {
    const detector = new CallerSpeechDetector();
    const changes = Array.from({ length: 100 }, (_, i) => detector.frame(tone(i % 2 ? 0 : 250, i)));
    expect(changes.every((c) => c === NO_CHANGE)).toBe(true);
  });
});
