// The scripted voice model on its own: a plain `ws` client plays the app (GA session.update with
// mu-law and server VAD, real-time audio appends) against the emulator with the model attached.
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { FRAME_BYTES, silenceMulaw, toneMulaw } from './audio-codec';
import { FakeRealtimeServer } from './fake-realtime-server';
import { readStreamTwiml, twimlSays } from './phone';
import { SpeechCache } from './speech';
import { ScriptedVoiceModel, type VoiceAction, type VoiceScript } from './voice-model';
import { MessageLog } from './waiters';

const SCRIPT: VoiceScript = {
  greeting: 'Hello there.',
  turns: [
    { user: 'What is the weather?', reply: { call: 'get_weather_from_coords', arguments: { latitude: 1, longitude: 2 } } },
    { user: 'Tell me a story.', reply: { say: 'Once upon a time, there was a very long story that went on and on and on.' } },
  ],
  afterTools: (outputs) => `It is ${JSON.parse(outputs[0].output).temperature_c} degrees.`,
};

// Tones stand in for speech (no espeak-ng needed): the VAD only hears energy.
class FixedSpeech extends SpeechCache {
  override speak(text: string): Promise<Buffer> {
    return Promise.resolve(toneMulaw(text.length * 20));
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(actions: VoiceAction[] = []) {
  const model = new ScriptedVoiceModel({ script: SCRIPT, speech: new FixedSpeech(), onAction: (_c, a) => actions.push(a) });
  const server = await FakeRealtimeServer.start({ onConnection: (c) => model.attach(c) });
  cleanups.push(() => server.close());
  const ws = new WebSocket(`${server.url}?model=gpt-realtime`);
  cleanups.push(() => ws.terminate());
  const events = new MessageLog<any>();
  ws.on('message', (data) => events.push(JSON.parse(data.toString())));
  await once(ws, 'open');
  const send = (event: object): void => ws.send(JSON.stringify(event));
  send({
    type: 'session.update',
    session: {
      type: 'realtime',
      audio: {
        input: {
          format: { type: 'audio/pcmu' },
          turn_detection: { type: 'server_vad', silence_duration_ms: 300, create_response: true, interrupt_response: true },
        },
        output: { format: { type: 'audio/pcmu' } },
      },
    },
  });
  const next = (type: string, predicate: (e: any) => boolean = () => true) =>
    events.waitFor(
      (e) => e.type === type && predicate(e),
      5000,
      type,
      (e) => e.type,
    );
  await next('session.updated');
  // Real-time caller audio, 20 ms frames, as the app forwards it.
  const speak = async (audio: Buffer): Promise<void> => {
    const t0 = performance.now();
    for (let i = 0; i * FRAME_BYTES < audio.length; i++) {
      const wait = t0 + i * 20 - performance.now();
      if (wait > 0) await delay(wait);
      send({ type: 'input_audio_buffer.append', audio: audio.subarray(i * FRAME_BYTES, (i + 1) * FRAME_BYTES).toString('base64') });
    }
  };
  return { send, next, speak, events };
}

describe('ScriptedVoiceModel', () => {
  it('greets on response.create, hears a turn by energy, and calls the scripted function', async () => {
    const actions: VoiceAction[] = [];
    const { send, next, speak } = await start(actions);
    send({ type: 'response.create' });
    await next('response.output_audio.delta');
    expect((await next('response.output_audio_transcript.done')).transcript).toBe('Hello there.');
    await next('response.done', (e) => e.response.status === 'completed');

    await speak(Buffer.concat([silenceMulaw(100), toneMulaw(400), silenceMulaw(400)]));
    const started = await next('input_audio_buffer.speech_started');
    const stopped = await next('input_audio_buffer.speech_stopped');
    expect(stopped.item_id).toBe(started.item_id);
    // audio_start_ms on the input buffer's clock: after the leading silence, within the VAD's start window.
    expect(started.audio_start_ms).toBeGreaterThanOrEqual(100);
    expect(started.audio_start_ms).toBeLessThanOrEqual(200);
    expect((await next('conversation.item.input_audio_transcription.completed')).transcript).toBe('What is the weather?');
    const call = await next('response.function_call_arguments.done');
    expect(call).toMatchObject({ name: 'get_weather_from_coords', arguments: '{"latitude":1,"longitude":2}' });

    // The app answers the function call; its response.create gets a spoken answer about the output.
    send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: call.call_id, output: '{"temperature_c":21}' } });
    send({ type: 'response.create' });
    expect((await next('response.output_audio_transcript.done')).transcript).toBe('It is 21 degrees.');
    expect(actions.map((a) => a.type)).toEqual(['answer', 'speech_started', 'speech_stopped', 'function_call', 'answer']);
  });

  it('is interrupted when the caller talks over an answer (barge-in), then answers the next turn', async () => {
    const { send, next, speak } = await start();
    // Turn 1 (the function call) out of the way.
    await speak(Buffer.concat([toneMulaw(300), silenceMulaw(400)]));
    const call = await next('response.function_call_arguments.done');
    send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: call.call_id, output: '{"temperature_c":5}' } });
    send({ type: 'response.create' });
    await next('response.done');

    // Turn 2: a long answer (≈ 1.5 s of audio, streamed at twice real time)…
    await speak(Buffer.concat([toneMulaw(300), silenceMulaw(400)]));
    await next('conversation.item.input_audio_transcription.completed', (e) => e.transcript === 'Tell me a story.');
    await next('response.output_audio.delta');
    // …that the caller talks over.
    await speak(toneMulaw(200));
    await next('input_audio_buffer.speech_started');
    const done = await next('response.done', (e) => e.response.status === 'cancelled');
    expect(done.response.status_details).toEqual({ type: 'cancelled', reason: 'turn_detected' });
    // A turn past the script still gets an answer.
    await speak(silenceMulaw(400));
    await next('conversation.item.input_audio_transcription.completed', (e) => /seconds of caller audio/.test(e.transcript));
    await next('response.done', (e) => e.response.status === 'completed');
  });
});

describe('TwiML reading', () => {
  it('finds the stream URL and its parameters, unescaping XML', () => {
    const twiml =
      '<?xml version="1.0" encoding="UTF-8"?><Response><Connect action="https://x.test/twiml/stream-ended" method="POST">' +
      '<Stream url="wss://x.test/ws/call"><Parameter name="callSid" value="CA1"/><Parameter name="from" value="&lt;+1 &amp; co&gt;"/></Stream>' +
      '</Connect><Say>Sorry &amp; goodbye.</Say><Hangup/></Response>';
    expect(readStreamTwiml(twiml)).toEqual({ url: 'wss://x.test/ws/call', parameters: { callSid: 'CA1', from: '<+1 & co>' } });
    expect(twimlSays(twiml)).toEqual(['Sorry & goodbye.']);
    expect(readStreamTwiml('<Response><Say>Busy</Say><Hangup/></Response>')).toBeNull();
  });
});
