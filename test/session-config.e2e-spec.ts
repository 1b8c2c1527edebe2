import { describe } from 'vitest';
import { expect, it } from './support/fixture';
import { getJson, operatorHeaders, type TestApp } from './support/test-app';

const TOKEN = 'cfg-token-0123456789ab';

const operator = operatorHeaders;

async function getConfig(app: TestApp): Promise<any> {
  return getJson(`${app.httpUrl}/session-config`, operator(app));
}

async function put(app: TestApp, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${app.httpUrl}/session-config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

describe('GET/PUT /session-config', () => {
  it('starts from the environment', async ({ startApp }) => {
    const app = await startApp({ AGENT_INSTRUCTIONS: 'Env instructions.', OPENAI_VOICE: 'coral', VAD_THRESHOLD: '0.6', VAD_SILENCE_DURATION_MS: '700' });
    expect(await getConfig(app)).toEqual({
      engine: 'realtime',
      instructions: 'Env instructions.',
      voice: 'coral',
      turnDetection: { type: 'server_vad', threshold: 0.6, prefixPaddingMs: 300, silenceDurationMs: 700 },
      enabledTools: ['get_weather_from_coords', 'end_call', 'ask_operator'],
      availableTools: ['get_weather_from_coords', 'end_call', 'ask_operator'],
      availableVoices: ['alloy', 'ash', 'ballad', 'coral', 'echo', 'sage', 'shimmer', 'verse', 'marin', 'cedar'],
      availableEngines: ['realtime', 'live'],
    });
    const semantic = await startApp({ TURN_DETECTION: 'semantic_vad' });
    expect((await getConfig(semantic)).turnDetection).toEqual({ type: 'semantic_vad', eagerness: 'auto' });
    await semantic.close();
  });

  it("saves a valid change (fields left out keep their values), and the next call's session.update carries it", async ({ startApp, placeCall }) => {
    const app = await startApp({ DASHBOARD_TOKEN: TOKEN });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const first = await put(app, { instructions: 'You sell bicycles.', turnDetection: { type: 'server_vad', threshold: 0.3 } }, auth);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      instructions: 'You sell bicycles.',
      voice: 'marin',
      turnDetection: { type: 'server_vad', threshold: 0.3, silenceDurationMs: 500 },
    });
    const second = await put(app, { voice: 'verse', enabledTools: ['get_weather_from_coords', 'get_weather_from_coords'] }, auth);
    expect(second.body).toMatchObject({
      instructions: 'You sell bicycles.',
      voice: 'verse',
      enabledTools: ['get_weather_from_coords'],
      turnDetection: { threshold: 0.3 },
    });
    expect(await (await fetch(`${app.httpUrl}/session-config`, { headers: auth })).json()).toEqual(second.body);

    const { model, call } = await placeCall(app);
    const update = model.received.find((e) => e.type === 'session.update') as { session: any };
    expect(update.session).toMatchObject({
      instructions: 'You sell bicycles.',
      audio: {
        input: { turn_detection: { type: 'server_vad', threshold: 0.3, prefix_padding_ms: 300, silence_duration_ms: 500 } },
        output: { voice: 'verse' },
      },
    });
    expect(update.session.tools.map((t: { name: string }) => t.name)).toEqual(['get_weather_from_coords']);
    expect(model.errors).toEqual([]);
    call.sendStop();
  });

  it.for<[string, unknown, RegExp]>([
    ['an unknown voice', { voice: 'robot' }, /voice must be one of the following values/],
    ['a threshold above 1', { turnDetection: { type: 'server_vad', threshold: 1.5 } }, /turnDetection\.threshold must not be greater than 1/],
    ['an unknown turn detection type', { turnDetection: { type: 'push_to_talk' } }, /turnDetection\.type must be one of/],
    ['turn detection that is not an object', { turnDetection: 'server_vad' }, /turnDetection must be an object/],
    ['empty instructions', { instructions: '' }, /instructions must be longer than or equal to 1 characters/],
    ['instructions that are not text', { instructions: 42 }, /instructions must be a string/],
    ['an unknown tool', { enabledTools: ['get_weather_from_coords', 'launch_rockets'] }, /enabledTools: unknown tool "launch_rockets"/],
    ['an unknown field', { model: 'gpt-4o' }, /property model should not exist/],
    ['an unknown nested field', { turnDetection: { type: 'server_vad', create_response: false } }, /turnDetection\.property create_response should not exist/],
  ])('refuses %s with 400 naming the field, and changes nothing', async ([, body, message], { startApp }) => {
    const app = await startApp();
    const before = await getConfig(app);
    const res = await put(app, body, operator(app));
    expect(res.status).toBe(400);
    expect(res.body.message.join('\n')).toMatch(message);
    expect(await getConfig(app)).toEqual(before);
  });

  it('names every problem of a change in one answer, not one per attempt', async ({ startApp }) => {
    const app = await startApp();
    const res = await put(
      app,
      { voice: 'robot', enabledTools: ['launch_rockets'], turnDetection: { type: 'server_vad', threshold: 2 }, model: 'gpt-4o' },
      operator(app),
    );
    expect(res.status).toBe(400);
    const messages: string[] = res.body.message;
    for (const expected of [
      /voice must be one of/,
      /enabledTools: unknown tool "launch_rockets"/,
      /turnDetection\.threshold must not be greater than 1/,
      /property model should not exist/,
    ]) {
      expect(
        messages.some((m) => expected.test(m)),
        `${expected} in ${JSON.stringify(messages)}`,
      ).toBe(true);
    }
  });

  it.for<[string, string | undefined, string]>([
    ['a form body', 'application/x-www-form-urlencoded', 'voice=cedar'],
    ['plain text', 'text/plain', '{"voice":"cedar"}'],
    ['no content type', undefined, '{"voice":"cedar"}'],
  ])('refuses %s with 415 naming the fix, and changes nothing', async ([, contentType, body], { startApp }) => {
    const app = await startApp();
    const before = await getConfig(app);
    const headers: Record<string, string> = { ...operator(app) };
    if (contentType) headers['content-type'] = contentType;
    const res = await fetch(`${app.httpUrl}/session-config`, { method: 'PUT', headers, body: contentType ? body : Buffer.from(body) });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { message: string }).message).toMatch(/^PUT \/session-config takes a JSON body: send Content-Type: application\/json/);
    expect(await getConfig(app)).toEqual(before);
  });

  it('needs the dashboard token when one is set', async ({ startApp }) => {
    const app = await startApp({ DASHBOARD_TOKEN: TOKEN });
    expect((await fetch(`${app.httpUrl}/session-config`)).status).toBe(401);
    expect((await put(app, { voice: 'cedar' })).status).toBe(401);
    expect((await put(app, { voice: 'cedar' }, { authorization: 'Bearer not-the-token-123456' })).status).toBe(401);
    expect((await put(app, { voice: 'cedar' }, { authorization: `Bearer ${TOKEN}` })).body.voice).toBe('cedar');
  });

  it('is documented in Swagger, with its body schema and bearer auth', async ({ startApp }) => {
    const app = await startApp();
    const doc = await getJson(`${app.httpUrl}/docs-json`);
    const path = doc.paths['/session-config'];
    expect(Object.keys(path).sort()).toEqual(['get', 'put']);
    expect(path.put.requestBody.content['application/json'].schema.$ref).toMatch(/SessionConfigUpdateDto$/);
    expect(path.put.responses).toHaveProperty('400');
    expect(path.get.security).toEqual([{ dashboardToken: [] }]);
    expect(doc.components.schemas.TurnDetectionDto.properties.threshold).toMatchObject({ minimum: 0, maximum: 1 });
  });
});
