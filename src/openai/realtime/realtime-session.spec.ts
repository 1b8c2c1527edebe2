// The Realtime session against the emulator over a real socket: after a barge-in it asks the
// service for what is left of the cut answer (conversation.item.retrieve), but not when that
// answer — whose kept audio comes back with it — would not fit in one frame: the refused frame
// would cost the call a reconnect, while the replay's own estimate of what was heard is enough.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeRealtimeServer, type FakeRealtimeConnection } from '../../../emulator/fake-realtime-server';
import { recordingListener } from '../../../test/support/fake-voice-session';
import { loadAppConfig } from '../../config/app-config';
import { SessionConfigService } from '../session-config.service';
import { RealtimeSession, RETRIEVE_MAX_HEARD_MS } from './realtime-session';

const API_KEY = 'sk-test-0123456789abcdef';
const servers: FakeRealtimeServer[] = [];
const sessions: RealtimeSession[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) s.close();
  for (const s of servers.splice(0)) await s.close();
});

async function openSession(): Promise<{ session: RealtimeSession; model: FakeRealtimeConnection; calls: [string, ...unknown[]][] }> {
  const server = await FakeRealtimeServer.start();
  servers.push(server);
  const config = loadAppConfig({ NODE_ENV: 'test', OPENAI_API_KEY: API_KEY, OPENAI_REALTIME_URL: server.url });
  const session = new RealtimeSession({ callSid: 'CA1', settings: new SessionConfigService(config).current, tools: [] }, config, {
    url: server.url,
    apiKey: API_KEY,
    handshakeTimeoutMs: 5000,
  });
  sessions.push(session);
  const { listener, calls } = recordingListener();
  session.attach(listener);
  await vi.waitFor(() => expect(session.ready).toBe(true), { timeout: 5000 });
  return { session, model: await server.waitForConnection(0), calls };
}

/** An answer of `ms` of μ-law audio, streamed at once, and done. */
async function answer(model: FakeRealtimeConnection, calls: [string, ...unknown[]][], ms: number, transcript: string): Promise<string> {
  const audio = Buffer.alloc(ms * 8, 0xff);
  const parts: Buffer[] = [];
  for (let at = 0; at < audio.length; at += 8000) parts.push(audio.subarray(at, at + 8000));
  const done = calls.filter(([name]) => name === 'responseDone').length;
  const { itemId } = await model.audioResponse({ chunks: parts, transcript });
  await vi.waitFor(() => expect(calls.filter(([name]) => name === 'responseDone').length).toBe(done + 1), { timeout: 10_000 });
  return itemId;
}

describe('RealtimeSession: what is left of a cut answer', () => {
  it('asks for it up to the bound and gets it in one frame; past the bound it does not ask, and the session stays open', async () => {
    const { session, model, calls } = await openSession();
    expect(RETRIEVE_MAX_HEARD_MS).toBeGreaterThan(60_000);

    // At the bound: the item comes back (kept audio included) within the frame limit.
    const atBound = await answer(model, calls, RETRIEVE_MAX_HEARD_MS + 1000, 'one two three four five six seven eight nine ten');
    session.truncate(atBound, RETRIEVE_MAX_HEARD_MS);
    await model.waitFor('conversation.item.retrieve', (e) => e.item_id === atBound);
    await vi.waitFor(() => expect(calls.some(([name, id]) => name === 'heard' && id === atBound)).toBe(true), { timeout: 5000 });

    // 110 s heard: 1.17 MB of base64 audio would come back, over the 1 MB frame limit. Truncated, not asked back.
    const long = await answer(model, calls, 110_000, 'a very long answer');
    session.truncate(long, 110_000);
    await model.waitFor('conversation.item.truncate', (e) => e.item_id === long);
    // A short cut afterwards is asked back as usual: by then the long one's retrieve would have arrived.
    const short = await answer(model, calls, 2000, 'short answer here');
    session.truncate(short, 1000);
    await model.waitFor('conversation.item.retrieve', (e) => e.item_id === short);
    await vi.waitFor(() => expect(calls.some(([name, id]) => name === 'heard' && id === short)).toBe(true), { timeout: 5000 });

    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(calls.filter(([name]) => name === 'closed' || name === 'error' || name === 'fault')).toEqual([]);
    expect(session.closed).toBe(false);
    const retrieved = model.received.filter((e) => e.type === 'conversation.item.retrieve').map((e) => (e as { item_id: string }).item_id);
    expect(retrieved).toEqual([atBound, short]);
  });
});
