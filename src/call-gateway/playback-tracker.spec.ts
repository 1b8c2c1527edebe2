import { describe, expect, it } from 'vitest';
import { PlaybackTracker } from './playback-tracker';

const ms = (n: number) => n * 8; // bytes of mu-law for n ms

describe('PlaybackTracker', () => {
  it('names each mark with the item and its cumulative ms', () => {
    const t = new PlaybackTracker();
    expect(t.audioSent('item_a', ms(100), 0)).toBe('item_a:100');
    expect(t.audioSent('item_a', ms(60), 1)).toBe('item_a:160');
    expect(t.pendingMarks).toBe(2);
  });

  it('extrapolates from the last echoed mark, capped at what was sent', () => {
    const t = new PlaybackTracker();
    t.audioSent('item_a', ms(1000), 0); // all sent at once, far ahead of playback
    expect(t.playedMs(300)).toBe(300);
    expect(t.playedMs(5000)).toBe(1000);
    const m = t.audioSent('item_a', ms(200), 10);
    // Playback stalled (network): the echo of the first mark arrives late, re-anchoring the estimate.
    t.markEchoed('item_a:1000', 1500);
    expect(t.playedMs(1550)).toBe(1050);
    expect(m).toBe('item_a:1200');
  });

  it('truncates at what the caller heard, not what was sent', () => {
    const t = new PlaybackTracker();
    t.audioSent('item_a', ms(3000), 0);
    t.markEchoed('unknown', 100); // ignored
    const cut = t.interrupt(1234);
    expect(cut).toEqual({ itemId: 'item_a', audioEndMs: 1234, sentMs: 3000 });
    // The item is forgotten: a second speech_started does nothing.
    expect(t.interrupt(1300)).toBeNull();
    expect(t.pendingMarks).toBe(0);
  });

  it('never truncates an item that finished playing', () => {
    const t = new PlaybackTracker();
    t.audioSent('item_a', ms(500), 0);
    t.markEchoed('item_a:500', 520);
    expect(t.isPlaying(600)).toBe(false);
    expect(t.interrupt(600)).toBeNull();
  });

  it('does not count idle time between items as playback', () => {
    const t = new PlaybackTracker();
    t.audioSent('item_a', ms(200), 0);
    t.markEchoed('item_a:200', 200);
    // Ten seconds of silence, then the next answer starts.
    t.audioSent('item_b', ms(1000), 10_000);
    const cut = t.interrupt(10_250);
    expect(cut).toEqual({ itemId: 'item_b', audioEndMs: 250, sentMs: 1000 });
  });

  it('measures a new item from where it starts in the queue', () => {
    const t = new PlaybackTracker();
    t.audioSent('item_a', ms(400), 0);
    t.audioSent('item_b', ms(400), 10); // queued behind item_a
    const cut = t.interrupt(500); // 400 ms of a, then 100 ms of b
    expect(cut?.itemId).toBe('item_b');
    expect(cut?.audioEndMs).toBe(100);
  });

  it('ignores marks echoed after a clear', () => {
    const t = new PlaybackTracker();
    t.audioSent('item_a', ms(1000), 0);
    t.interrupt(100);
    expect(t.markEchoed('item_a:1000', 101)).toBe(false);
    expect(t.playedMs(200)).toBe(0);
  });
});

describe('PlaybackTracker pending marks', () => {
  it('passes skipped marks when a later one echoes, and stays bounded over a long answer', () => {
    const t = new PlaybackTracker();
    for (let i = 1; i <= 1000; i++) t.audioSent('item_a', 160, i);
    expect(t.pendingMarks).toBe(1000);
    expect(t.markEchoed('item_a:40', 100)).toBe(true); // marks 1 and 2 are passed too
    expect(t.pendingMarks).toBe(998);
    expect(t.markEchoed('item_a:20', 101)).toBe(false); // already passed
    for (let i = 3; i <= 1000; i++) expect(t.markEchoed(`item_a:${i * 20}`, 100 + i)).toBe(true);
    expect(t.pendingMarks).toBe(0);
  });
});
