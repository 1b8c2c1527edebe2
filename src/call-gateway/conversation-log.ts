import type { ConversationItem, RealtimeServerEvent } from 'openai/resources/realtime/realtime';

type Entry =
  | { kind: 'user'; id: string; text: string }
  | { kind: 'assistant'; id: string; text: string }
  | { kind: 'function_call'; id: string; callId: string; name: string; arguments: string }
  | { kind: 'function_call_output'; id: string; callId: string; output: string };

const MAX_TEXT = 4000;

/**
 * The conversation so far, as text, so a new Realtime session can be given the same context
 * (after a reconnect or a session rollover). Fed by the server's own events; audio is not kept,
 * only transcripts. Items are replayed with their original ids, so the new session's echoes of
 * them are recognised and not recorded twice. Pure logic, bounded.
 */
export class ConversationLog {
  private readonly entries: Entry[] = [];
  private readonly byId = new Map<string, Entry>();
  private localIds = 0;

  constructor(private readonly maxEntries = 200) {}

  get size(): number {
    return this.entries.length;
  }

  observe(event: RealtimeServerEvent): void {
    switch (event.type) {
      case 'conversation.item.added':
      case 'conversation.item.done':
        return this.upsert(event.item);
      case 'conversation.item.input_audio_transcription.completed':
        return this.setText(event.item_id, 'user', event.transcript);
      case 'response.output_audio_transcript.delta': {
        const entry = this.byId.get(event.item_id);
        if (entry?.kind === 'assistant' && entry.text.length < MAX_TEXT) entry.text += event.delta;
        return;
      }
      case 'response.output_audio_transcript.done':
        return this.setText(event.item_id, 'assistant', event.transcript);
      case 'conversation.item.deleted':
        return this.remove(event.item_id);
    }
  }

  /** Something that happened while no session was there to record it (e.g. a tool output during a reconnect). */
  addLocal(entry: Omit<Extract<Entry, { kind: 'user' }>, 'id'> | Omit<Extract<Entry, { kind: 'function_call_output' }>, 'id'>): void {
    this.push({ ...entry, id: `item_local${++this.localIds}` });
  }

  /** The items to create in a new session, oldest first. */
  replayItems(): ConversationItem[] {
    const calls = new Set(this.entries.filter((e) => e.kind === 'function_call').map((e) => (e as { callId: string }).callId));
    const items: ConversationItem[] = [];
    for (const entry of this.entries) {
      switch (entry.kind) {
        case 'user':
          if (entry.text) items.push({ id: entry.id, type: 'message', role: 'user', content: [{ type: 'input_text', text: entry.text }] });
          break;
        case 'assistant':
          if (entry.text) items.push({ id: entry.id, type: 'message', role: 'assistant', content: [{ type: 'output_text', text: entry.text }] });
          break;
        case 'function_call':
          items.push({ id: entry.id, type: 'function_call', call_id: entry.callId, name: entry.name, arguments: entry.arguments });
          break;
        case 'function_call_output':
          // An output whose call fell out of the bounded log would be rejected by the service.
          if (calls.has(entry.callId)) items.push({ id: entry.id, type: 'function_call_output', call_id: entry.callId, output: entry.output });
          break;
      }
    }
    return items;
  }

  private upsert(item: ConversationItem): void {
    const id = item.id;
    if (!id) return;
    const known = this.byId.get(id);
    switch (item.type) {
      case 'message': {
        if (item.role === 'system') return;
        const text = messageText(item.content as { type: string; text?: string; transcript?: string | null }[]);
        if (known && (known.kind === 'user' || known.kind === 'assistant')) {
          if (text) known.text = text;
          return;
        }
        if (!known) this.push({ kind: item.role, id, text });
        return;
      }
      case 'function_call':
        if (known?.kind === 'function_call') {
          known.arguments = item.arguments ?? known.arguments;
          return;
        }
        if (!known) this.push({ kind: 'function_call', id, callId: item.call_id ?? '', name: item.name ?? '', arguments: item.arguments ?? '' });
        return;
      case 'function_call_output':
        if (!known) this.push({ kind: 'function_call_output', id, callId: item.call_id, output: item.output });
        return;
    }
  }

  private setText(id: string, kind: 'user' | 'assistant', text: string): void {
    const entry = this.byId.get(id);
    if (entry?.kind === kind) entry.text = text.slice(0, MAX_TEXT);
  }

  private push(entry: Entry): void {
    this.entries.push(entry);
    this.byId.set(entry.id, entry);
    while (this.entries.length > this.maxEntries) this.byId.delete(this.entries.shift()!.id);
  }

  private remove(id: string): void {
    const entry = this.byId.get(id);
    if (!entry) return;
    this.byId.delete(id);
    this.entries.splice(this.entries.indexOf(entry), 1);
  }
}

function messageText(content: { type: string; text?: string; transcript?: string | null }[] | undefined): string {
  let text = '';
  for (const part of content ?? []) text += part.text ?? part.transcript ?? '';
  return text.slice(0, MAX_TEXT);
}
