import type { RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import { describe, expect, it } from 'vitest';
import { ConversationLog } from './conversation-log';

const ev = (e: Record<string, unknown>) => ({ event_id: 'e', ...e }) as unknown as RealtimeServerEvent;

describe('ConversationLog', () => {
  it('records user and assistant turns and function calls, in conversation order, as replayable items', () => {
    const log = new ConversationLog();
    log.observe(
      ev({ type: 'conversation.item.added', item: { id: 'item_u1', type: 'message', role: 'user', content: [{ type: 'input_audio', transcript: null }] } }),
    );
    log.observe(ev({ type: 'conversation.item.added', item: { id: 'item_a1', type: 'message', role: 'assistant', content: [] } }));
    log.observe(ev({ type: 'response.output_audio_transcript.delta', item_id: 'item_a1', delta: 'Let me ' }));
    log.observe(ev({ type: 'response.output_audio_transcript.delta', item_id: 'item_a1', delta: 'check.' }));
    // The user's transcription arrives after the assistant started answering: order is kept.
    log.observe(ev({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'item_u1', transcript: 'Weather in Paris?' }));
    log.observe(ev({ type: 'conversation.item.added', item: { id: 'item_f1', type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '' } }));
    log.observe(
      ev({ type: 'conversation.item.done', item: { id: 'item_f1', type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"x":1}' } }),
    );
    log.observe(ev({ type: 'conversation.item.added', item: { id: 'item_o1', type: 'function_call_output', call_id: 'call_1', output: '{"t":7}' } }));
    expect(log.replayItems()).toEqual([
      { id: 'item_u1', type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Weather in Paris?' }] },
      { id: 'item_a1', type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Let me check.' }] },
      { id: 'item_f1', type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"x":1}' },
      { id: 'item_o1', type: 'function_call_output', call_id: 'call_1', output: '{"t":7}' },
    ]);
  });

  it('does not record replayed items twice when the new session echoes them', () => {
    const log = new ConversationLog();
    log.observe(ev({ type: 'conversation.item.added', item: { id: 'item_u1', type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] } }));
    const replay = log.replayItems();
    for (const item of replay) log.observe(ev({ type: 'conversation.item.added', item }));
    expect(log.replayItems()).toEqual(replay);
  });

  it('uses the final transcript over the deltas, skips empty turns, and keeps local entries', () => {
    const log = new ConversationLog();
    log.observe(ev({ type: 'conversation.item.added', item: { id: 'item_a1', type: 'message', role: 'assistant', content: [] } }));
    log.observe(ev({ type: 'response.output_audio_transcript.delta', item_id: 'item_a1', delta: 'Hel' }));
    log.observe(ev({ type: 'response.output_audio_transcript.done', item_id: 'item_a1', transcript: 'Hello.' }));
    log.observe(ev({ type: 'conversation.item.added', item: { id: 'item_u2', type: 'message', role: 'user', content: [] } }));
    log.addLocal({ kind: 'user', text: '[pressed 5]' });
    const items = log.replayItems();
    expect(items.map((i) => (i as { content: { text: string }[] }).content[0].text)).toEqual(['Hello.', '[pressed 5]']);
  });

  it('is bounded, and never replays an output without its call', () => {
    const log = new ConversationLog(2);
    log.observe(ev({ type: 'conversation.item.added', item: { id: 'f', type: 'function_call', call_id: 'c', name: 'n', arguments: '{}' } }));
    log.observe(ev({ type: 'conversation.item.added', item: { id: 'o', type: 'function_call_output', call_id: 'c', output: '1' } }));
    log.observe(ev({ type: 'conversation.item.added', item: { id: 'u', type: 'message', role: 'user', content: [{ type: 'input_text', text: 'x' }] } }));
    expect(log.size).toBe(2);
    expect(log.replayItems().map((i) => i.id)).toEqual(['u']);
  });
});
