/**
 * Knows how much of the assistant's audio the caller has actually heard.
 *
 * Twilio plays what we send later than we send it, and echoes each named mark when playback
 * reaches it. The tracker keeps one timeline of the audio queued on the phone since the last
 * `clear`: an anchor (ms played, at time t) moved by each echoed mark, and extrapolated in real
 * time between echoes, never past what was sent. Pure logic, no I/O; time is passed in.
 */

/** mu-law 8 kHz: 8 bytes per millisecond. */
export const MULAW_BYTES_PER_MS = 8;

interface PendingMark {
  name: string;
  /** Position of the mark on the playback timeline, in ms since the last clear. */
  timelineMs: number;
}

export interface Truncation {
  itemId: string;
  /** What the caller heard of that item, in ms. */
  audioEndMs: number;
  /** What had been sent of that item, in ms. */
  sentMs: number;
}

export class PlaybackTracker {
  private itemId: string | null = null;
  /** Timeline position where the current item's audio starts. */
  private itemStartMs = 0;
  /** ms of the current item sent so far (cumulative, names its marks). */
  private itemSentMs = 0;
  /** End of everything queued on the phone, in ms of the timeline. */
  private queuedMs = 0;
  private anchorMs = 0;
  private anchorAt = 0;
  /** Marks sent and not yet echoed, in sending order (Twilio echoes them in that order). */
  private pending: PendingMark[] = [];
  private pendingHead = 0;

  get currentItemId(): string | null {
    return this.itemId;
  }

  get pendingMarks(): number {
    return this.pending.length - this.pendingHead;
  }

  /** ms of the timeline played at `now`: the last anchor plus elapsed real time, capped at what is queued. */
  playedMs(now: number): number {
    const played = this.anchorMs + (now - this.anchorAt);
    return played < this.queuedMs ? played : this.queuedMs;
  }

  /**
   * Records `bytes` of the item's audio handed to Twilio; returns the mark name to send after it.
   * The name carries the item id and the item's cumulative ms so it can be read in logs.
   */
  audioSent(itemId: string, bytes: number, now: number): string {
    if (this.playedMs(now) >= this.queuedMs) {
      // The phone's queue ran dry: playback of this audio starts now, not when the last mark echoed.
      this.anchorMs = this.queuedMs;
      this.anchorAt = now;
    }
    if (itemId !== this.itemId) {
      this.itemId = itemId;
      this.itemStartMs = this.queuedMs;
      this.itemSentMs = 0;
    }
    const ms = bytes / MULAW_BYTES_PER_MS;
    this.itemSentMs += ms;
    this.queuedMs += ms;
    const name = `${itemId}:${Math.round(this.itemSentMs)}`;
    this.pending.push({ name, timelineMs: this.queuedMs });
    return name;
  }

  /** A mark came back from Twilio: playback reached it. Unknown marks (e.g. echoed by a clear) are ignored. */
  markEchoed(name: string, now: number): boolean {
    // Marks echo in order, so the match is almost always the oldest pending one.
    let i = this.pendingHead;
    while (i < this.pending.length && this.pending[i].name !== name) i++;
    if (i === this.pending.length) return false;
    const mark = this.pending[i];
    this.pendingHead = i + 1; // older marks that were skipped are passed too
    if (this.pendingHead > 64 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
    this.anchorMs = mark.timelineMs;
    this.anchorAt = now;
    return true;
  }

  /** True while the current item has audio queued on the phone that has not been played. */
  isPlaying(now: number): boolean {
    return this.itemId !== null && this.playedMs(now) < this.queuedMs;
  }

  /**
   * The caller started speaking. If the current item is still playing, returns what to truncate
   * (and forgets the item: the caller must send `clear`); otherwise returns null and changes nothing.
   */
  interrupt(now: number): Truncation | null {
    if (this.itemId === null || !this.isPlaying(now)) return null;
    const heard = this.playedMs(now) - this.itemStartMs;
    const truncation: Truncation = {
      itemId: this.itemId,
      audioEndMs: Math.max(0, Math.min(Math.floor(heard), Math.floor(this.itemSentMs))),
      sentMs: this.itemSentMs,
    };
    this.reset(now);
    return truncation;
  }

  /** Everything queued on the phone is gone (after a `clear`): start a new timeline. */
  reset(now: number): void {
    this.itemId = null;
    this.itemStartMs = 0;
    this.itemSentMs = 0;
    this.queuedMs = 0;
    this.anchorMs = 0;
    this.anchorAt = now;
    this.pending = [];
    this.pendingHead = 0;
  }
}
