// The OpenAPI document (/docs-json) says what the server really does: access as it is enforced
// (a shared-secret dashboard token, not a JWT; /metrics' two tokens; Twilio's signature header),
// every error a route can answer, TwiML as text/xml with the XML the server writes, typed schemas,
// and the real answers of the server validate against the documented schemas, with every field
// they carry documented (no undocumented extras).
import Ajv from 'ajv';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe } from 'vitest';
import { expect, test } from './support/fixture';
import { form, getJson, operatorHeaders, postTwiml, twilioSignature, type TestApp } from './support/test-app';

type Schema = Record<string, any>;

const OPTIONAL = [[], ['dashboardToken']];
const DASHBOARD = [['dashboardToken']];
const TWILIO = [['twilioSignature']];

/** Every route: who may call it, and every error status it can answer (besides 404 for unknown routes and 408 for slow requests). */
const ROUTES: Record<string, { security: string[][]; errors: number[] }> = {
  'get /': { security: OPTIONAL, errors: [] },
  'get /public-url': { security: OPTIONAL, errors: [401] },
  'get /tools': { security: OPTIONAL, errors: [401] },
  'get /health': { security: OPTIONAL, errors: [401, 503] },
  'get /health/live': { security: OPTIONAL, errors: [] },
  'get /health/ready': { security: OPTIONAL, errors: [503] },
  'post /twiml': { security: TWILIO, errors: [400, 403, 409, 413, 415] },
  'get /twiml': { security: TWILIO, errors: [400, 403, 409] },
  'post /twiml/stream-ended': { security: TWILIO, errors: [400, 403, 413, 415] },
  'get /session-config': { security: DASHBOARD, errors: [401] },
  'put /session-config': { security: DASHBOARD, errors: [400, 401, 413, 415] },
  'get /calls': { security: DASHBOARD, errors: [400, 401, 503] },
  'get /calls/{sid}': { security: DASHBOARD, errors: [400, 401, 404, 503] },
  'delete /calls/{sid}': { security: DASHBOARD, errors: [400, 401, 404, 503] },
  'get /calls/{sid}/events': { security: DASHBOARD, errors: [400, 401, 404, 503] },
  'get /stats': { security: DASHBOARD, errors: [400, 401, 503] },
  'get /metrics': { security: [['dashboardToken'], ['metricsToken']], errors: [401] },
};

/** Objects whose shape depends on something the OpenAPI document cannot express, each with where it is described. */
const FREE_FORM = {
  'CallEventDto.data': 'the payload of that event type in /docs/asyncapi.json',
};

/** The document the app under test serves (each test reads its own app's). */
let doc: Schema;
async function readDocument(app: TestApp): Promise<void> {
  doc = await getJson(`${app.httpUrl}/docs-json`);
}
const tmp = mkdtempSync(join(tmpdir(), 'api-description-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const operations = (): [string, Schema][] =>
  Object.entries(doc.paths as Record<string, Schema>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]): [string, Schema] => [`${method} ${path}`, op]),
  );

/** Compiles a documented schema for real answers: every object that lists its properties may carry no others. */
function validator(schema: Schema) {
  const components = structuredClone(doc.components);
  walk(components, (node) => {
    if (node.properties && node.additionalProperties === undefined) node.additionalProperties = false;
  });
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'openapi', components });
  return ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/')));
}

/** Checks `body` against what the document says `route` answers with `status`. */
function expectDocumented(route: string, status: number, body: unknown, contentType = 'application/json'): void {
  const [method, path] = route.split(' ');
  const response = doc.paths[path]?.[method]?.responses?.[String(status)];
  expect(response, `${route} does not document ${status}`).toBeDefined();
  const schema = response.content?.[contentType]?.schema;
  expect(schema, `${route} ${status} has no ${contentType} schema`).toBeDefined();
  const validate = validator(schema);
  expect(validate(body) ? [] : validate.errors, `${route} ${status}: ${JSON.stringify(body).slice(0, 400)}`).toEqual([]);
}

function walk(root: unknown, visit: (node: Schema) => void): void {
  const stack = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) stack.push(...node);
    else if (node && typeof node === 'object') {
      visit(node);
      stack.push(...Object.values(node));
    }
  }
}

describe('the OpenAPI document', () => {
  test('declares access as it is: the dashboard token is a shared-secret Bearer token, /metrics takes either token, Twilio signs its webhooks', async ({
    startApp,
  }) => {
    await readDocument(await startApp());
    expect(doc.components.securitySchemes).toEqual({
      dashboardToken: { type: 'http', scheme: 'bearer', description: expect.stringMatching(/shared secret \(not a JWT\)/) },
      metricsToken: { type: 'http', scheme: 'bearer', description: expect.stringMatching(/METRICS_TOKEN/) },
      twilioSignature: { type: 'apiKey', in: 'header', name: 'X-Twilio-Signature', description: expect.stringMatching(/TWILIO_AUTH_TOKEN/) },
    });
    expect(JSON.stringify(doc)).not.toMatch(/JWT"|bearerFormat/);
    const routes = operations().map(([route]) => route);
    expect(routes.sort()).toEqual(Object.keys(ROUTES).sort());
    for (const [route, op] of operations()) {
      const schemes = (op.security as Record<string, string[]>[]).map((requirement) => Object.keys(requirement).sort());
      expect([route, schemes.sort()]).toEqual([route, ROUTES[route].security.sort()]);
    }
  });

  test('documents every error each route answers, in the error shape', async ({ startApp }) => {
    await readDocument(await startApp());
    for (const [route, op] of operations()) {
      const errors = Object.keys(op.responses)
        .map(Number)
        .filter((status) => status >= 400);
      expect([route, errors.sort()]).toEqual([route, ROUTES[route].errors]);
      for (const status of errors) {
        const schema = op.responses[status].content?.['application/json']?.schema;
        // A failing health check answers with the health result itself, as Terminus does.
        const expected = route.startsWith('get /health') && status === 503 ? 'HealthResultDto' : 'ErrorResponseDto';
        expect([route, status, schema?.$ref]).toEqual([route, status, `#/components/schemas/${expected}`]);
        expect(op.responses[status].description.length, `${route} ${status} says when`).toBeGreaterThan(10);
      }
    }
  });

  test("has no untyped objects, and a health schema of its own (not Terminus' generic one)", async ({ startApp }) => {
    await readDocument(await startApp());
    const loose: string[] = [];
    for (const [name, schema] of Object.entries(doc.components.schemas as Record<string, Schema>)) {
      for (const [field, property] of Object.entries((schema.properties ?? {}) as Record<string, Schema>)) {
        const items = property.type === 'array' ? property.items : property;
        const typed = items.$ref || items.allOf || items.oneOf || items.enum || (items.type && items.type !== 'object') || items.properties;
        const typedMap = typeof items.additionalProperties === 'object';
        if (!typed && !typedMap && !(`${name}.${field}` in FREE_FORM)) loose.push(`${name}.${field}`);
      }
    }
    expect(loose).toEqual([]);
    for (const route of ['get /health', 'get /health/live', 'get /health/ready']) {
      const [method, path] = route.split(' ');
      expect(doc.paths[path][method].responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/HealthResultDto');
    }
    expect(Object.keys(doc.components.schemas.HealthChecksDto.properties)).toEqual(
      expect.arrayContaining(['config', 'calls', 'drain', 'eventLoop', 'heap', 'process', 'model', 'warnings', 'database', 'postCallWebhook']),
    );
    expect(JSON.stringify(doc)).not.toContain('The Health Check is successful'); // Terminus' generic schema
  });

  test('describes TwiML as text/xml with the XML the server writes, and links the AsyncAPI document of the sockets', async ({ startApp }) => {
    const docsApp = await startApp();
    await readDocument(docsApp);
    for (const route of ['post /twiml', 'get /twiml', 'post /twiml/stream-ended']) {
      const [method, path] = route.split(' ');
      const ok = doc.paths[path][method].responses['200'];
      expect([route, Object.keys(ok.content)]).toEqual([route, ['text/xml']]);
      for (const example of Object.values(ok.content['text/xml'].examples as Record<string, { value: string }>)) {
        expect(example.value).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><Response>.*<\/Response>$/);
      }
    }
    // The connect example has exactly the structure of a real answer.
    const real = await postTwiml(docsApp, { CallSid: 'CA0123456789abcdef0123456789abcdef', From: '+15551230000', To: '+15559870000', Direction: 'inbound' });
    expect(real.contentType).toMatch(/^text\/xml/);
    const shape = (xml: string) => [...xml.matchAll(/<(\w+)(?: name="(\w+)")?/g)].map((m) => m.slice(1).join(':'));
    expect(shape(doc.paths['/twiml'].post.responses['200'].content['text/xml'].examples.connect.value)).toEqual(shape(real.body));

    expect(doc.info.description).toContain('[/docs/asyncapi.json](/docs/asyncapi.json)');
    expect(doc.info.description).toMatch(/`\/ws\/call`.*`\/ws\/logs`/);
  });
});

describe("the server's real answers match the document", () => {
  test('status, health, tools, session configuration, metrics and their errors', async ({ startApp }) => {
    const app = await startApp({ RECORDS: 'off' });
    await readDocument(app);
    const auth = operatorHeaders(app);
    const json = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(`${app.httpUrl}${path}`, init);
      return { status: res.status, body: await res.json() };
    };
    for (const [route, path] of [
      ['get /', '/'],
      ['get /public-url', '/public-url'],
      ['get /tools', '/tools'],
      ['get /health', '/health'],
      ['get /health/live', '/health/live'],
      ['get /health/ready', '/health/ready'],
    ]) {
      const { status, body } = await json(path);
      expectDocumented(route, status, body);
    }
    const config = await json('/session-config', { headers: auth });
    expectDocumented('get /session-config', config.status, config.body);
    expectDocumented('get /session-config', 401, (await json('/session-config')).body);
    const put = (body: string, contentType = 'application/json') =>
      json('/session-config', { method: 'PUT', headers: { ...auth, 'content-type': contentType }, body });
    const saved = await put(JSON.stringify({ voice: 'cedar', turnDetection: { type: 'semantic_vad', eagerness: 'low' } }));
    expect(saved.status).toBe(200);
    expectDocumented('put /session-config', 200, saved.body);
    expectDocumented('put /session-config', 400, (await put(JSON.stringify({ voice: 'robot', turnDetection: { type: 'server_vad', threshold: 2 } }))).body);
    expectDocumented('put /session-config', 400, (await put('{"voice":')).body);
    const tooBig = (await put(JSON.stringify({ instructions: 'x'.repeat(70_000) }))).body as { message: string };
    expectDocumented('put /session-config', 413, tooBig);
    expect(tooBig.message).toMatch(/over 64 KB/);
    expectDocumented('put /session-config', 415, (await put('voice=cedar', 'application/x-www-form-urlencoded')).body);
    expectDocumented('get /calls', 503, (await json('/calls', { headers: auth })).body);
    expectDocumented('get /calls/{sid}', 400, (await json('/calls/not%20a%20sid', { headers: auth })).body);

    const metrics = await fetch(`${app.httpUrl}/metrics`, { headers: auth });
    expect(metrics.headers.get('content-type')).toBe(Object.keys(doc.paths['/metrics'].get.responses['200'].content)[0]);
    expectDocumented('get /metrics', 401, (await json('/metrics')).body);
  });

  test('the Twilio webhooks: TwiML, and each refusal', async ({ startApp, placeCall }) => {
    const app = await startApp(); // signatures checked with the fixture's TWILIO_AUTH_TOKEN
    await readDocument(app);
    const { callSid, twiml } = await placeCall(app);
    expect(twiml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><Response><Connect /);
    const replay = await postTwiml(app, { CallSid: callSid });
    expectDocumented('post /twiml', 409, JSON.parse(replay.body));
    expectDocumented('post /twiml', 400, JSON.parse((await postTwiml(app, { From: '+15551230000' })).body));
    expectDocumented('post /twiml', 403, JSON.parse((await postTwiml(app, { CallSid: callSid }, { signature: 'bm90LWEtc2lnbmF0dXJl' })).body));
    expectDocumented('post /twiml', 403, JSON.parse((await postTwiml(app, { CallSid: callSid }, { signature: false })).body));
    const signature = twilioSignature(app, '/twiml')!;
    const json = await fetch(`${app.httpUrl}/twiml`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-twilio-signature': signature },
      body: '{}',
    });
    expectDocumented('post /twiml', 415, await json.json());
    const big = await fetch(`${app.httpUrl}/twiml`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      body: form({ CallSid: callSid, Junk: 'x'.repeat(100_000) }),
    });
    const tooBig = (await big.json()) as { message: string };
    expectDocumented('post /twiml', 413, tooBig);
    expect(tooBig.message).toMatch(/^The request body is over 64 KB: .*send less$/); // the limit and the fix, not the parser's words
    const ended = await postTwiml(app, { CallSid: callSid }, { path: '/twiml/stream-ended' });
    expect([ended.status, ended.contentType]).toEqual([200, 'text/xml; charset=utf-8']);
  });

  test('the call records: a real call, listed, read, its events, the totals, and a call that is not there', async ({ startApp, placeCall }) => {
    const app = await startApp({ RECORDS: 'on', DATA_DIR: tmp });
    await readDocument(app);
    const auth = { headers: operatorHeaders(app) };
    const { call, model, callSid } = await placeCall(app);
    const read = async (path: string): Promise<{ status: number; body: any }> => {
      const res = await fetch(`${app.httpUrl}${path}`, auth);
      return { status: res.status, body: await res.json() };
    };
    model.userTranscript(model.speechStarted(), 'Hello there');
    await model.audioResponse({ chunks: [Buffer.alloc(1600, 0xff)], transcript: 'Hi!' });
    // Both lines reached the record before the hang-up; then the live call is listed and read too.
    await expect.poll(async () => (await read(`/calls/${callSid}`)).body.transcript?.length, { timeout: 10_000 }).toBe(2);
    expectDocumented('get /calls', 200, (await read('/calls')).body);
    call.sendStop();
    await expect.poll(async () => (await read(`/calls/${callSid}`)).body.endedAt, { timeout: 10_000 }).toBeTruthy();
    for (const [route, path] of [
      ['get /calls', '/calls'],
      ['get /calls/{sid}', `/calls/${callSid}`],
      ['get /calls/{sid}/events', `/calls/${callSid}/events`],
      ['get /stats', '/stats'],
    ]) {
      const { status, body } = await read(path);
      expectDocumented(route, status, body);
    }
    expectDocumented('get /calls/{sid}', 404, (await read('/calls/CA0000000000000000000000000000dead')).body);
    expectDocumented('get /calls', 400, (await read('/calls?from=yesterday')).body);
    expectDocumented('get /stats', 400, (await read('/stats?from=2030-01-02&to=2030-01-01')).body);
  });
});
