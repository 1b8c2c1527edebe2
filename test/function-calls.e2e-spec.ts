import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe } from 'vitest';
import type { AgentTool } from '../src/tools/agent-tool';
import { expect, test, type PlacedCall } from './support/fixture';

const throwingTool: AgentTool = {
  name: 'throwing_tool',
  description: 'Always fails.',
  parameters: { type: 'object', properties: {} },
  run: async () => {
    throw new Error('database is on fire');
  },
};
const slowTool: AgentTool = {
  name: 'slow_tool',
  description: 'Never answers in time.',
  parameters: { type: 'object', properties: {} },
  run: (_args, { signal }) => new Promise((resolve) => signal.addEventListener('abort', () => resolve('too late'))),
};

/** A stand-in for open-meteo on loopback. */
async function startWeatherServer(): Promise<{ server: Server; url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ latitude: 48.85, longitude: 2.35, current: { time: '2026-11-25T12:00', temperature_2m: 7.5, wind_speed_10m: 12.1 } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/forecast`, requests };
}

let weather: Awaited<ReturnType<typeof startWeatherServer>>;

/** A call on an app with the test tools, the weather stand-in and a 300 ms tool timeout. */
const it = test.extend<{ start: (env?: Record<string, string>) => Promise<PlacedCall> }>({
  start: async ({ startApp, placeCall }, use) => {
    await use(async (env = {}) => {
      const app = await startApp({ WEATHER_API_URL: weather.url, TOOL_TIMEOUT_MS: '300', ...env }, [throwingTool, slowTool]);
      return placeCall(app);
    });
  },
});

describe('function calls', () => {
  beforeAll(async () => {
    weather = await startWeatherServer();
  });
  afterAll(() => new Promise<void>((resolve) => weather.server.close(() => resolve())));

  /** After the response.create that follows the outputs, a DTMF makes a sync point to count what was sent. */
  async function outputsThenOneResponse({ call, model }: PlacedCall, callIds: string[]) {
    await model.waitFor('response.create');
    call.sendDtmf('0');
    await model.waitFor('conversation.item.create', (e) => e.item.type === 'message');
    const outputs = model.received.filter((e) => e.type === 'conversation.item.create' && e.item.type === 'function_call_output');
    expect(outputs.map((e) => (e as { item: { call_id: string } }).item.call_id).sort()).toEqual([...callIds].sort());
    expect(model.received.filter((e) => e.type === 'response.create')).toHaveLength(1);
    // Outputs come before the response.create.
    const types = model.received.map((e) => e.type);
    expect(types.lastIndexOf('conversation.item.create', types.indexOf('response.create'))).toBeGreaterThan(-1);
    expect(model.errors).toEqual([]);
    return outputs.map((e) => {
      const output = (e as { item: { output: string; call_id: string } }).item;
      return { callId: output.call_id, value: JSON.parse(output.output) };
    });
  }

  it('runs a tool and returns its result as a JSON string, then asks for a response', async ({ start }) => {
    const placed = await start();
    const { callIds } = placed.model.functionCallResponse([{ name: 'get_weather_from_coords', arguments: '{"latitude":48.85,"longitude":2.35}' }]);
    const [output] = await outputsThenOneResponse(placed, callIds);
    expect(output.value).toEqual({ latitude: 48.85, longitude: 2.35, temperature_c: 7.5, wind_speed_kmh: 12.1 });
    expect(weather.requests.at(-1)).toContain('latitude=48.85');
    placed.call.sendStop();
  });

  it.for<[string, string, string, RegExp]>([
    ['an unknown tool', 'launch_rockets', '{}', /Unknown tool "launch_rockets"/],
    ['bad JSON arguments', 'get_weather_from_coords', '{"latitude": 48.8', /not valid JSON/],
    ['arguments that break the schema', 'get_weather_from_coords', '{"latitude":"north"}', /Invalid arguments/],
    // What an unexpected error says is for the log, not the model (it may name hosts and ports).
    ['a throwing tool', 'throwing_tool', '{}', /^The throwing_tool tool failed; try again later or do without it\.$/],
    ['a tool that times out', 'slow_tool', '{}', /timed out after 300 ms/],
  ])('answers %s with one JSON error output', async ([, name, args, pattern], { start }) => {
    const placed = await start();
    const { callIds } = placed.model.functionCallResponse([{ name, arguments: args }]);
    const [output] = await outputsThenOneResponse(placed, callIds);
    expect(output.value.error).toMatch(pattern);
    placed.call.sendStop();
  });

  it('reports an unreachable weather service as an error output', async ({ start }) => {
    const placed = await start({ WEATHER_API_URL: 'http://127.0.0.1:9/v1/forecast' });
    const { callIds } = placed.model.functionCallResponse([{ name: 'get_weather_from_coords', arguments: '{"latitude":1,"longitude":2}' }]);
    const [output] = await outputsThenOneResponse(placed, callIds);
    expect(output.value.error).toBe('The weather service is unavailable right now.');
    placed.call.sendStop();
  });

  it('answers several calls of one response, then sends a single response.create', async ({ start }) => {
    const placed = await start();
    const { callIds } = placed.model.functionCallResponse([
      { name: 'get_weather_from_coords', arguments: '{"latitude":1,"longitude":2}' },
      { name: 'slow_tool', arguments: '{}' },
      { name: 'throwing_tool', arguments: '{}' },
    ]);
    const outputs = await outputsThenOneResponse(placed, callIds);
    expect(outputs).toHaveLength(3);
    const byId = new Map(outputs.map((o) => [o.callId, o.value]));
    expect(byId.get(callIds[0])).toMatchObject({ temperature_c: 7.5 });
    expect(byId.get(callIds[1]).error).toMatch(/timed out/);
    expect(byId.get(callIds[2]).error).toMatch(/throwing_tool tool failed/);
    placed.call.sendStop();
  });
});
