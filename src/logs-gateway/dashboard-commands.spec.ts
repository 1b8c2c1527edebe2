import { describe, expect, it } from 'vitest';
import { MAX_ANSWER_CHARS, parseDashboardCommand } from './dashboard-commands';

const SID = 'CA0123456789abcdef0123456789abcdef';

describe('parseDashboardCommand', () => {
  it('accepts each command and keeps only the fields it knows', () => {
    expect(parseDashboardCommand('{"type":"subscribe","id":"a1"}')).toEqual({ type: 'subscribe', id: 'a1', callSid: null });
    expect(parseDashboardCommand(JSON.stringify({ type: 'subscribe', callSid: SID }))).toEqual({ type: 'subscribe', id: null, callSid: SID });
    expect(parseDashboardCommand(JSON.stringify({ type: 'config.update', config: { voice: 'cedar' }, extra: 1 }))).toEqual({
      type: 'config.update',
      id: null,
      callSid: null,
      config: { voice: 'cedar' },
    });
    expect(parseDashboardCommand(JSON.stringify({ type: 'function_call.answer', callSid: SID, callId: 'call_1', output: '{"ok":true}' }))).toEqual({
      type: 'function_call.answer',
      id: null,
      callSid: SID,
      callId: 'call_1',
      output: '{"ok":true}',
    });
    expect(parseDashboardCommand(JSON.stringify({ type: 'call.hangup', callSid: SID, id: 'h' }))).toEqual({ type: 'call.hangup', id: 'h', callSid: SID });
  });

  it.each([
    ['not JSON', '{type:', /not JSON/, null],
    ['an array', '[1]', /JSON object/, null],
    ['no type', '{"id":"x"}', /type is required/, 'x'],
    ['an unknown type', '{"type":"session.update","id":"x"}', /unknown command type "session.update"/, 'x'],
    ['a bad id', '{"type":"subscribe","id":"<script>"}', /id must be/, null],
    ['a bad callSid filter', '{"type":"subscribe","callSid":"../etc"}', /callSid/, null],
    ['config that is not an object', '{"type":"config.update","config":"loud"}', /config must be an object/, null],
    ['an answer without callId', `{"type":"function_call.answer","callSid":"${SID}","output":"x"}`, /callId is required/, null],
    ['an empty answer', `{"type":"function_call.answer","callSid":"${SID}","callId":"c","output":"  "}`, /non-empty/, null],
    ['a hang-up without callSid', '{"type":"call.hangup"}', /callSid is required/, null],
  ])('rejects %s with a reason', (_what, text, reason, id) => {
    const result = parseDashboardCommand(text);
    expect(result).toMatchObject({ error: expect.stringMatching(reason), id });
  });

  it('bounds the length of a hand-written answer', () => {
    const output = 'x'.repeat(MAX_ANSWER_CHARS + 1);
    expect(parseDashboardCommand(JSON.stringify({ type: 'function_call.answer', callSid: SID, callId: 'c', output }))).toMatchObject({
      error: expect.stringMatching(/at most/),
    });
  });
});
