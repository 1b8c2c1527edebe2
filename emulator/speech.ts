// Text to 8 kHz mu-law speech for the emulator's voice (espeak-ng, converted in-process), with a
// tone of about the same length when espeak-ng is not installed, so nothing here is required.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { toneMulaw, wavToMulaw } from './audio-codec';

/** About how long espeak-ng takes per character at its default 175 words a minute. */
const MS_PER_CHAR = 62;

let espeakFound: boolean | undefined;

/** Whether `espeak-ng` can be run (checked once). */
export function hasEspeak(): boolean {
  if (espeakFound === undefined) {
    try {
      execFileSync('espeak-ng', ['--version'], { stdio: 'ignore' });
      espeakFound = true;
    } catch {
      espeakFound = false;
    }
  }
  return espeakFound;
}

export interface SpeechOptions {
  /** espeak-ng voice, e.g. `en-us`, `en-gb+f3`. */
  voice?: string;
  /** Words per minute (espeak-ng's default is 175). */
  wordsPerMinute?: number;
}

/**
 * Speaks `text` as 8 kHz mu-law. Asynchronous (the caller's event loop keeps playing audio while
 * espeak-ng runs); falls back to a tone when espeak-ng is missing or fails.
 */
export function synthesize(text: string, opts: SpeechOptions = {}): Promise<Buffer> {
  if (!hasEspeak()) return Promise.resolve(toneFor(text));
  const args = ['--stdout', '-v', opts.voice ?? 'en-us', '-s', String(opts.wordsPerMinute ?? 175), text];
  return new Promise((resolve) => {
    execFile('espeak-ng', args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      if (err) return resolve(toneFor(text));
      try {
        resolve(wavToMulaw(stdout));
      } catch {
        resolve(toneFor(text));
      }
    });
  });
}

function toneFor(text: string): Buffer {
  return toneMulaw(Math.max(300, text.length * MS_PER_CHAR));
}

/** Remembers what was synthesised, so a phrase said twice (or prepared ahead) costs nothing. */
export class SpeechCache {
  private readonly cache = new Map<string, Promise<Buffer>>();

  constructor(private readonly opts: SpeechOptions = {}) {}

  speak(text: string): Promise<Buffer> {
    let audio = this.cache.get(text);
    if (!audio) {
      audio = synthesize(text, this.opts);
      this.cache.set(text, audio);
    }
    return audio;
  }
}

/** The repository root (where package.json is), from source files and from the compiled dist-tools alike. */
export function repoRoot(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** A mu-law clip shipped in emulator/audio/ (generated once by scripts/make-demo-audio.ts). */
export function loadClip(name: string): Buffer {
  return readFileSync(join(repoRoot(), 'emulator', 'audio', name));
}
