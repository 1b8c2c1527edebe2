import type { ClientEvent, ServerEvent } from 'openai/resources/live/live';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { recordingListener } from '../../../test/support/fake-voice-session';
import type { ContextItem } from '../voice-engine';
import {
  ASSISTANT_TURN_GAP_MS,
  CLIENT_DELEGATION_NOTE,
  CUT_TURN_GAP_MS,
  LiveConversation,
  REQUEST_ACK_TIMEOUT_MS,
  SPEECH_EXPECTED_TIMEOUT_MS,
  USER_TURN_GAP_MS,
} from './live-conversation';

/** 100 ms of μ-law: 800 bytes, as base64. */
const AUDIO_100MS = Buffer.alloc(800, 0x55).toString('base64');
const LOUD_FRAME = Buffer.alloc(160, 0x10).toString('base64');
const QUIET_FRAME = Buffer.alloc(160, 0xff).toString('base64');

function setup(delegation: 'responses' | 'client' = 'responses', known: string[] = []) {
  const { listener, calls } = recordingListener();
  const sent: ClientEvent[] = [];
  const conversation = new LiveConversation(
    { idPrefix: 'lv', model: 'gpt-live-1.1', responsesModel: 'gpt-5.4-mini', delegation, silenceMs: 500 },
    listener,
    (event) => sent.push(event),
    new Set(known),
  );
  const malformed: string[] = [];
  const feed = (event: Record<string, unknown>): void => conversation.handle(event as unknown as ServerEvent, (why) => malformed.push(why));
  /** Names of the listener calls so far, then forgets them. */
  const take = (): unknown[][] => calls.splice(0);
  const names = (): string[] => take().map((c) => c[0] as string);
  const backend = (event: Record<string, unknown>, clientEventId?: string): void =>
    feed({ type: 'response.event', delegation_id: 'dlg1', event, ...(clientEventId && { client_event_id: clientEventId }) });
  return { conversation, feed, backend, sent, calls, take, names, malformed };
}

describe('LiveConversation', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('makes one item and one response of an assistant turn, ended by a pause in the output', () => {
    const { feed, take } = setup();
    feed({ type: 'session.output_transcript.delta', delta: 'Hello ', start_ms: 0, end_ms: 100 });
    feed({ type: 'session.output_audio.delta', delta: AUDIO_100MS });
    feed({ type: 'session.output_transcript.delta', delta: 'there.', start_ms: 100, end_ms: 200 });
    feed({ type: 'session.output_audio.delta', delta: AUDIO_100MS });
    const first = take();
    // The item exists, the response has started, before any audio goes to the phone.
    expect(first.map((c) => c[0])).toEqual(['item', 'started', 'delta', 'audio', 'delta', 'audio']);
    const itemId = (first[0][1] as ContextItem).id;
    expect(first[0][1]).toEqual({ type: 'message', id: itemId, role: 'assistant', text: '' });
    const [, , turnId] = first[3];
    expect(first[5]).toEqual(['audio', itemId, turnId, AUDIO_100MS]);
    vi.advanceTimersByTime(ASSISTANT_TURN_GAP_MS - 1);
    expect(take()).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(take()).toEqual([
      ['done', 'assistant', itemId, 'Hello there.'],
      ['responseDone', { responseId: first[1][1], status: 'completed', usage: null }],
    ]);
    // The next burst is a new turn: a new item, a new response.
    feed({ type: 'session.output_audio.delta', delta: AUDIO_100MS });
    const next = take();
    expect(next.map((c) => c[0])).toEqual(['item', 'started', 'audio']);
    expect((next[0][1] as ContextItem).id).not.toBe(itemId);
  });

  it('speaks first on commentary worded as an instruction, and keeps the response open until the model has spoken', () => {
    const { conversation, feed, sent, names, take } = setup();
    conversation.request({ ref: 1, instructions: 'Greet the caller.' });
    expect(sent).toEqual([
      { type: 'session.commentary.append', event_id: 'req_1', delegation_id: null, content: 'Speak to the caller now. Greet the caller.' },
    ]);
    // Nothing synchronous: the call core sets its state after sending.
    expect(names()).toEqual([]);
    feed({ type: 'session.commentary.appended', start_ms: 0, end_ms: 0, client_event_id: 'req_1' });
    expect(names()).toEqual(['started']);
    vi.advanceTimersByTime(SPEECH_EXPECTED_TIMEOUT_MS / 2);
    feed({ type: 'session.output_audio.delta', delta: AUDIO_100MS });
    expect(names()).toEqual(['item', 'audio']); // the same response: no second start
    vi.advanceTimersByTime(ASSISTANT_TURN_GAP_MS);
    expect(take().map((c) => c[0])).toEqual(['done', 'responseDone']);
    // The expectation was met: nothing more fires later.
    vi.advanceTimersByTime(SPEECH_EXPECTED_TIMEOUT_MS);
    expect(take()).toEqual([]);
  });

  it('closes the loop of a request the service never acknowledges, or refuses', () => {
    const { conversation, feed, take } = setup();
    conversation.request({ ref: 1, instructions: 'Say hi.' });
    vi.advanceTimersByTime(REQUEST_ACK_TIMEOUT_MS);
    const timedOut = take();
    expect(timedOut.map((c) => c[0])).toEqual(['error', 'started', 'responseDone']);
    expect(timedOut[2][1]).toMatchObject({ status: 'failed' });
    conversation.request({ ref: 2, instructions: 'Say hi.' });
    feed({ type: 'error', event_id: 'e1', error: { type: 'invalid_request_error', code: 'content_too_long', message: 'too long', client_event_id: 'req_2' } });
    const refused = take();
    expect(refused.map((c) => c[0])).toEqual(['error', 'started', 'responseDone']);
    expect(refused[0][1]).toMatchObject({ code: 'content_too_long', fatal: false });
    // Answered: the timer is gone.
    vi.advanceTimersByTime(REQUEST_ACK_TIMEOUT_MS);
    expect(take()).toEqual([]);
  });

  it('runs a tool round trip under Responses delegation, answering only when the backend has finished', () => {
    const { conversation, feed, backend, sent, take, names } = setup();
    feed({ type: 'session.delegation.created', delegation: { id: 'dlg1', type: 'delegation', target: 'responses', response_id: 'resp_a' }, offset_ms: 0 });
    expect(names()).toEqual(['started']);
    backend({ type: 'response.created', sequence_number: 0, response: { id: 'resp_a', status: 'in_progress' } });
    backend({
      type: 'response.output_item.done',
      sequence_number: 1,
      output_index: 0,
      item: { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
    });
    expect(take()).toEqual([['toolCall', { callId: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }]]);
    backend({
      type: 'response.completed',
      sequence_number: 2,
      response: {
        id: 'resp_a',
        model: 'gpt-5.4-mini-2026-10-01',
        status: 'completed',
        usage: { input_tokens: 900, output_tokens: 40, total_tokens: 940, input_tokens_details: { cached_tokens: 600 } },
      },
    });
    // The backend's tokens, billed for its own model; then the response is done (the call core answers the tools).
    expect(take()).toEqual([
      [
        'usage',
        {
          id: 'resp_a',
          model: 'gpt-5.4-mini-2026-10-01',
          status: 'completed',
          usage: { inputTokens: 900, outputTokens: 40, totalTokens: 940, inputAudioTokens: 0, outputAudioTokens: 0, cachedTokens: 600 },
        },
      ],
      ['responseDone', expect.objectContaining({ status: 'completed' })],
    ]);
    conversation.toolResult('call_1', '{"temp":18}');
    conversation.request({ ref: 7 });
    expect(sent.slice(-2)).toEqual([
      { type: 'response.item.create', item: { type: 'function_call_output', call_id: 'call_1', output: '{"temp":18}' } },
      { type: 'response.create', event_id: 'req_7' },
    ]);
    backend({ type: 'response.created', sequence_number: 0, response: { id: 'resp_b', status: 'in_progress' } }, 'req_7');
    expect(names()).toEqual(['started']);
    backend({ type: 'response.output_text.delta', sequence_number: 1, output_index: 0, item_id: 'm', content_index: 0, delta: 'It is 18.' });
    backend({ type: 'response.completed', sequence_number: 2, response: { id: 'resp_b', status: 'completed' } });
    // Backend text is for the model to say: still open until it has.
    expect(names()).toEqual([]);
    feed({ type: 'session.output_audio.delta', delta: AUDIO_100MS });
    vi.advanceTimersByTime(ASSISTANT_TURN_GAP_MS);
    expect(names()).toEqual(['item', 'audio', 'done', 'responseDone']);
    // The request was acknowledged by its backend response: no timeout later.
    vi.advanceTimersByTime(REQUEST_ACK_TIMEOUT_MS);
    expect(names()).toEqual([]);
  });

  it('shows the model talking while its backend works as one response, done when both have finished', () => {
    const { feed, backend, names } = setup();
    feed({ type: 'session.output_audio.delta', delta: AUDIO_100MS }); // "let me check"
    feed({ type: 'session.delegation.created', delegation: { id: 'dlg1', type: 'delegation', target: 'responses', response_id: 'resp_a' }, offset_ms: 0 });
    backend({
      type: 'response.output_item.done',
      sequence_number: 1,
      output_index: 0,
      item: { type: 'function_call', call_id: 'c', name: 'x', arguments: '{}' },
    });
    expect(names()).toEqual(['item', 'started', 'audio', 'toolCall']);
    vi.advanceTimersByTime(ASSISTANT_TURN_GAP_MS);
    expect(names()).toEqual(['done']); // the turn is over, the backend is not
    backend({ type: 'response.completed', sequence_number: 2, response: { id: 'resp_a', status: 'completed' } });
    expect(names()).toEqual(['responseDone']);
  });

  it('stops the response it expected after SPEECH_EXPECTED_TIMEOUT_MS when the model stays silent', () => {
    const { conversation, feed, names } = setup();
    conversation.request({ ref: 1, instructions: 'Say hi.' });
    feed({ type: 'session.commentary.appended', start_ms: 0, end_ms: 0, client_event_id: 'req_1' });
    expect(names()).toEqual(['started']);
    vi.advanceTimersByTime(SPEECH_EXPECTED_TIMEOUT_MS);
    expect(names()).toEqual(['responseDone']);
  });

  it('keeps what the caller heard of an interrupted turn, forwards nothing after, and ends it sooner', () => {
    const { conversation, feed, take, names } = setup();
    for (const word of ['One ', 'two ', 'three ', 'four ']) {
      feed({ type: 'session.output_transcript.delta', delta: word, start_ms: 0, end_ms: 0 });
      feed({ type: 'session.output_audio.delta', delta: AUDIO_100MS });
    }
    const itemId = (take()[0][1] as ContextItem).id;
    conversation.cut(itemId, 250); // heard 250 ms: "One two three" had started
    expect(take()).toEqual([['heard', itemId, 'One two three']]);
    feed({ type: 'session.output_transcript.delta', delta: 'five', start_ms: 0, end_ms: 0 });
    feed({ type: 'session.output_audio.delta', delta: AUDIO_100MS }); // in flight: the call drops it
    expect(names()).toEqual(['audio']);
    vi.advanceTimersByTime(CUT_TURN_GAP_MS);
    expect(take()).toEqual([
      ['done', 'assistant', itemId, 'One two three'],
      ['responseDone', expect.objectContaining({ status: 'cancelled' })],
    ]);
  });

  it('infers the caller’s turns from the input transcript, and barges in on it when the energy check missed the caller', () => {
    const { conversation, feed, take, names } = setup();
    feed({ type: 'session.input_transcript.delta', delta: 'Hello ', start_ms: 0, end_ms: 300 });
    feed({ type: 'session.input_transcript.delta', delta: 'there', start_ms: 300, end_ms: 600 });
    const opened = take();
    const userId = (opened[0][1] as ContextItem).id;
    expect(opened).toEqual([
      ['item', { type: 'message', id: userId, role: 'user', text: '' }],
      ['delta', 'user', userId, 'Hello '],
      ['delta', 'user', userId, 'there'],
    ]);
    // The model answering ends the caller's turn at once.
    feed({ type: 'session.output_audio.delta', delta: AUDIO_100MS });
    expect(take()[0]).toEqual(['done', 'user', userId, 'Hello there']);
    // The caller talks over the model, the energy check heard nothing (a quiet line): the transcript barges in.
    feed({ type: 'session.input_transcript.delta', delta: 'Wait', start_ms: 900, end_ms: 1100 });
    expect(names()).toEqual(['item', 'delta', 'speechStarted']);
    vi.advanceTimersByTime(USER_TURN_GAP_MS);
    expect(names()).toEqual(['done', 'responseDone', 'done', 'speechStopped']);
    // The energy check: three loud frames start a turn, 500 ms of quiet ends it.
    conversation.callerAudio(LOUD_FRAME);
    conversation.callerAudio(LOUD_FRAME);
    expect(names()).toEqual([]);
    conversation.callerAudio(LOUD_FRAME);
    expect(names()).toEqual(['speechStarted']);
    for (let i = 0; i < 24; i++) conversation.callerAudio(QUIET_FRAME);
    expect(names()).toEqual([]);
    conversation.callerAudio(QUIET_FRAME);
    expect(names()).toEqual(['speechStopped']);
  });

  it('bills the increase of the cumulative seconds, once', () => {
    const { conversation, feed, take } = setup();
    feed({ type: 'session.usage.updated', usage: { seconds: 4.5 } });
    feed({ type: 'session.usage.updated', usage: { seconds: 4.5 } });
    feed({ type: 'session.usage.updated', usage: { seconds: 10 } });
    conversation.usage({ seconds: 9 }); // never backwards
    const usage = take();
    expect(usage.map((c) => (c[1] as { usage: { billedSeconds: number } }).usage.billedSeconds)).toEqual([4.5, 5.5]);
    expect(usage[0][1]).toMatchObject({ model: 'gpt-live-1.1', usage: { totalTokens: 0 } });
    expect(new Set(usage.map((c) => (c[1] as { id: string }).id)).size).toBe(2);
  });

  it('adds context the session lacks as one silent note, and answers a client delegation it cannot do', () => {
    const { conversation, feed, sent } = setup('client', ['item_a']);
    conversation.context([
      { type: 'message', id: 'item_a', role: 'user', text: 'Already in session.start' },
      { type: 'message', id: 'item_b', role: 'user', text: '[The caller pressed the "5" key.]' },
    ]);
    conversation.context([{ type: 'message', id: 'item_b', role: 'user', text: 'again' }]);
    expect(sent).toEqual([{ type: 'session.thinking.append', delegation_id: null, content: 'Caller: [The caller pressed the "5" key.]' }]);
    feed({ type: 'session.delegation.created', delegation: { id: 'dlg9', type: 'delegation', target: 'client' }, offset_ms: 0 });
    expect(sent.at(-1)).toEqual({ type: 'session.thinking.append', delegation_id: 'dlg9', content: CLIENT_DELEGATION_NOTE });
    // Without Responses delegation a plain request is commentary, never response.create.
    conversation.request({ ref: 3 });
    expect(sent.at(-1)).toMatchObject({ type: 'session.commentary.append', delegation_id: null });
  });

  it('gives a tool result from an earlier session to the model as context, and counts malformed events', () => {
    const { conversation, backend, sent, malformed, names } = setup();
    conversation.toolResult('call_from_before', '{"ok":true}');
    expect(sent).toEqual([{ type: 'session.thinking.append', delegation_id: null, content: 'Result of an earlier tool call: {"ok":true}' }]);
    backend({ type: 'response.created', sequence_number: 0, response: {} });
    backend({ type: 'response.output_item.done', sequence_number: 0, output_index: 0, item: { type: 'function_call', name: 'x' } });
    expect(malformed).toEqual(['response.created without a response id', 'a function call without call_id or name']);
    expect(names()).toEqual([]);
  });
});
