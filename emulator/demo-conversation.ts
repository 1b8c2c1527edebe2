// The conversation `npm run demo` plays: the caller's lines (shipped as 8 kHz mu-law clips in
// emulator/audio/, made by scripts/make-demo-audio.ts) and the scripted model's side.
import type { ToolOutput, VoiceScript } from './voice-model';

export interface CallerLine {
  /** File in emulator/audio/. */
  clip: string;
  text: string;
}

export const DEMO_CALLER: CallerLine[] = [
  { clip: 'caller-1.ulaw', text: 'Hi! What can you do for me?' },
  { clip: 'caller-2.ulaw', text: 'Sorry to interrupt. What is the weather in Paris right now?' },
  { clip: 'caller-3.ulaw', text: 'Great, thank you. Goodbye!' },
];

export const PARIS = { latitude: 48.8566, longitude: 2.3522 };

/** Instructions for the server's first response (AGENT_GREETING): the AI speaks first. */
export const DEMO_GREETING_INSTRUCTIONS = 'Greet the caller briefly and offer help.';

export const DEMO_SCRIPT: VoiceScript = {
  greeting: 'Hello! This is the demo voice assistant. How can I help you today?',
  turns: [
    {
      user: DEMO_CALLER[0].text,
      // Long on purpose: the caller talks over it.
      reply: {
        say:
          'I can look up the current weather anywhere in the world, and I can end the call when you are done. ' +
          'For example, you could ask me about the weather in Paris, in Tokyo or in New York, and I would check it for you right away.',
      },
    },
    { user: DEMO_CALLER[1].text, reply: { call: 'get_weather_from_coords', arguments: PARIS } },
    { user: DEMO_CALLER[2].text, reply: { call: 'end_call', arguments: { reason: 'the caller said goodbye' } } },
  ],
  afterTools: (outputs) => outputs.map(describeOutput).join(' '),
};

function describeOutput({ name, output }: ToolOutput): string {
  let result: Record<string, unknown> = {};
  try {
    result = JSON.parse(output) as Record<string, unknown>;
  } catch {
    // not JSON: treated as an error below
  }
  if (typeof result.error === 'string') return `Sorry, that did not work: ${result.error}`;
  if (name === 'end_call') return "You're welcome. Goodbye!";
  if (name === 'get_weather_from_coords' && typeof result.temperature_c === 'number') {
    const wind = typeof result.wind_speed_kmh === 'number' ? `, with wind at ${Math.round(result.wind_speed_kmh)} kilometres per hour` : '';
    return `Right now in Paris it is ${Math.round(result.temperature_c)} degrees${wind}.`;
  }
  return `The ${name} function answered.`;
}
