import { describe, expect, it } from 'vitest';
import { ConversationLog, cutText } from './conversation-log';

describe('ConversationLog', () => {
  it('records user and assistant turns and function calls, in conversation order, as replayable items', () => {
    const log = new ConversationLog();
    log.item({ type: 'message', id: 'item_u1', role: 'user', text: '' });
    log.item({ type: 'message', id: 'item_a1', role: 'assistant', text: '' });
    log.delta('item_a1', 'Let me ');
    log.delta('item_a1', 'check.');
    // The user's transcription arrives after the assistant started answering: order is kept.
    log.text('item_u1', 'Weather in Paris?');
    log.item({ type: 'function_call', id: 'item_f1', callId: 'call_1', name: 'get_weather', arguments: '' });
    log.item({ type: 'function_call', id: 'item_f1', callId: 'call_1', name: 'get_weather', arguments: '{"x":1}' });
    log.item({ type: 'function_call_output', id: 'item_o1', callId: 'call_1', output: '{"t":7}' });
    expect(log.replayItems()).toEqual([
      { type: 'message', id: 'item_u1', role: 'user', text: 'Weather in Paris?' },
      { type: 'message', id: 'item_a1', role: 'assistant', text: 'Let me check.' },
      { type: 'function_call', id: 'item_f1', callId: 'call_1', name: 'get_weather', arguments: '{"x":1}' },
      { type: 'function_call_output', id: 'item_o1', callId: 'call_1', output: '{"t":7}' },
    ]);
  });

  it('keeps every text bounded: messages, function arguments (as they grow too) and outputs', () => {
    const log = new ConversationLog();
    const big = 'x'.repeat(100_000);
    log.item({ type: 'message', id: 'item_u1', role: 'user', text: big });
    log.item({ type: 'function_call', id: 'item_f1', callId: 'call_1', name: 'lookup', arguments: big });
    log.item({ type: 'function_call', id: 'item_f2', callId: 'call_2', name: 'lookup', arguments: '' });
    log.item({ type: 'function_call', id: 'item_f2', callId: 'call_2', name: 'lookup', arguments: big });
    log.item({ type: 'function_call_output', id: 'item_o1', callId: 'call_1', output: big });
    log.addLocal({ type: 'function_call_output', callId: 'call_2', output: big });
    const lengths = log.replayItems().map((i) => (i.type === 'message' ? i.text : i.type === 'function_call' ? i.arguments : i.output).length);
    expect(lengths).toEqual([4000, 4000, 4000, 4000, 4000]);
  });

  it('does not record replayed items twice when the new session echoes them', () => {
    const log = new ConversationLog();
    log.item({ type: 'message', id: 'item_u1', role: 'user', text: 'hi' });
    const replay = log.replayItems();
    for (const item of replay) log.item(item);
    expect(log.replayItems()).toEqual(replay);
  });

  it('uses the final transcript over the deltas, skips empty turns, and keeps local entries', () => {
    const log = new ConversationLog();
    log.item({ type: 'message', id: 'item_a1', role: 'assistant', text: '' });
    log.delta('item_a1', 'Hel');
    log.text('item_a1', 'Hello.');
    log.item({ type: 'message', id: 'item_u2', role: 'user', text: '' });
    const local = log.addLocal({ type: 'message', role: 'user', text: '[pressed 5]' });
    expect(local.id).toMatch(/^item_local\d+$/);
    expect(log.replayItems().map((i) => (i.type === 'message' ? i.text : ''))).toEqual(['Hello.', '[pressed 5]']);
  });

  it('is bounded, and never replays an output without its call', () => {
    const log = new ConversationLog(2);
    log.item({ type: 'function_call', id: 'f', callId: 'c', name: 'n', arguments: '{}' });
    log.item({ type: 'function_call_output', id: 'o', callId: 'c', output: '1' });
    log.item({ type: 'message', id: 'u', role: 'user', text: 'x' });
    expect(log.size).toBe(2);
    expect(log.replayItems().map((i) => i.id)).toEqual(['u']);
  });
});

describe('ConversationLog after an interruption', () => {
  const text = 'The weather in Paris is sunny with a light breeze and twenty degrees.';

  it('keeps only what the caller heard: an estimate at the cut, then the service’s own copy', () => {
    const log = new ConversationLog();
    log.item({ type: 'message', id: 'a', role: 'assistant', text: '' });
    log.delta('a', text.slice(0, 40));
    log.interrupted('a', 0.25); // a quarter of the audio was heard
    const estimate = log.replayItems()[0];
    expect(estimate).toMatchObject({ role: 'assistant', text: cutText(text.slice(0, 40), 0.25) });
    // Late text (the rest of the transcript, the final transcript) cannot grow it back.
    log.delta('a', text.slice(40));
    log.text('a', text);
    expect(log.replayItems()[0]).toMatchObject({ text: cutText(text, 0.25) });
    // What the service kept after the truncation wins, and stays.
    log.heard('a', 'The weather in Paris');
    log.text('a', text);
    expect(log.replayItems()[0]).toMatchObject({ text: 'The weather in Paris' });
  });

  it('drops an item the caller never heard (cut at 0)', () => {
    const log = new ConversationLog();
    log.item({ type: 'message', id: 'pre', role: 'assistant', text: 'Let me check.' });
    log.item({ type: 'message', id: 'ans', role: 'assistant', text: 'It is sunny.' });
    log.interrupted('pre', 0.5);
    log.interrupted('ans', 0);
    expect(log.replayItems().map((i) => i.id)).toEqual(['pre']);
  });

  it('cuts on a word boundary', () => {
    expect(cutText('one two three four', 0.5)).toBe('one two');
    expect(cutText('one two three four', 1)).toBe('one two three four');
    expect(cutText('one two three four', 0)).toBe('');
  });
});
