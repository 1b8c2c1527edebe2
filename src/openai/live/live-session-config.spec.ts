import { describe, expect, it } from 'vitest';
import { loadAppConfig } from '../../config/app-config';
import type { AgentSettings } from '../session-config.service';
import type { ContextItem } from '../voice-engine';
import { contextNote, historyInput, liveSessionStart, MAX_APPEND_CHARS, MAX_HISTORY_CHARS, MAX_HISTORY_MESSAGES, RESUMED_NOTE } from './live-session-config';

const settings: AgentSettings = { engine: 'live', instructions: 'Be brief.', voice: 'cedar', turnDetection: { type: 'server_vad' }, enabledTools: null };
const weather = { type: 'function' as const, name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: {} } };

describe('liveSessionStart', () => {
  it('asks for μ-law at 8 kHz both ways, the call’s voice and instructions, and our tools for the Responses backend', () => {
    const config = loadAppConfig({ LIVE_REASONING_EFFORT: 'low' });
    const { event, included } = liveSessionStart(config, settings, [weather], []);
    expect(event).toEqual({
      type: 'session.start',
      event_id: 'start',
      session: {
        model: 'gpt-live-1.1',
        instructions: 'Be brief.',
        audio: { format: { type: 'audio/pcmu', rate: 8000 }, output: { voice: 'cedar' } },
        delegation: {
          type: 'responses',
          responses: {
            model: 'gpt-5.4-mini',
            instructions: 'Be brief.',
            tools: [{ type: 'function', name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: {} } }],
            tool_choice: 'auto',
            reasoning: { effort: 'low' },
          },
        },
      },
    });
    expect(included.size).toBe(0);
    // Client delegation: no backend, no tools; unset effort: not sent at all.
    const client = liveSessionStart(loadAppConfig({ LIVE_DELEGATION: 'client' }), settings, [weather], []).event.session;
    expect(client.delegation).toEqual({ type: 'client' });
    expect(liveSessionStart(loadAppConfig({}), settings, [weather], []).event.session.delegation).not.toHaveProperty('responses.reasoning');
  });
});

describe('historyInput', () => {
  it('replays messages as said or heard and tools as developer notes, then says the call resumed', () => {
    const history: ContextItem[] = [
      { type: 'message', id: 'u1', role: 'user', text: 'Weather in Paris?' },
      { type: 'function_call', id: 'f1', callId: 'c1', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { type: 'function_call_output', id: 'o1', callId: 'c1', output: '{"temp":18}' },
      { type: 'message', id: 'a1', role: 'assistant', text: 'It is 18 degrees.' },
      { type: 'message', id: 'a2', role: 'assistant', text: '' },
    ];
    const { input, included } = historyInput(history);
    expect(input).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Weather in Paris?' }] },
      { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'The assistant called the tool get_weather with {"city":"Paris"}.' }] },
      { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'The tool get_weather returned: {"temp":18}' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'It is 18 degrees.' }] },
      { type: 'message', role: 'developer', content: [{ type: 'input_text', text: RESUMED_NOTE }] },
    ]);
    expect([...included]).toEqual(['u1', 'f1', 'o1', 'a1', 'a2']);
    expect(historyInput([]).input).toEqual([]);
  });

  it('keeps the newest items within GPT-Live’s 128 messages and ~8k tokens', () => {
    const many: ContextItem[] = Array.from({ length: 300 }, (_, i) => ({
      type: 'message',
      id: `m${i}`,
      role: i % 2 ? 'assistant' : 'user',
      text: `line ${i}`,
    }));
    const { input } = historyInput(many);
    expect(input).toHaveLength(MAX_HISTORY_MESSAGES + 1);
    expect(input.at(-2)).toMatchObject({ content: [{ text: 'line 299' }] });
    const long: ContextItem[] = Array.from({ length: 20 }, (_, i) => ({ type: 'message', id: `l${i}`, role: 'user', text: `${i} ${'x'.repeat(3990)}` }));
    const kept = historyInput(long).input;
    const chars = kept.reduce((sum, item) => sum + item.content[0].text.length, 0);
    expect(chars).toBeLessThanOrEqual(MAX_HISTORY_CHARS);
    expect(kept.at(-2)).toMatchObject({ content: [{ text: expect.stringMatching(/^19 /) }] });
  });
});

describe('contextNote', () => {
  it('writes the newest lines that fit in one 500-token append', () => {
    const items: ContextItem[] = Array.from({ length: 100 }, (_, i) => ({
      type: 'message',
      id: `m${i}`,
      role: 'user',
      text: `keypress ${i} ${'.'.repeat(40)}`,
    }));
    const note = contextNote(items);
    expect(note.length).toBeLessThanOrEqual(MAX_APPEND_CHARS);
    expect(note.endsWith(`Caller: keypress 99 ${'.'.repeat(40)}`)).toBe(true);
    expect(note).not.toContain('keypress 0 ');
  });
});
