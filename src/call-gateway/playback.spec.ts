import { describe, expect, it } from 'vitest';
import { MARK_INTERVAL_MS, MAX_PENDING_MARKS, Playback } from './playback';

const ms = (n: number) => n * 8; // bytes of mu-law for n ms

describe('Playback', () => {
  it('names each mark with its generation and number, the item and its cumulative ms', () => {
    const p = new Playback(0);
    expect(p.audioSent('item_a', ms(100), 0)).toBe('1.0:item_a:100');
    expect(p.audioSent('item_a', ms(60), 1)).toBe('1.1:item_a:160');
    expect(p.pendingMarks).toBe(2);
  });

  it('extrapolates from the last echoed mark, capped at what was sent', () => {
    const p = new Playback(0);
    p.audioSent('item_a', ms(1000), 0); // all sent at once, far ahead of playback
    expect(p.playedMs(300)).toBe(300);
    expect(p.playedMs(5000)).toBe(1000);
    const m = p.audioSent('item_a', ms(200), 10);
    // Playback stalled (network): the echo of the first mark arrives late, re-anchoring the estimate.
    p.markEchoed('1.0:item_a:1000', 1500);
    expect(p.playedMs(1550)).toBe(1050);
    expect(m).toBe('1.1:item_a:1200');
  });

  it('truncates at what the caller heard, not what was sent', () => {
    const p = new Playback(0);
    p.audioSent('item_a', ms(3000), 0);
    expect(p.markEchoed('unknown', 100)).toBe(false); // ignored
    expect(p.interrupt(1234)).toEqual([{ itemId: 'item_a', audioEndMs: 1234, sentMs: 3000 }]);
    // Everything is forgotten: a second speech_started does nothing.
    expect(p.interrupt(1300)).toEqual([]);
    expect(p.pendingMarks).toBe(0);
  });

  it('never truncates an item that finished playing', () => {
    const p = new Playback(0);
    p.audioSent('item_a', ms(500), 0);
    p.markEchoed('1.0:item_a:500', 520);
    expect(p.isPlaying(600)).toBe(false);
    expect(p.interrupt(600)).toEqual([]);
  });

  it('does not count idle time between items as playback', () => {
    const p = new Playback(0);
    p.audioSent('item_a', ms(200), 0);
    p.markEchoed('1.0:item_a:200', 200);
    // Ten seconds of silence, then the next answer starts.
    p.audioSent('item_b', ms(1000), 10_000);
    expect(p.interrupt(10_250)).toEqual([{ itemId: 'item_b', audioEndMs: 250, sentMs: 1000 }]);
  });

  it('cuts every item on the phone at its own position: the playing one at what was heard, later ones at 0', () => {
    const p = new Playback(0);
    // A preamble ("let me check", 400 ms) and the answer (2 s), both sent long before they play.
    p.audioSent('item_pre', ms(400), 0);
    p.audioSent('item_ans', ms(1000), 5);
    p.audioSent('item_ans', ms(1000), 10);
    expect(p.interrupt(250)).toEqual([
      { itemId: 'item_pre', audioEndMs: 250, sentMs: 400 },
      { itemId: 'item_ans', audioEndMs: 0, sentMs: 2000 },
    ]);
  });

  it('leaves out items that have finished playing when a later one is cut', () => {
    const p = new Playback(0);
    p.audioSent('item_pre', ms(400), 0);
    p.audioSent('item_ans', ms(1000), 5);
    p.markEchoed('1.0:item_pre:400', 400);
    expect(p.interrupt(700)).toEqual([{ itemId: 'item_ans', audioEndMs: 300, sentMs: 1000 }]);
  });

  it('recognises the marks a clear echoes as not played: they carry an old generation', () => {
    const p = new Playback(0);
    p.audioSent('item_a', ms(1000), 0);
    p.interrupt(100);
    expect(p.markEchoed('1.0:item_a:1000', 101)).toBe(false);
    expect(p.playedMs(200)).toBe(0);
    // The same item and position in the new generation is a different mark.
    expect(p.audioSent('item_a', ms(1000), 300)).toBe('2.1:item_a:1000');
    expect(p.markEchoed('1.0:item_a:1000', 301)).toBe(false);
    // A pending mark's number with anything else around it is not that mark.
    expect(p.markEchoed('1.1:item_a:1000', 301)).toBe(false);
    expect(p.markEchoed('2.1:item_b:1000', 301)).toBe(false);
    expect(p.markEchoed('2.1:item_a:1000', 1300)).toBe(true);
  });
});

describe('Playback mark spacing', () => {
  it('sends a mark after at most every MARK_INTERVAL_MS of audio, not after every chunk', () => {
    const p = new Playback();
    expect(MARK_INTERVAL_MS).toBe(100);
    const names = Array.from({ length: 12 }, (_, i) => p.audioSent('item_a', ms(20), i));
    expect(names).toEqual([null, null, null, null, '1.0:item_a:100', null, null, null, null, '1.1:item_a:200', null, null]);
    expect(p.pendingMarks).toBe(2);
    // Chunks of the interval or more each carry their mark, as before.
    expect(p.audioSent('item_a', ms(300), 20)).toBe('1.2:item_a:540');
    expect(p.audioSent('item_b', ms(100), 21)).toBe('1.3:item_b:100');
  });

  it('marks the end of a response whose last audio went out unmarked, once', () => {
    const p = new Playback();
    for (let i = 0; i < 7; i++) p.audioSent('item_a', ms(20), i); // 140 ms: one mark at 100
    expect(p.pendingMarks).toBe(1);
    const end = p.endMark();
    expect(end).toBe('1.1:item_a:140');
    expect(p.endMark()).toBeNull(); // nothing went out after it
    expect(p.markEchoed('1.0:item_a:100', 100)).toBe(true);
    expect(p.pendingMarks).toBe(1); // the end is still pending: the goodbye is still playing
    expect(p.markEchoed(end!, 140)).toBe(true);
    expect(p.pendingMarks).toBe(0);
    expect(p.isPlaying(141)).toBe(false);
  });

  it('has no end mark when nothing is queued or the last chunk was marked, and starts counting again after a clear', () => {
    const p = new Playback();
    expect(p.endMark()).toBeNull();
    p.audioSent('item_a', ms(100), 0);
    expect(p.endMark()).toBeNull();
    p.audioSent('item_a', ms(40), 1);
    p.interrupt(50); // the caller talked: the phone's queue is gone, nothing to mark the end of
    expect(p.endMark()).toBeNull();
    expect(p.audioSent('item_b', ms(60), 60)).toBeNull();
    expect(p.audioSent('item_b', ms(40), 61)).toBe('2.1:item_b:100');
  });
});

describe('Playback pending marks', () => {
  it('passes skipped marks when a later one echoes, and stays bounded over a long answer', () => {
    const p = new Playback(0);
    for (let i = 1; i <= 1000; i++) p.audioSent('item_a', 160, i);
    expect(p.pendingMarks).toBe(1000);
    expect(p.markEchoed('1.1:item_a:40', 100)).toBe(true); // marks 1 and 2 are passed too
    expect(p.pendingMarks).toBe(998);
    expect(p.markEchoed('1.0:item_a:20', 101)).toBe(false); // already passed
    for (let i = 3; i <= 1000; i++) expect(p.markEchoed(`1.${i - 1}:item_a:${i * 20}`, 100 + i)).toBe(true);
    expect(p.pendingMarks).toBe(0);
  });

  it('stops adding marks beyond the bound (the next mark covers the audio), and ignores unknown names', () => {
    const p = new Playback(0);
    let named = 0;
    for (let i = 1; i <= 20_000; i++) if (p.audioSent('item_a', 160, i) !== null) named++;
    expect(named).toBe(MAX_PENDING_MARKS);
    expect(p.pendingMarks).toBe(MAX_PENDING_MARKS);
    // Thousands of unknown names from a misbehaving peer change nothing (each is one index lookup),
    // pending numbers included, and names that are not ours at all.
    for (let i = 0; i < 3000; i++) expect(p.markEchoed(`9.${i}:nope:${i}`, 0)).toBe(false);
    for (const name of ['', '.', '1.', '1.x:item_a:20', '.0:item_a:20', '1.-0:item_a:20', '1.0', 'plain']) expect(p.markEchoed(name, 0)).toBe(false);
    expect(p.pendingMarks).toBe(MAX_PENDING_MARKS);
    // Once the phone catches up, marks flow again.
    expect(p.markEchoed(`1.${MAX_PENDING_MARKS - 1}:item_a:${MAX_PENDING_MARKS * 20}`, 30_000)).toBe(true);
    expect(p.audioSent('item_a', 160, 30_001)).not.toBeNull();
  });
});

describe('Playback under a flood of unknown marks', () => {
  // A peer echoing marks we never sent must not cost more per mark as more marks are pending: a
  // linear scan of the 1000 pending marks would make 20 000 echoes 20 million comparisons.
  // Measured against itself (the same flood with 1 mark pending), so the machine's speed cancels out.
  it('costs the same per unknown echo with 1 or 1000 marks pending (an index lookup, not a scan)', () => {
    const foreign = Array.from({ length: 20_000 }, (_, i) => `9.${i % 1000}:item_a:${i * 20}`);
    const flood = (pending: number): number => {
      let best = Infinity;
      for (let run = 0; run < 5; run++) {
        const p = new Playback(0);
        for (let i = 1; i <= pending; i++) p.audioSent('item_a', 160, i);
        const started = performance.now();
        for (const name of foreign) p.markEchoed(name, 0);
        best = Math.min(best, performance.now() - started);
        expect(p.pendingMarks).toBe(pending); // nothing moved
      }
      return best;
    };
    flood(MAX_PENDING_MARKS); // warm-up: both measurements below run optimised code
    const one = flood(1);
    const full = flood(MAX_PENDING_MARKS);
    // O(1): about equal. A scan: hundreds of times more. 10x (plus 2 ms for a noisy neighbour) tells them apart.
    expect(full).toBeLessThan(one * 10 + 2);
  });
});
