import type { ContextItem } from './voice-engine';

/** An assistant item the caller interrupted: only what they heard may be replayed. */
type Cut = { kind: 'estimate'; fraction: number } | { kind: 'exact' };

type Entry = ContextItem & { cut?: Cut };

export const MAX_TEXT = 4000;

/**
 * The conversation so far, as text, so a new session can be given the same context after a
 * reconnect or a session rollover. Fed with engine-neutral items; audio is not kept, only
 * transcripts. Items keep their original ids, so a new session's echoes of replayed items are
 * recognised and not recorded twice. An interrupted answer keeps only what the caller heard:
 * first an estimate from the truncation point, then the service's own copy when it sends one.
 * Pure logic, bounded.
 */
export class ConversationLog {
  private readonly entries: Entry[] = [];
  private readonly byId = new Map<string, Entry>();
  private localIds = 0;

  constructor(private readonly maxEntries = 200) {}

  get size(): number {
    return this.entries.length;
  }

  /** An item the service added, or the same item again with more text. */
  item(item: ContextItem): void {
    const known = this.byId.get(item.id);
    if (!known) {
      this.push({ ...item });
      return;
    }
    if (known.type === 'message' && item.type === 'message' && item.text) this.setText(known, item.text);
    else if (known.type === 'function_call' && item.type === 'function_call' && item.arguments) known.arguments = item.arguments.slice(0, MAX_TEXT);
  }

  /** Streamed assistant text, so an answer cut short by a lost connection is replayed as far as it went. */
  delta(itemId: string, delta: string): void {
    const known = this.byId.get(itemId);
    if (known?.type === 'message' && !known.cut && known.text.length < MAX_TEXT) known.text += delta;
  }

  /** The final transcript of a message item. */
  text(itemId: string, text: string): void {
    const known = this.byId.get(itemId);
    if (known?.type === 'message') this.setText(known, text);
  }

  /** The caller interrupted `itemId` after hearing `fraction` (0–1) of its audio. */
  interrupted(itemId: string, fraction: number): void {
    const known = this.byId.get(itemId);
    if (known?.type !== 'message' || known.cut?.kind === 'exact') return;
    known.cut = { kind: 'estimate', fraction: Math.max(0, Math.min(1, fraction)) };
    known.text = cutText(known.text, known.cut.fraction);
  }

  /** The service's copy of an interrupted item: exactly what is left of it. */
  heard(itemId: string, text: string): void {
    const known = this.byId.get(itemId);
    if (known?.type !== 'message') return;
    known.cut = { kind: 'exact' };
    known.text = text.slice(0, MAX_TEXT);
  }

  /** Something no session recorded (a keypress, a tool output while the model was away). Returns its id. */
  addLocal(item: { type: 'message'; role: 'user'; text: string } | { type: 'function_call_output'; callId: string; output: string }): ContextItem {
    const entry = { ...item, id: `item_local${++this.localIds}` } as Entry;
    this.push(entry);
    return entry;
  }

  /** The items to create in a new session, oldest first. */
  replayItems(): ContextItem[] {
    const calls = new Set<string>();
    for (const entry of this.entries) if (entry.type === 'function_call') calls.add(entry.callId);
    const items: ContextItem[] = [];
    for (const entry of this.entries) {
      switch (entry.type) {
        case 'message':
          if (entry.text) items.push({ type: 'message', id: entry.id, role: entry.role, text: entry.text });
          break;
        case 'function_call':
          items.push({ type: 'function_call', id: entry.id, callId: entry.callId, name: entry.name, arguments: entry.arguments });
          break;
        case 'function_call_output':
          // An output whose call fell out of the bounded log would be rejected by the service.
          if (calls.has(entry.callId)) items.push({ type: 'function_call_output', id: entry.id, callId: entry.callId, output: entry.output });
          break;
      }
    }
    return items;
  }

  private setText(entry: Extract<Entry, { type: 'message' }>, text: string): void {
    const cut = entry.cut;
    if (cut?.kind === 'exact') return;
    entry.text = cut ? cutText(text, cut.fraction) : text.slice(0, MAX_TEXT);
  }

  /** Every text kept is bounded: a model (or a tool) can send a megabyte, and each call keeps 200 entries. */
  private push(entry: Entry): void {
    if (entry.type === 'message') entry.text = entry.text.slice(0, MAX_TEXT);
    else if (entry.type === 'function_call') entry.arguments = entry.arguments.slice(0, MAX_TEXT);
    else if (entry.type === 'function_call_output') entry.output = entry.output.slice(0, MAX_TEXT);
    this.entries.push(entry);
    this.byId.set(entry.id, entry);
    while (this.entries.length > this.maxEntries) this.byId.delete(this.entries.shift()!.id);
  }
}

/** The first `fraction` of `text`, ending on a word boundary (speech and its transcript advance together). */
export function cutText(text: string, fraction: number): string {
  if (fraction >= 1) return text.slice(0, MAX_TEXT);
  const end = Math.floor(text.length * fraction);
  if (end <= 0) return '';
  const space = text.lastIndexOf(' ', end);
  return text.slice(0, space > 0 ? space : end).slice(0, MAX_TEXT);
}
