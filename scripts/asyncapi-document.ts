// Builds the AsyncAPI 3.0 document of the two WebSocket endpoints from the TypeScript types the code
// sends and parses with (ts-json-schema-generator): /ws/call from src/call-gateway/twilio-messages.ts,
// /ws/logs from src/logs-gateway/dashboard-messages.ts and dashboard-commands.ts. The channels,
// operations and words around the schemas are written here. `npm run docs:asyncapi` writes the result
// to docs/asyncapi.json (served at /docs/asyncapi.json); test/asyncapi.e2e-spec.ts rebuilds it and
// fails when the committed file differs, so the types stay the single source of the contract.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGenerator } from 'ts-json-schema-generator';
import { repoRoot } from '../emulator/speech';

type Schema = Record<string, any>;

/** The types, and how each becomes messages: one message per value of the discriminating field. */
const SOURCES = [
  { type: 'TwilioInbound', field: 'event', key: (name: string) => `fromTwilio.${name}`, open: true },
  { type: 'TwilioOutbound', field: 'event', key: (name: string) => `toTwilio.${name}`, open: false },
  { type: 'DashboardServerMessage', field: 'type', key: (name: string) => name, open: false },
  { type: 'DashboardCommandMessage', field: 'type', key: (name: string) => name, open: false },
] as const;

const FILES = ['src/call-gateway/twilio-messages.ts', 'src/logs-gateway/dashboard-messages.ts', 'src/logs-gateway/dashboard-commands.ts'];

/** One line per message: a message the code gained without one here fails the build of the document. */
const SUMMARIES: Record<string, string> = {
  'fromTwilio.connected': 'The first message on a new stream.',
  'fromTwilio.start':
    'The stream starts: call and stream SIDs, and the TwiML <Parameter>s, among them the one-time `streamToken` that /twiml issued. Anything before it is refused.',
  'fromTwilio.media': "20 ms of the caller's audio (mu-law 8 kHz, base64): forwarded to the voice model as is.",
  'fromTwilio.mark': 'The echo of a mark we sent: the caller has heard the audio before it (or `clear` emptied the buffer).',
  'fromTwilio.dtmf': 'A key the caller pressed (published as a `dtmf` call event).',
  'fromTwilio.stop': 'The stream ended (the caller hung up): the call ends with reason `caller-hung-up`.',
  'toTwilio.media': "The assistant's audio, mu-law 8 kHz, base64, queued by Twilio and played in order.",
  'toTwilio.mark':
    'Sent after the audio chunk that completes 100 ms since the last mark, and after the last audio of a response; named `{generation}.{seq}:{itemId}:{ms of that item sent so far}`, so its echo says what the caller heard.',
  'toTwilio.clear': "The caller talked over the assistant: empties Twilio's playback buffer at once.",
  'call.started': 'A media stream started: who calls whom, and the engine, model and voice of the call.',
  'call.ended': 'The call is over: why (reason, and detail when it failed), how long, frames, barge-ins, reconnects.',
  'model.status': 'The voice model connection changed state; `failed` names the problem and what to do about it.',
  'transcript.delta': 'A piece of text of `itemId`: append it.',
  'transcript.done': 'The final text of `itemId` (replaces the deltas).',
  barge_in: 'The caller talked over the assistant: what they had heard of the item that was playing (`audioEndMs`) of what had been sent.',
  'function_call.started': 'The model called a tool (arguments as the model wrote them).',
  'function_call.finished': 'A tool call was settled, by the tool or by an operator, with the output the model got.',
  dtmf: 'The caller pressed a key.',
  usage: 'Tokens of one model response, by modality.',
  latency: 'A latency the caller felt: `first_audio` once per call, `answer` per turn.',
  error: 'Something went wrong in the call (Twilio, the model, a tool, the server); the call may go on.',
  cost: 'The price of the response just reported by `usage`, and of the call so far (null: the model has no price).',
  snapshot: 'The live calls with their recent transcript and function calls: first on connecting, and after each `subscribe`.',
  'command.ok': 'A command was carried out; `id` echoes its id.',
  'command.error': 'A command was refused, with the reason; nothing was changed.',
  subscribe: 'Watch one call, or all (callSid null or absent); answered with `command.ok`, then a fresh `snapshot`.',
  'config.update':
    'Without callSid: change the saved configuration for new calls (same fields and rules as PUT /session-config). With callSid: change that live call now.',
  'function_call.answer': 'Settle a running function call with this output (JSON as is; plain text as {"answer": "…"}). The tool run is aborted.',
  'call.hangup': 'End the call cleanly (`call.ended` reason `operator`).',
};

/** Examples shown with the messages; the test checks each against its payload schema. */
const EXAMPLES: Record<string, unknown> = {
  'fromTwilio.start': {
    event: 'start',
    sequenceNumber: '1',
    streamSid: 'MZ0123456789abcdef0123456789abcdef',
    start: {
      streamSid: 'MZ0123456789abcdef0123456789abcdef',
      accountSid: 'AC0123456789abcdef0123456789abcdef',
      callSid: 'CA0123456789abcdef0123456789abcdef',
      tracks: ['inbound'],
      customParameters: { streamToken: 'one-time-token-from-the-twiml' },
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    },
  },
  'fromTwilio.media': {
    event: 'media',
    sequenceNumber: '2',
    streamSid: 'MZ0123456789abcdef0123456789abcdef',
    media: { track: 'inbound', chunk: '1', timestamp: '20', payload: '/////w==' },
  },
  'toTwilio.mark': { event: 'mark', streamSid: 'MZ0123456789abcdef0123456789abcdef', mark: { name: '1.14:item_Cx3fP0aQ2w8eVbN1kLmZr:1200' } },
  'toTwilio.clear': { event: 'clear', streamSid: 'MZ0123456789abcdef0123456789abcdef' },
  'transcript.done': {
    v: 1,
    type: 'transcript.done',
    callSid: 'CA0123456789abcdef0123456789abcdef',
    ts: '2026-11-25T12:00:00.000Z',
    role: 'user',
    itemId: 'item_Cx3fP0aQ2w8eVbN1kLmZr',
    text: 'What is the weather in Paris?',
  },
  barge_in: {
    v: 1,
    type: 'barge_in',
    callSid: 'CA0123456789abcdef0123456789abcdef',
    ts: '2026-11-25T12:00:03.000Z',
    itemId: 'item_Dq4gQ1bR3x9fWcO2lMnAs',
    audioEndMs: 2050,
    sentMs: 4400,
    items: 1,
    cuts: [{ itemId: 'item_Dq4gQ1bR3x9fWcO2lMnAs', audioEndMs: 2050, sentMs: 4400 }],
  },
  subscribe: { type: 'subscribe', id: 'watch-1', callSid: 'CA0123456789abcdef0123456789abcdef' },
  'config.update': { type: 'config.update', id: 'cfg-1', config: { voice: 'marin', turnDetection: { type: 'server_vad', threshold: 0.6 } } },
  'function_call.answer': {
    type: 'function_call.answer',
    callSid: 'CA0123456789abcdef0123456789abcdef',
    callId: 'call_Tq8bQ2n9sXw1aZ0pLkJ3d',
    output: 'Yes, transfer them.',
  },
};

/** Fields shown first, in this order (the generator sorts intersections' fields its own way). */
const LEADING = ['v', 'type', 'event', 'callSid', 'ts', 'id', 'command', 'streamSid'];

export function buildAsyncApiDocument(root = repoRoot(__dirname)): Schema {
  const generator = createGenerator({
    path: join(root, `{${FILES.map((f) => f.replace(/\.ts$/, '')).join(',')}}.ts`),
    tsconfig: join(root, 'tsconfig.json'),
    skipTypeCheck: true,
    expose: 'export',
    topRef: false,
    jsDoc: 'extended',
    sortProps: false,
    encodeRefs: false,
  });
  const schemas: Record<string, Schema> = {};
  const messages: Record<string, Schema> = {};
  const channelOf: Record<string, string[]> = {};
  for (const source of SOURCES) {
    const schema = generator.createSchema(source.type) as Schema;
    const definitions: Record<string, Schema> = schema.definitions ?? {};
    delete schema.definitions;
    delete schema.$schema;
    // Twilio may add fields to its messages; the parser ignores what it does not read.
    if (source.open) walk([schema, ...Object.values(definitions)], (node) => node.additionalProperties === false && delete node.additionalProperties);
    const byName = new Map<string, Schema[]>();
    for (const variant of variants(schema, definitions)) {
      const resolved = variant.$ref ? definitions[refName(variant.$ref)] : variant;
      const name = resolved.properties?.[source.field]?.const;
      if (typeof name !== 'string') throw new Error(`${source.type}: a member without a constant "${source.field}"`);
      byName.set(name, [...(byName.get(name) ?? []), variant]);
    }
    for (const [name, payloads] of byName) {
      const key = source.key(name);
      if (messages[key]) throw new Error(`two messages named ${key}`);
      const summary = SUMMARIES[key];
      if (!summary) throw new Error(`message ${key} (${source.type}) has no summary: add one to SUMMARIES in scripts/asyncapi-document.ts`);
      messages[key] = {
        name,
        title: name,
        summary,
        contentType: 'application/json',
        payload: payloads.length === 1 ? payloads[0] : { anyOf: payloads },
        ...(EXAMPLES[key] !== undefined && { examples: [{ name: 'example', payload: EXAMPLES[key] }] }),
      };
      (channelOf[source.type] ??= []).push(key);
    }
    for (const [name, definition] of Object.entries(definitions)) {
      if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`schema name ${name} is not allowed in AsyncAPI components`);
      if (schemas[name] && JSON.stringify(schemas[name]) !== JSON.stringify(definition)) throw new Error(`two different schemas named ${name}`);
      schemas[name] = definition;
    }
  }
  for (const key of Object.keys(SUMMARIES)) if (!messages[key]) throw new Error(`SUMMARIES names ${key}, which is no message any more`);
  for (const key of Object.keys(EXAMPLES)) if (!messages[key]) throw new Error(`EXAMPLES names ${key}, which is no message any more`);

  walk([messages, schemas], (node) => {
    if (typeof node.$ref === 'string') node.$ref = node.$ref.replace('#/definitions/', '#/components/schemas/');
    if (node.properties && typeof node.properties === 'object') node.properties = leading(node.properties);
  });
  const used = referenced(messages, schemas);
  const channelRefs = (channel: string, keys: string[]) => keys.map((key) => ({ $ref: `#/channels/${channel}/messages/${key}` }));
  const twilioIn = channelOf.TwilioInbound;
  const twilioOut = channelOf.TwilioOutbound;
  const dashboardOut = channelOf.DashboardServerMessage;
  const commands = channelOf.DashboardCommandMessage;
  const replies = ['command.ok', 'command.error', 'snapshot'];
  const events = dashboardOut.filter((key) => !replies.includes(key));
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Voice agent backend: WebSockets',
      version,
      description: INFO,
      license: { name: 'MIT' },
    },
    defaultContentType: 'application/json',
    servers: {
      public: {
        host: '{publicHost}',
        protocol: 'wss',
        description: "PUBLIC_URL's host: what Twilio (and a remote dashboard) connects to.",
        variables: { publicHost: { description: 'The host of PUBLIC_URL, e.g. your tunnel', default: 'example.ngrok.app' } },
      },
      local: { host: 'localhost:8081', protocol: 'ws', description: 'A server on this machine (PORT, default 8081).' },
    },
    channels: {
      twilioMediaStream: {
        address: '/ws/call',
        title: 'Twilio Media Streams (bidirectional)',
        description: CALL_CHANNEL,
        messages: Object.fromEntries([...twilioIn, ...twilioOut].map((key) => [key, { $ref: `#/components/messages/${key}` }])),
        bindings: {
          ws: {
            method: 'GET',
            headers: {
              type: 'object',
              properties: { 'X-Twilio-Signature': { type: 'string', description: 'HMAC-SHA1 over the wss:// stream URL, made with TWILIO_AUTH_TOKEN' } },
            },
            bindingVersion: '0.1.0',
          },
        },
      },
      dashboard: {
        address: '/ws/logs',
        title: 'The dashboard socket',
        description: DASHBOARD_CHANNEL,
        messages: Object.fromEntries([...dashboardOut, ...commands].map((key) => [key, { $ref: `#/components/messages/${key}` }])),
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              properties: {
                token: {
                  type: 'string',
                  description: 'The dashboard token, for browsers (which cannot set headers on an upgrade); or send Authorization: Bearer',
                },
                callSid: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'Watch only this call (an invalid value: close 1008)' },
              },
            },
            bindingVersion: '0.1.0',
          },
        },
      },
    },
    operations: {
      receiveTwilioMessages: {
        action: 'receive',
        channel: { $ref: '#/channels/twilioMediaStream' },
        title: "Twilio's messages",
        summary: "Twilio streams the caller's audio and echoes our marks.",
        security: [{ $ref: '#/components/securitySchemes/twilioSignature' }],
        messages: channelRefs('twilioMediaStream', twilioIn),
      },
      sendToTwilio: {
        action: 'send',
        channel: { $ref: '#/channels/twilioMediaStream' },
        title: 'Audio for the caller',
        summary: "The assistant's audio with marks, and clear on barge-in.",
        messages: channelRefs('twilioMediaStream', twilioOut),
      },
      sendDashboardEvents: {
        action: 'send',
        channel: { $ref: '#/channels/dashboard' },
        title: 'Call events',
        summary: 'A snapshot on connecting, then every event of the watched calls, never one per audio frame.',
        security: DASHBOARD_SECURITY,
        messages: channelRefs('dashboard', ['snapshot', ...events]),
      },
      receiveDashboardCommands: {
        action: 'receive',
        channel: { $ref: '#/channels/dashboard' },
        title: 'Operator commands',
        summary: 'Validated one by one; anything unknown or malformed gets command.error and is never forwarded to OpenAI.',
        security: DASHBOARD_SECURITY,
        messages: channelRefs('dashboard', commands),
        reply: { channel: { $ref: '#/channels/dashboard' }, messages: channelRefs('dashboard', replies) },
      },
    },
    components: {
      schemas: Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name))),
      messages,
      securitySchemes: {
        twilioSignature: {
          type: 'httpApiKey',
          name: 'X-Twilio-Signature',
          in: 'header',
          description:
            "Twilio signs the upgrade with the account's auth token (TWILIO_AUTH_TOKEN) over the wss:// URL; then `start` must carry the one-time streamToken that /twiml put in the TwiML, for a call answered within PREDIAL_TIMEOUT_MS. Refused: HTTP 403 before the upgrade, or close 1008.",
        },
        dashboardToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            'The dashboard token, a shared secret (not a JWT): DASHBOARD_TOKEN, or the one the server printed at start. Refused: HTTP 401 before the upgrade.',
        },
        dashboardTokenQuery: { type: 'httpApiKey', name: 'token', in: 'query', description: 'The same token as ?token=, for browsers.' },
      },
    },
  };
}

const DASHBOARD_SECURITY = [{ $ref: '#/components/securitySchemes/dashboardToken' }, { $ref: '#/components/securitySchemes/dashboardTokenQuery' }];

const INFO = `The two WebSocket endpoints of the voice agent backend. The HTTP API is described by the OpenAPI document at /docs-json (Swagger UI at /docs); this document is served at /docs/asyncapi.json, behind the same access rule (open in development; the dashboard token in production).

Every message is one JSON text frame. The schemas are generated from the TypeScript types the server builds and parses its messages with (npm run docs:asyncapi), and the tests check a real call's traffic against them.`;

const CALL_CHANNEL = `Twilio connects here after the TwiML that POST /twiml answered (<Connect><Stream url="wss://{PUBLIC_URL host}/ws/call">); also at /call. One socket per call, audio both ways in real time.

- Frames over 64 KiB close the socket with 1009; invalid frames are dropped and counted, and the 100th closes it with 1008; no \`start\` within STREAM_START_TIMEOUT_MS: 1008.
- Close codes from the server: 1000 (the call ended), 1008 (protocol error or a missing/invalid stream token), 1011 (the voice model is unavailable: Twilio then asks /twiml/stream-ended, which plays the apology), 1013 (try again later).
- A socket that cannot keep up (more than 1 MiB queued) ends its call with reason \`backpressure\`.`;

const DASHBOARD_CHANNEL = `The operator's socket (also at /logs): call events out, commands in. Every server message is \`{ v: 1, type, callSid, ts, … }\`: \`v\` changes only if a field is renamed or removed (new fields may appear: ignore what you do not know); \`callSid\` is the call the message is about, or null.

- On connecting a client gets a \`snapshot\`, then live events with nothing lost or repeated in between; \`?callSid=\` or \`subscribe\` narrows it to one call.
- Commands are JSON text frames of at most 64 KiB (larger: close 1009); binary frames get \`command.error\`.
- A dashboard with more than 1 MiB queued (plus its snapshot) is closed with 4008 "too slow" and gets nothing more; calls never wait for it. 1008: invalid \`?callSid=\`. 1001: the server is shutting down.`;

/** The members of a union, through named unions (DashboardCallEvent is one), kept as $refs where they are named objects. */
function variants(schema: Schema, definitions: Record<string, Schema>): Schema[] {
  if (schema.anyOf) return (schema.anyOf as Schema[]).flatMap((member) => variants(member, definitions));
  if (schema.$ref) {
    const target = definitions[refName(schema.$ref)];
    if (target?.anyOf) return variants(target, definitions);
  }
  return [schema];
}

function refName(ref: string): string {
  return ref.replace(/^#\/definitions\//, '');
}

/** Visits every object node under `roots`. */
function walk(roots: unknown[], visit: (node: Schema) => unknown): void {
  const stack = [...roots];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) stack.push(...node);
    else if (node && typeof node === 'object') {
      visit(node);
      stack.push(...Object.values(node));
    }
  }
}

function leading(properties: Schema): Schema {
  const first = LEADING.filter((name) => name in properties);
  return Object.fromEntries([...first, ...Object.keys(properties).filter((name) => !first.includes(name))].map((name) => [name, properties[name]]));
}

/** Component schemas reachable from the messages. */
function referenced(messages: Schema, schemas: Record<string, Schema>): Set<string> {
  const used = new Set<string>();
  const queue: unknown[] = [messages];
  while (queue.length > 0) {
    const roots = [queue.pop()];
    walk(roots, (node) => {
      const match = typeof node.$ref === 'string' && /^#\/components\/schemas\/(.+)$/.exec(node.$ref);
      if (match && !used.has(match[1])) {
        used.add(match[1]);
        queue.push(schemas[match[1]]);
      }
    });
  }
  return used;
}
