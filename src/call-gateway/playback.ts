/**
 * Knows how much of each assistant item the caller has actually heard.
 *
 * Twilio plays what we send later than we send it, and echoes each named mark when playback
 * reaches it. Playback keeps one timeline of the audio queued on the phone since the last
 * `clear`: an anchor (ms played, at time t) moved by each echoed mark, and extrapolated in real
 * time between echoes, never past what was sent. Several assistant items can be queued at once (a
 * spoken preamble, then the answer): each has its place on the timeline, so an interruption cuts
 * each at its own heard position. Mark names (`<generation>.<seq>:<itemId>:<ms>`) carry a
 * generation, bumped by every `clear`, so the marks Twilio echoes because of a clear are recognised
 * as not played, and a sequence number that finds a pending mark by its index: O(1) for a flood of
 * unknown names, without a hash map's cost on every frame (a map here was 4 % of the server's CPU
 * at 100 calls in a profile).
 *
 * A mark goes out after at most every MARK_INTERVAL_MS of audio, not after every chunk, and one at
 * the end of each response's audio (`endMark`): between marks the position is extrapolated anyway,
 * and every mark costs a message each way on the Twilio socket. With the service's 20 ms chunks a
 * mark per chunk was half the messages Twilio sent us (docs/benchmarks.md, "Final": with this the call
 * core went from 1.05–1.14× the previous build's CPU to 0.86–0.98×). Pure logic, no I/O; time is passed in.
 */

/** mu-law 8 kHz: 8 bytes per millisecond. */
export const MULAW_BYTES_PER_MS = 8;
/** Marks not yet echoed, per call. Beyond this, audio goes without a mark (the next mark covers it). */
export const MAX_PENDING_MARKS = 1000;
/** At most this much audio goes out between two marks. */
export const MARK_INTERVAL_MS = 100;

/** An assistant item cut short by an interruption. */
export interface Cut {
  itemId: string;
  /** What the caller heard of that item, in ms (0 for an item playback had not reached). */
  audioEndMs: number;
  /** What had been sent of that item, in ms. */
  sentMs: number;
}

interface QueuedItem {
  itemId: string;
  /** Timeline position where the item's audio starts. */
  startMs: number;
  /** ms of the item sent so far (cumulative; names its marks). */
  sentMs: number;
}

interface PendingMark {
  name: string;
  /** Position of the mark on the timeline. */
  timelineMs: number;
}

export class Playback {
  private generation = 1;
  /** Items with audio on the phone, oldest first (the last one is the item being sent). */
  private items: QueuedItem[] = [];
  /** End of everything queued on the phone, in ms of the timeline. */
  private queuedMs = 0;
  private anchorMs = 0;
  private anchorAt = 0;
  /** Marks sent and not yet echoed, in sending order (Twilio echoes them in that order). */
  private marks: PendingMark[] = [];
  private marksHead = 0;
  /** Sequence number of the next mark, and of marks[0]: a mark's index is its number minus firstSeq. */
  private nextSeq = 0;
  private firstSeq = 0;
  /** Timeline position of the last mark sent (0 on a new timeline). */
  private markedMs = 0;

  /** `markIntervalMs` 0: a mark after every chunk. */
  constructor(private readonly markIntervalMs = MARK_INTERVAL_MS) {}

  get pendingMarks(): number {
    return this.marks.length - this.marksHead;
  }

  /** ms of the timeline played at `now`: the last anchor plus elapsed real time, capped at what is queued. */
  playedMs(now: number): number {
    const played = this.anchorMs + (now - this.anchorAt);
    return played < this.queuedMs ? played : this.queuedMs;
  }

  /** True while audio is queued on the phone and not played. */
  isPlaying(now: number): boolean {
    return this.playedMs(now) < this.queuedMs;
  }

  /**
   * Records `bytes` of `itemId`'s audio handed to Twilio; returns the mark name to send after it when
   * MARK_INTERVAL_MS of audio went out since the last mark, else null (also when too many marks are
   * pending: a phone that does not echo must not grow memory).
   */
  audioSent(itemId: string, bytes: number, now: number): string | null {
    const played = this.playedMs(now);
    if (played >= this.queuedMs) {
      // The phone's queue ran dry: playback of this audio starts now, not when the last mark echoed.
      this.anchorMs = this.queuedMs;
      this.anchorAt = now;
    }
    const items = this.items;
    let item = items[items.length - 1];
    if (item === undefined || item.itemId !== itemId) {
      // Items that have finished playing are no longer needed (the current one stays).
      while (items.length > 0 && items[0].startMs + items[0].sentMs <= played) items.shift();
      item = { itemId, startMs: this.queuedMs, sentMs: 0 };
      items.push(item);
    }
    const ms = bytes / MULAW_BYTES_PER_MS;
    item.sentMs += ms;
    this.queuedMs += ms;
    return this.queuedMs - this.markedMs >= this.markIntervalMs ? this.mark(item) : null;
  }

  /**
   * The response's audio is complete: the mark for its end, when audio went out after the last mark
   * (or null). Its echo says the caller heard all of it, which is what a hang-up after a goodbye waits for.
   */
  endMark(): string | null {
    const item = this.items[this.items.length - 1];
    return item !== undefined && this.queuedMs > this.markedMs ? this.mark(item) : null;
  }

  private mark(item: QueuedItem): string | null {
    if (this.marks.length - this.marksHead >= MAX_PENDING_MARKS) return null;
    const mark: PendingMark = { name: `${this.generation}.${this.nextSeq++}:${item.itemId}:${Math.round(item.sentMs)}`, timelineMs: this.queuedMs };
    this.marks.push(mark);
    this.markedMs = this.queuedMs;
    return mark.name;
  }

  /**
   * A mark came back from Twilio: playback reached it. Marks of an earlier generation (echoed by a
   * clear) and unknown ones are ignored; O(1) either way. True when it moved playback.
   */
  markEchoed(name: string, now: number): boolean {
    const index = this.indexOf(name);
    if (index < 0) return false;
    const mark = this.marks[index];
    // Marks echo in order: older ones still pending were passed too.
    let head = index + 1;
    if (head > 64 && head * 2 > this.marks.length) {
      this.marks = this.marks.slice(head);
      this.firstSeq += head;
      head = 0;
    }
    this.marksHead = head;
    this.anchorMs = mark.timelineMs;
    this.anchorAt = now;
    return true;
  }

  /**
   * The caller started speaking. Returns every item still on the phone, each cut at what the
   * caller heard of it, and starts a new timeline (the caller must send `clear`). Returns an
   * empty list and changes nothing when everything has been played.
   */
  interrupt(now: number): Cut[] {
    const played = this.playedMs(now);
    if (played >= this.queuedMs) return [];
    const cuts: Cut[] = [];
    for (const item of this.items) {
      if (item.startMs + item.sentMs <= played) continue; // finished playing: never truncate it
      const heard = Math.floor(played - item.startMs);
      cuts.push({ itemId: item.itemId, audioEndMs: Math.max(0, Math.min(heard, Math.floor(item.sentMs))), sentMs: item.sentMs });
    }
    this.reset(now);
    return cuts;
  }

  /** Everything queued on the phone is gone (after a `clear`): a new timeline, a new generation of marks. */
  reset(now: number): void {
    this.generation++;
    this.items = [];
    this.queuedMs = 0;
    this.anchorMs = 0;
    this.anchorAt = now;
    this.marks = [];
    this.marksHead = 0;
    this.firstSeq = this.nextSeq;
    this.markedMs = 0;
  }

  /** The index in `marks` of the pending mark called `name`, or -1 (unknown, of an earlier generation, or passed). */
  private indexOf(name: string): number {
    const dot = name.indexOf('.');
    const colon = name.indexOf(':', dot);
    if (dot < 1 || colon < 0) return -1;
    const index = Number(name.slice(dot + 1, colon)) - this.firstSeq;
    // NaN and anything out of range fail here; the name comparison settles the rest (a forged number).
    if (!(index >= this.marksHead && index < this.marks.length)) return -1;
    return this.marks[index].name === name ? index : -1;
  }
}
