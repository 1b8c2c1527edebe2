import { describe, expect, it } from 'vitest';
import { base64ByteLength, parseTwilioMessage } from './twilio-messages';

describe('parseTwilioMessage', () => {
  const media = (payload: unknown) => JSON.stringify({ event: 'media', streamSid: 'MZ1', media: { track: 'inbound', chunk: '1', timestamp: '20', payload } });

  it('accepts the Twilio messages', () => {
    expect(parseTwilioMessage(media(Buffer.alloc(160, 0xff).toString('base64')))).toMatchObject({ event: 'media' });
    expect(parseTwilioMessage('{"event":"connected","protocol":"Call","version":"1.0.0"}')).toMatchObject({ event: 'connected' });
    expect(parseTwilioMessage('{"event":"mark","streamSid":"MZ1","mark":{"name":"item_a:20"}}')).toMatchObject({ mark: { name: 'item_a:20' } });
    expect(parseTwilioMessage('{"event":"dtmf","streamSid":"MZ1","dtmf":{"track":"inbound_track","digit":"#"}}')).toMatchObject({ dtmf: { digit: '#' } });
    expect(
      parseTwilioMessage(
        JSON.stringify({ event: 'start', streamSid: 'MZ1', start: { streamSid: 'MZ1', callSid: 'CA1', accountSid: 'AC1', customParameters: { from: '+1' } } }),
      ),
    ).toMatchObject({ event: 'start' });
    expect(parseTwilioMessage('{"event":"stop","streamSid":"MZ1"}')).toMatchObject({ event: 'stop' });
  });

  it('names what is wrong with a bad frame', () => {
    expect(parseTwilioMessage('{not json')).toBe('malformed-json');
    expect(parseTwilioMessage('[]')).toBe('invalid-shape');
    expect(parseTwilioMessage('{"event":"hello"}')).toBe('unknown-event');
    expect(parseTwilioMessage(media(42))).toBe('invalid-shape');
    expect(parseTwilioMessage(media('not base64!'))).toBe('invalid-payload');
    expect(parseTwilioMessage(media('A'.repeat(20_000)))).toBe('invalid-payload');
    expect(parseTwilioMessage('{"event":"start","start":{}}')).toBe('invalid-shape');
    expect(parseTwilioMessage('{"event":"dtmf","dtmf":{"digit":"xx"}}')).toBe('invalid-shape');
    expect(parseTwilioMessage('{"event":"mark","mark":{}}')).toBe('invalid-shape');
  });

  it('computes decoded length without decoding', () => {
    for (const n of [0, 1, 2, 3, 160, 161, 162]) {
      expect(base64ByteLength(Buffer.alloc(n).toString('base64'))).toBe(n);
    }
  });
});
