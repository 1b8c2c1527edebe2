// Regenerates the caller clips the demo speaks (emulator/audio/*.ulaw, committed so the demo needs
// no espeak-ng): espeak-ng → 8 kHz mu-law, edges trimmed. Run after changing DEMO_CALLER:
//   npm run build:tools && node dist-tools/scripts/make-demo-audio.js
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FRAME_BYTES, mulawRms } from '../emulator/audio-codec';
import { DEMO_CALLER } from '../emulator/demo-conversation';
import { hasEspeak, repoRoot, synthesize } from '../emulator/speech';

export const CALLER_VOICE = 'en-gb+m3';
/** Below this RMS (16-bit scale) a 20 ms frame counts as silence when trimming. */
const SILENCE_RMS = 200;

/** Cuts silent 20 ms frames off both ends, keeping one frame of margin. */
function trim(audio: Buffer): Buffer {
  const frames = Math.floor(audio.length / FRAME_BYTES);
  const loud = (i: number): boolean => mulawRms(audio, i * FRAME_BYTES, (i + 1) * FRAME_BYTES) > SILENCE_RMS;
  let first = 0;
  while (first < frames && !loud(first)) first++;
  let last = frames - 1;
  while (last > first && !loud(last)) last--;
  return audio.subarray(Math.max(0, first - 1) * FRAME_BYTES, Math.min(frames, last + 2) * FRAME_BYTES);
}

/** The longest run of silent frames inside the clip: the emulator's VAD ends a turn after 500 ms. */
function longestPauseMs(audio: Buffer): number {
  let longest = 0;
  let run = 0;
  for (let i = 0; i + FRAME_BYTES <= audio.length; i += FRAME_BYTES) {
    run = mulawRms(audio, i, i + FRAME_BYTES) > SILENCE_RMS ? 0 : run + 1;
    longest = Math.max(longest, run);
  }
  return longest * 20;
}

async function main(): Promise<void> {
  if (!hasEspeak()) throw new Error('espeak-ng is not installed (apt-get install espeak-ng)');
  const dir = join(repoRoot(), 'emulator', 'audio');
  mkdirSync(dir, { recursive: true });
  for (const line of DEMO_CALLER) {
    const audio = trim(await synthesize(line.text, { voice: CALLER_VOICE }));
    writeFileSync(join(dir, line.clip), audio);
    console.log(`${line.clip}: ${(audio.length / 8000).toFixed(2)} s, longest pause ${longestPauseMs(audio)} ms — "${line.text}"`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
