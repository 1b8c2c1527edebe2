import { describe, vi } from 'vitest';
import type { AgentTool } from '../src/tools/agent-tool';
import { expect, it } from './support/fixture';
import { LogsClient } from './support/logs-client';
import { scrape, scrapeUntil, valueOf, type Scrape } from './support/metrics-client';
import { chunks, testAudio } from './support/test-app';

const echoTool: AgentTool = {
  name: 'echo',
  description: 'Returns its arguments.',
  parameters: { type: 'object', properties: { text: { type: 'string' } } },
  run: async (args) => args,
};

/** Every series docs/observability.md documents, with its Prometheus type. */
const SERIES: [string, string][] = [
  ['voice_agent_active_calls', 'gauge'],
  ['voice_agent_reserved_calls', 'gauge'],
  ['voice_agent_call_capacity', 'gauge'],
  ['voice_agent_calls_started_total', 'counter'],
  ['voice_agent_calls_total', 'counter'],
  ['voice_agent_call_duration_seconds', 'histogram'],
  ['voice_agent_media_frames_total', 'counter'],
  ['voice_agent_dropped_frames_total', 'counter'],
  ['voice_agent_barge_ins_total', 'counter'],
  ['voice_agent_function_calls_total', 'counter'],
  ['voice_agent_function_call_duration_seconds', 'histogram'],
  ['voice_agent_model_connect_seconds', 'histogram'],
  ['voice_agent_model_status_total', 'counter'],
  ['voice_agent_model_reconnects_total', 'counter'],
  ['voice_agent_model_reconnect_seconds', 'histogram'],
  ['voice_agent_first_audio_seconds', 'histogram'],
  ['voice_agent_dashboard_clients', 'gauge'],
  ['voice_agent_errors_total', 'counter'],
  // prom-client's default metrics: process and runtime, event-loop lag included.
  ['process_cpu_seconds_total', 'counter'],
  ['process_resident_memory_bytes', 'gauge'],
  ['nodejs_eventloop_lag_seconds', 'gauge'],
  ['nodejs_eventloop_lag_p99_seconds', 'gauge'],
  ['nodejs_heap_size_used_bytes', 'gauge'],
];

const framesIn = (s: Scrape) => valueOf(s, 'voice_agent_media_frames_total', { direction: 'in' });
const framesOut = (s: Scrape) => valueOf(s, 'voice_agent_media_frames_total', { direction: 'out' });
const dropped = (s: Scrape, reason: string) => valueOf(s, 'voice_agent_dropped_frames_total', { reason });

describe('GET /metrics', () => {
  it('exposes the named series, and they move with a call: audio both ways, a bad frame, a barge-in, function calls, hang-up', async ({
    startApp,
    placeCall,
  }) => {
    const app = await startApp({ MAX_CONCURRENT_CALLS: '7' }, [echoTool]);

    const before = await scrape(app);
    for (const [name, type] of SERIES) expect(before.types.get(name), name).toBe(type);
    expect(valueOf(before, 'voice_agent_active_calls')).toBe(0);
    expect(valueOf(before, 'voice_agent_call_capacity')).toBe(7);
    expect(framesIn(before)).toBe(0);
    expect(valueOf(before, 'voice_agent_model_reconnects_total', { result: 'started' })).toBe(0);
    expect(valueOf(before, 'voice_agent_dashboard_clients')).toBe(0);

    const dashboard = await LogsClient.connect(app);
    await scrapeUntil(app, (s) => expect(valueOf(s, 'voice_agent_dashboard_clients')).toBe(1));

    // A call: live, connected, its model handshake timed.
    const { call, model } = await placeCall(app);
    await dashboard.waitFor('model.status', (e) => e.status === 'connected');
    let now = await scrapeUntil(app, (s) => expect(valueOf(s, 'voice_agent_active_calls')).toBe(1));
    expect(valueOf(now, 'voice_agent_calls_started_total')).toBe(1);
    expect(valueOf(now, 'voice_agent_model_status_total', { status: 'connecting' })).toBe(1);
    expect(valueOf(now, 'voice_agent_model_status_total', { status: 'connected' })).toBe(1);
    expect(valueOf(now, 'voice_agent_model_connect_seconds_count')).toBe(1);

    // Caller audio: 10 frames in, counted from the live session; one invalid frame dropped.
    await call.sendAudio(testAudio(1600, 1), { paced: false });
    await model.waitForAppendedBytes(1600);
    call.sendRaw('this is not JSON');
    now = await scrapeUntil(app, (s) => expect(dropped(s, 'invalid_twilio_frame')).toBe(1));
    expect(framesIn(now)).toBe(10);

    // The assistant answers (6 s of audio, sent twice as fast as it plays); the caller interrupts while it
    // is still being sent; the 2 late deltas that follow are dropped.
    const response = model.audioResponse({ chunks: chunks(testAudio(48000, 2), 1600), paceMs: 100, lateDeltas: 2 });
    await vi.waitFor(() => expect(call.receivedAudio().length).toBeGreaterThanOrEqual(3200), { timeout: 5000, interval: 5 });
    model.speechStarted();
    await call.waitFor('clear');
    await response;
    now = await scrapeUntil(app, (s) => expect(dropped(s, 'late_model_audio')).toBe(2));
    expect(valueOf(now, 'voice_agent_barge_ins_total')).toBe(1);
    const sentFrames = call.receivedAudio().length / 160; // 20 ms frames of mu-law, whatever the chunk size
    expect(framesOut(now)).toBe(sentFrames);

    // Two function calls in one response: a known tool that works, and a name the model made up.
    model.functionCallResponse([
      { name: 'echo', arguments: '{"text":"hi"}' },
      { name: 'made_up_tool', arguments: '{}' },
    ]);
    await model.waitFor('response.create');
    now = await scrape(app);
    expect(valueOf(now, 'voice_agent_function_calls_total', { tool: 'echo', outcome: 'success' })).toBe(1);
    expect(valueOf(now, 'voice_agent_function_calls_total', { tool: 'unknown', outcome: 'error' })).toBe(1);
    expect(now.samples.some((s) => s.labels.tool === 'made_up_tool')).toBe(false); // the model cannot add label values
    expect(valueOf(now, 'voice_agent_function_call_duration_seconds_count', { tool: 'echo' })).toBe(1);

    model.error({ code: 'some_error', message: 'Something was wrong' });
    await scrapeUntil(app, (s) => expect(valueOf(s, 'voice_agent_errors_total', { source: 'model' })).toBe(1));

    // Hang up: the outcome is counted, first audio and duration observed, frame totals unchanged by the end.
    call.sendStop();
    await call.waitForClose();
    now = await scrapeUntil(app, (s) => expect(valueOf(s, 'voice_agent_calls_total', { outcome: 'caller-hung-up' })).toBe(1));
    expect(valueOf(now, 'voice_agent_active_calls')).toBe(0);
    expect(valueOf(now, 'voice_agent_call_duration_seconds_count')).toBe(1);
    expect(valueOf(now, 'voice_agent_first_audio_seconds_count')).toBe(1);
    expect(valueOf(now, 'voice_agent_first_audio_seconds_sum')).toBeGreaterThan(0);
    expect(framesIn(now)).toBe(10);
    expect(framesOut(now)).toBe(sentFrames);
    expect(dropped(now, 'invalid_twilio_frame')).toBe(1);
    expect(dropped(now, 'late_model_audio')).toBe(2);

    dashboard.close();
    await scrapeUntil(app, (s) => expect(valueOf(s, 'voice_agent_dashboard_clients')).toBe(0));
  });

  it('counts a reconnection mid-call: started, succeeded, its duration, and caller audio beyond the reconnect buffer', async ({
    realtime: fake,
    startApp,
    placeCall,
  }) => {
    const app = await startApp({ RECONNECT_AUDIO_BUFFER_MS: '100' }); // holds 5 frames
    const dashboard = await LogsClient.connect(app);
    const { call, model } = await placeCall(app);
    await dashboard.waitFor('model.status', (e) => e.status === 'connected');

    fake.refuseNext(1, 503); // the first retry fails: a real gap
    model.drop();
    await dashboard.waitFor('model.status', (e) => e.status === 'reconnecting');
    for (const frame of chunks(testAudio(160 * 10, 3), 160)) call.sendMedia(frame);
    const restored = await dashboard.waitFor('model.status', (e) => e.status === 'connected' && e.reconnectMs !== undefined);
    expect(restored.droppedFrames).toBe(5);

    const now = await scrapeUntil(app, (s) => expect(valueOf(s, 'voice_agent_model_reconnects_total', { result: 'succeeded' })).toBe(1));
    expect(valueOf(now, 'voice_agent_model_reconnects_total', { result: 'started' })).toBe(1); // one loss, however many attempts
    expect(valueOf(now, 'voice_agent_model_reconnects_total', { result: 'failed' })).toBe(0);
    expect(valueOf(now, 'voice_agent_model_status_total', { status: 'reconnecting' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(now, 'voice_agent_model_reconnect_seconds_count')).toBe(1);
    expect(valueOf(now, 'voice_agent_model_reconnect_seconds_sum')).toBeCloseTo(restored.reconnectMs / 1000, 3);
    expect(dropped(now, 'reconnect_buffer_full')).toBe(5);
    expect(valueOf(now, 'voice_agent_active_calls')).toBe(1);
    call.sendStop();
    await call.waitForClose();
    dashboard.close();
  });

  it('counts a call whose model connection fails, by outcome and status', async ({ startRealtime, startApp, placeCall }) => {
    const refusing = await startRealtime({ requireApiKey: 'sk-some-other-key-0000' });
    const app = await startApp({ OPENAI_REALTIME_URL: refusing.url });
    const { call } = await placeCall(app, { realtime: refusing, withModel: false });
    expect((await call.waitForClose()).code).toBe(1011);
    const now = await scrapeUntil(app, (s) => expect(valueOf(s, 'voice_agent_calls_total', { outcome: 'model-unavailable' })).toBe(1));
    expect(valueOf(now, 'voice_agent_model_status_total', { status: 'failed' })).toBe(1);
    expect(valueOf(now, 'voice_agent_model_connect_seconds_count')).toBe(0);
    expect(valueOf(now, 'voice_agent_first_audio_seconds_count')).toBe(0);
  });

  it('without METRICS_TOKEN, requires the dashboard token (generated at start), even from loopback', async ({ startApp }) => {
    const app = await startApp();
    // Behind a local tunnel or proxy every scrape comes from loopback: that proves nothing.
    for (const headers of [{}, { 'x-forwarded-for': '203.0.113.9' }, { authorization: 'Bearer not-the-token-0123' }]) {
      const refused = await fetch(`${app.httpUrl}/metrics`, { headers });
      expect(refused.status, JSON.stringify(headers)).toBe(401);
      expect(await refused.text()).toMatch(/the dashboard token \(METRICS_TOKEN is not set\)/);
    }
    const res = await fetch(`${app.httpUrl}/metrics`, { headers: { authorization: `Bearer ${app.config.dashboardToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toContain('voice_agent_');
  });

  it('requires the Bearer METRICS_TOKEN when set: none, wrong, right', async ({ startApp }) => {
    const token = 'metrics-token-0123456789abcdef';
    const app = await startApp({ METRICS_TOKEN: token });
    const none = await fetch(`${app.httpUrl}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await none.text()).not.toContain('voice_agent_');
    for (const wrong of [`Bearer ${token.slice(0, -1)}x`, `Bearer ${token}0`, 'Bearer x', `Basic ${token}`, token]) {
      expect((await fetch(`${app.httpUrl}/metrics`, { headers: { authorization: wrong } })).status, wrong).toBe(401);
    }
    const right = await fetch(`${app.httpUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(right.status).toBe(200);
    expect(await right.text()).toContain('# TYPE voice_agent_active_calls gauge');
    // With the token, where the scrape comes from does not matter.
    const proxied = await fetch(`${app.httpUrl}/metrics`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '203.0.113.9' } });
    expect(proxied.status).toBe(200);
  });
});
