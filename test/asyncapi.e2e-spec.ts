// The AsyncAPI document of the WebSockets (docs/asyncapi.json, served at /docs/asyncapi.json) is
// the one contract of /ws/call and /ws/logs: generated from the message types the code uses, valid
// AsyncAPI 3.0, served behind the docs' access rule, and a real call's traffic on both sockets, every
// message in both directions, matches it. It fails when the types, the document or the traffic drift.
import { Parser } from '@asyncapi/parser';
import Ajv, { type ValidateFunction } from 'ajv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'vitest';
import { buildAsyncApiDocument } from '../scripts/asyncapi-document';
import {
  COMMAND_CALL_SID,
  COMMAND_ID,
  FUNCTION_CALL_ID,
  MAX_ANSWER_CHARS,
  parseDashboardCommand,
  type DashboardCommand,
  type DashboardCommandMessage,
} from '../src/logs-gateway/dashboard-commands';
import { expect, test } from './support/fixture';
import { LogsClient } from './support/logs-client';
import { testAudio } from './support/test-app';

type Schema = Record<string, any>;

const FILE = join(__dirname, '..', 'docs', 'asyncapi.json');
const committed = (): Schema => JSON.parse(readFileSync(FILE, 'utf8'));

// Compile-time half of the drift check (npm run lint type-checks this file): the commands as sent
// (the published contract) and as parsed have the same names.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameCommands: Same<DashboardCommandMessage['type'], DashboardCommand['type']> = true;

/** A payload validator per message key, from the document itself. */
function validators(doc: Schema): (key: string) => ValidateFunction {
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addSchema(doc, 'asyncapi');
  const compiled = new Map<string, ValidateFunction>();
  return (key) => {
    expect(doc.components.messages[key], `no message ${key} in the document`).toBeDefined();
    let validate = compiled.get(key);
    if (!validate) compiled.set(key, (validate = ajv.compile({ $ref: `asyncapi#/components/messages/${key}/payload` })));
    return validate;
  };
}

function expectMessage(validate: ValidateFunction, message: unknown, what: string): void {
  expect(validate(message) ? [] : validate.errors, `${what}: ${JSON.stringify(message).slice(0, 300)}`).toEqual([]);
}

describe('the AsyncAPI document', () => {
  test('is what the message types generate (run `npm run docs:asyncapi` after changing one)', { timeout: 60_000 }, () => {
    expect(sameCommands).toBe(true);
    expect(committed()).toEqual(buildAsyncApiDocument());
  });

  test('is valid AsyncAPI 3.0, and its examples match their messages', { timeout: 30_000 }, async () => {
    const doc = committed();
    expect(doc.asyncapi).toBe('3.0.0');
    const { document, diagnostics } = await new Parser().parse(JSON.stringify(doc));
    // Severity 0 is an error, 1 a warning (Spectral's numbering); information and hints (e.g. "3.1.0 exists") are fine.
    expect(diagnostics.filter((d) => Number(d.severity) <= 1).map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`)).toEqual([]);
    expect(document).toBeDefined();
    expect(
      document!
        .channels()
        .all()
        .map((c) => c.address()),
    ).toEqual(['/ws/call', '/ws/logs']);
    const validate = validators(doc);
    for (const [key, message] of Object.entries(doc.components.messages as Record<string, Schema>)) {
      for (const example of message.examples ?? []) expectMessage(validate(key), example.payload, `example of ${key}`);
    }
  });

  test("commands: the document's rules are the parser's", () => {
    const doc = committed();
    const validate = validators(doc);
    const commands = doc.operations.receiveDashboardCommands.messages.map((m: { $ref: string }) => m.$ref.split('/').pop());
    expect(commands.sort()).toEqual(['call.hangup', 'config.update', 'function_call.answer', 'subscribe']);
    const schemas = doc.components.schemas;
    expect(schemas.CommandId.pattern).toBe(COMMAND_ID.source);
    expect(schemas.CommandCallSid.pattern).toBe(COMMAND_CALL_SID.source);
    const answer = doc.components.messages['function_call.answer'].payload.properties;
    expect(answer.callId.pattern).toBe(FUNCTION_CALL_ID.source);
    expect(answer.output.maxLength).toBe(MAX_ANSWER_CHARS);

    const sid = 'CA0123456789abcdef0123456789abcdef';
    const cases: [unknown, boolean][] = [
      [{ type: 'subscribe' }, true],
      [{ type: 'subscribe', id: 'a.b:c-1', callSid: null }, true],
      [{ type: 'subscribe', callSid: sid }, true],
      [{ type: 'subscribe', id: 'has spaces' }, false],
      [{ type: 'subscribe', id: null }, false],
      [{ type: 'subscribe', callSid: 'not a sid' }, false],
      [{ type: 'config.update', config: { voice: 'cedar' } }, true],
      [{ type: 'config.update', callSid: sid, config: {} }, true],
      [{ type: 'config.update' }, false],
      [{ type: 'function_call.answer', callSid: sid, callId: 'call_1', output: 'yes' }, true],
      [{ type: 'function_call.answer', callSid: sid, callId: 'call_1', output: '' }, false],
      [{ type: 'function_call.answer', callSid: sid, callId: 'call_1', output: 'x'.repeat(MAX_ANSWER_CHARS + 1) }, false],
      [{ type: 'function_call.answer', callSid: sid, output: 'yes' }, false],
      [{ type: 'call.hangup', callSid: sid }, true],
      [{ type: 'call.hangup' }, false],
    ];
    for (const [command, valid] of cases) {
      const parsed = parseDashboardCommand(JSON.stringify(command));
      const type = (command as { type: string }).type;
      expect([command, 'error' in parsed ? 'refused' : 'accepted']).toEqual([command, valid ? 'accepted' : 'refused']);
      expect([command, validate(type)(command)]).toEqual([command, valid]);
    }
    expect(parseDashboardCommand(JSON.stringify({ type: 'reboot' }))).toMatchObject({ error: 'unknown command type "reboot"' });
  });

  test('is served at /docs/asyncapi.json behind the same rule as /docs, and linked from the Swagger page', async ({ startApp }) => {
    const app = await startApp();
    const res = await fetch(`${app.httpUrl}/docs/asyncapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(committed());
    const swagger = (await (await fetch(`${app.httpUrl}/docs-json`)).json()) as { info: { description: string } };
    expect(swagger.info.description).toContain('(/docs/asyncapi.json)');
  });

  test('in production it needs the dashboard token, like /docs', async ({ startApp }) => {
    const token = 'docs-token-0123456789';
    const app = await startApp({ NODE_ENV: 'production', DASHBOARD_TOKEN: token });
    const url = `${app.httpUrl}/docs/asyncapi.json`;
    for (const path of ['/docs', '/docs/asyncapi.json']) expect([path, (await fetch(`${app.httpUrl}${path}`)).status]).toEqual([path, 401]);
    expect((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const basic = `Basic ${Buffer.from(`anyone:${token}`).toString('base64')}`;
    expect((await fetch(url, { headers: { authorization: basic } })).status).toBe(200);
  });
});

test("a real call's traffic on both sockets, every message in both directions, matches the document", async ({ startApp, placeCall }) => {
  const doc = committed();
  const validate = validators(doc);
  const app = await startApp();
  const logs = await LogsClient.connect(app); // before the call: ask_operator is offered
  const fromTwilio: Schema[] = [];
  const { call, model, callSid } = await placeCall(app, { simulator: { onSend: (m) => fromTwilio.push(m) } });
  await logs.waitFor('model.status', (e) => e.status === 'connected');
  const commands: Schema[] = [];
  const command = (body: Schema) => {
    commands.push(body);
    return logs.command(body);
  };

  expect(await command({ type: 'subscribe', callSid })).toMatchObject({ type: 'command.ok' });
  await logs.waitFor('snapshot', (e) => e.callSid === callSid);
  const user = model.speechStarted();
  model.speechStopped(user);
  model.userTranscript(user, 'Can I talk to a person?');
  await call.sendAudio(testAudio(1600, 3)); // 200 ms of caller audio
  await model.audioResponse({ chunks: [testAudio(8000, 1), testAudio(8000, 2)], transcript: 'Let me ask my colleague.' });
  model.speechStarted(); // the 2 s answer is still playing
  await call.waitFor('clear');
  await logs.waitFor('barge_in');
  const { callIds } = model.functionCallResponse([{ name: 'ask_operator', arguments: '{"question":"Transfer?"}' }]);
  await logs.waitFor('function_call.started');
  expect(await command({ type: 'function_call.answer', callSid, callId: callIds[0], output: 'Not today.' })).toMatchObject({ type: 'command.ok' });
  expect(await command({ type: 'config.update', callSid, config: { instructions: 'Be brief.' } })).toMatchObject({
    type: 'command.ok',
    applied: ['instructions'],
  });
  expect(await command({ type: 'config.update', config: { voice: 'cedar' } })).toMatchObject({ type: 'command.ok', config: { voice: 'cedar' } });
  expect(await command({ type: 'config.update', config: { voice: 'robot' } })).toMatchObject({ type: 'command.error', errors: [expect.any(String)] });
  call.sendDtmf('4');
  await logs.waitFor('dtmf');
  model.error({ code: 'oops', message: 'Something went wrong' });
  await logs.waitFor('error');
  call.sendStop();
  await logs.waitFor('call.ended');
  expect(await command({ type: 'call.hangup', callSid })).toMatchObject({ type: 'command.error', message: `no live call ${callSid}` });

  const seen = new Set<string>();
  const check = (key: string, message: Schema, what: string) => {
    seen.add(key);
    expectMessage(validate(key), message, what);
  };
  for (const message of fromTwilio) check(`fromTwilio.${message.event}`, message, 'sent by Twilio');
  for (const message of call.received) check(`toTwilio.${message.event}`, message, 'sent to Twilio');
  for (const message of logs.messages) check(message.type, message, 'sent to the dashboard');
  for (const message of commands) check(message.type, message, 'sent by the dashboard');
  const channel = (name: string) => Object.keys(doc.channels[name].messages);
  const covered = [
    ...channel('twilioMediaStream'),
    'snapshot',
    'command.ok',
    'command.error',
    'subscribe',
    'config.update',
    'function_call.answer',
    'call.hangup',
  ];
  expect(covered.filter((key) => !seen.has(key))).toEqual([]);
  for (const message of logs.messages) expect(message.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  logs.close();
});
