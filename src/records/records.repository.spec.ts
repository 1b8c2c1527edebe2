import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, TEST_DATABASES, type TestDatabase } from '../../test/support/records-db';
import { eq } from 'drizzle-orm';
import { RecordsRepository, type CallRow, type RecordWrite } from './records.repository';
import { webhookOutbox } from './records.schema';

const T0 = Date.parse('2026-11-20T10:00:00.000Z');
let sidCounter = 0;
const sid = () => `CA${(++sidCounter).toString(16).padStart(8, '0')}${Date.now().toString(16).padStart(24, '0')}`;

function callRow(callSid: string, startedAtMs: number, fields: Partial<CallRow> = {}): CallRow {
  return {
    callSid,
    streamSid: `MZ${callSid.slice(2)}`,
    direction: 'inbound',
    fromNumber: '+15551230000',
    toNumber: '+15559870000',
    startedAt: new Date(startedAtMs),
    engine: 'realtime',
    model: 'gpt-realtime-2.1',
    voice: 'marin',
    instanceId: 'test',
    ...fields,
  };
}

/** A whole call's writes, as CallRecorder queues them. */
function callWrites(callSid: string, startedAtMs: number, opts: { text?: string; ended?: Partial<CallRow> } = {}): RecordWrite[] {
  const at = (ms: number) => new Date(startedAtMs + ms);
  return [
    { kind: 'call', row: callRow(callSid, startedAtMs) },
    { kind: 'event', row: { callSid, seq: 0, at: at(0), offsetMs: 0, type: 'call.started', data: { engine: 'realtime' } } },
    { kind: 'transcript', row: { callSid, itemId: 'item_user', role: 'user', text: opts.text ?? 'What is the weather in Paris?', startMs: 900, endMs: 1500 } },
    { kind: 'tool', row: { callSid, toolCallId: 'call_1', name: 'get_weather', arguments: '{}', outcome: 'running', startMs: 1600 } },
    {
      kind: 'tool',
      row: {
        callSid,
        toolCallId: 'call_1',
        name: 'get_weather',
        arguments: '{}',
        outcome: 'success',
        output: '{"c":7}',
        durationMs: 40,
        answeredBy: 'tool',
        startMs: 1600,
      },
    },
    { kind: 'transcript', row: { callSid, itemId: 'item_bot', role: 'assistant', text: 'It is seven degrees.', startMs: 2000, endMs: 2600 } },
    { kind: 'event', row: { callSid, seq: 1, at: at(2700), offsetMs: 2700, type: 'barge_in', data: { itemId: 'item_bot', audioEndMs: 480 } } },
    // A barge-in after the transcript was done: the same row again, now with the cut.
    {
      kind: 'transcript',
      row: { callSid, itemId: 'item_bot', role: 'assistant', text: 'It is seven degrees.', startMs: 2000, endMs: 2600, interruptedAtMs: 480 },
    },
    { kind: 'event', row: { callSid, seq: 2, at: at(3000), offsetMs: 3000, type: 'usage', data: { totalTokens: 10 } } },
    {
      kind: 'call',
      row: callRow(callSid, startedAtMs, {
        endedAt: at(65_000),
        durationMs: 65_000,
        endReason: 'caller-hung-up',
        firstAudioMs: 800,
        bargeIns: 1,
        costUsd: 0.25,
        ...opts.ended,
      }),
    },
    { kind: 'event', row: { callSid, seq: 3, at: at(65_000), offsetMs: 65_000, type: 'call.ended', data: { reason: 'caller-hung-up' } } },
  ];
}

describe.each(TEST_DATABASES)('call records storage (%s)', (kind) => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await openTestDatabase(kind);
  }, 30_000);
  afterAll(() => test?.cleanup());
  const db = () => test.database.db;

  it('applies a call written in one batch: merged rows, transcript with the cut, tool call, events in order', async () => {
    const callSid = sid();
    await RecordsRepository.applyBatch(db(), callWrites(callSid, T0));
    const record = await RecordsRepository.getCall(db(), callSid);
    expect(record).toMatchObject({
      callSid,
      from: '+15551230000',
      endReason: 'caller-hung-up',
      durationMs: 65_000,
      firstAudioMs: 800,
      bargeIns: 1,
      costUsd: 0.25,
      startedAt: new Date(T0).toISOString(),
    });
    expect(record!.transcript).toEqual([
      { itemId: 'item_user', role: 'user', text: 'What is the weather in Paris?', startMs: 900, endMs: 1500, interruptedAtMs: null },
      { itemId: 'item_bot', role: 'assistant', text: 'It is seven degrees.', startMs: 2000, endMs: 2600, interruptedAtMs: 480 },
    ]);
    expect(record!.toolCalls).toEqual([
      {
        callId: 'call_1',
        name: 'get_weather',
        arguments: '{}',
        output: '{"c":7}',
        outcome: 'success',
        error: null,
        durationMs: 40,
        answeredBy: 'tool',
        startMs: 1600,
      },
    ]);
    expect(record!.timeline.map((e) => e.type)).toEqual(['call.started', 'barge_in', 'call.ended']); // usage is summed, not in the timeline
    expect((await RecordsRepository.events(db(), callSid)).map((e) => e.type)).toEqual(['call.started', 'barge_in', 'usage', 'call.ended']);
  });

  it('writes spread over batches upsert the same rows (the last write wins)', async () => {
    const callSid = sid();
    for (const write of callWrites(callSid, T0)) await RecordsRepository.applyBatch(db(), [write]);
    const record = await RecordsRepository.getCall(db(), callSid);
    expect(record!.transcript).toHaveLength(2);
    expect(record!.toolCalls).toHaveLength(1);
    expect(record!.transcript[1].interruptedAtMs).toBe(480);
    expect(record!.endReason).toBe('caller-hung-up');
  });

  it('lists newest first with filters, text search and a cursor', async () => {
    const base = Date.parse('2030-01-05T00:00:00Z'); // apart from the other tests' calls
    const sids = [sid(), sid(), sid()];
    await RecordsRepository.applyBatch(db(), [
      ...callWrites(sids[0], base, { text: 'I would like to book a table for two' }),
      ...callWrites(sids[1], base + 60_000, { text: 'Is it raining in Lyon?', ended: { endReason: 'model-unavailable', durationMs: 5000 } }),
      ...callWrites(sids[2], base + 120_000, { text: 'Cancel my booking please' }),
    ]);
    const range = { from: new Date(base), to: new Date(base + 3_600_000) };
    const all = await RecordsRepository.listCalls(db(), { ...range, limit: 10 });
    expect(all.map((c) => c.callSid)).toEqual([sids[2], sids[1], sids[0]]);
    const page1 = await RecordsRepository.listCalls(db(), { ...range, limit: 2 });
    const last = page1.at(-1)!;
    const page2 = await RecordsRepository.listCalls(db(), { ...range, limit: 2, cursor: { startedAt: new Date(last.startedAt), callSid: last.callSid } });
    expect([...page1, ...page2].map((c) => c.callSid)).toEqual([sids[2], sids[1], sids[0]]);
    // Full-text: "booking" matches "book" and "booking" (English stemming).
    expect((await RecordsRepository.listCalls(db(), { ...range, q: 'booking', limit: 10 })).map((c) => c.callSid)).toEqual([sids[2], sids[0]]);
    expect((await RecordsRepository.listCalls(db(), { ...range, q: 'rain Lyon', limit: 10 })).map((c) => c.callSid)).toEqual([sids[1]]);
    expect((await RecordsRepository.listCalls(db(), { ...range, endReason: 'model-unavailable', limit: 10 })).map((c) => c.callSid)).toEqual([sids[1]]);
    expect((await RecordsRepository.listCalls(db(), { ...range, minDurationS: 60, limit: 10 })).map((c) => c.callSid)).toEqual([sids[2], sids[0]]);
    expect(await RecordsRepository.listCalls(db(), { ...range, number: '555123', limit: 10 })).toHaveLength(3);
    expect(await RecordsRepository.listCalls(db(), { ...range, number: '%', limit: 10 })).toHaveLength(0); // LIKE wildcards are literal
    expect(await RecordsRepository.listCalls(db(), { ...range, direction: 'outbound-api', limit: 10 })).toHaveLength(0);
  });

  it('filters by engine and direction: the matching calls, and none when nothing matches', async () => {
    const base = Date.parse('2030-02-10T00:00:00Z'); // apart from the other tests' calls
    const [inboundRealtime, outboundLive, inboundLive] = [sid(), sid(), sid()];
    await RecordsRepository.applyBatch(db(), [
      ...callWrites(inboundRealtime, base),
      ...callWrites(outboundLive, base + 60_000, { ended: { engine: 'live', model: 'gpt-live-1.1', direction: 'outbound-api' } }),
      ...callWrites(inboundLive, base + 120_000, { ended: { engine: 'live', model: 'gpt-live-1.1' } }),
    ]);
    const list = async (filter: { engine?: string; direction?: string }) =>
      (await RecordsRepository.listCalls(db(), { from: new Date(base), to: new Date(base + 3_600_000), limit: 10, ...filter })).map((c) => c.callSid);
    expect(await list({ engine: 'live' })).toEqual([inboundLive, outboundLive]);
    expect(await list({ engine: 'realtime' })).toEqual([inboundRealtime]);
    expect(await list({ direction: 'outbound-api' })).toEqual([outboundLive]);
    expect(await list({ direction: 'inbound' })).toEqual([inboundLive, inboundRealtime]);
    expect(await list({ engine: 'live', direction: 'inbound' })).toEqual([inboundLive]);
    expect(await list({ engine: 'realtime', direction: 'outbound-api' })).toEqual([]);
  });

  it('sums stats per day: calls, minutes, cost, first audio, barge-ins, failures by reason', async () => {
    const day1 = Date.parse('2031-03-01T08:00:00Z');
    const day2 = Date.parse('2031-03-02T08:00:00Z');
    await RecordsRepository.applyBatch(db(), [
      ...callWrites(sid(), day1),
      ...callWrites(sid(), day1 + 1000, { ended: { endReason: 'model-unavailable', durationMs: 15_000, costUsd: null, firstAudioMs: null } }),
      ...callWrites(sid(), day2, { ended: { costUsd: 0.5, firstAudioMs: 1200 } }),
    ]);
    const stats = await RecordsRepository.stats(db(), new Date('2031-03-01T00:00:00Z'), new Date('2031-03-03T00:00:00Z'));
    expect(stats).toMatchObject({
      calls: 3,
      minutes: 2.42, // 65 + 15 + 65 s
      costUsd: 0.75,
      unpricedCalls: 1,
      meanFirstAudioMs: 1000,
      bargeIns: 3,
      failures: 1,
      endReasons: { 'caller-hung-up': 2, 'model-unavailable': 1 },
    });
    expect(stats.days).toEqual([
      { day: '2031-03-01', calls: 2, minutes: 1.33, costUsd: 0.25, meanFirstAudioMs: 800, bargeIns: 2, failures: 1 },
      { day: '2031-03-02', calls: 1, minutes: 1.08, costUsd: 0.5, meanFirstAudioMs: 1200, bargeIns: 1, failures: 0 },
    ]);
  });

  it('deletes a call with everything under it, and calls started before a cutoff', async () => {
    const base = Date.parse('2019-06-01T00:00:00Z');
    const [a, b, c] = [sid(), sid(), sid()];
    await RecordsRepository.applyBatch(db(), [...callWrites(a, base), ...callWrites(b, base + 10_000), ...callWrites(c, base + 20_000)]);
    expect(await RecordsRepository.deleteCalls(db(), { callSid: a })).toBe(1);
    expect(await RecordsRepository.getCall(db(), a)).toBeNull();
    expect(await RecordsRepository.events(db(), a)).toEqual([]);
    expect(await RecordsRepository.deleteCalls(db(), { callSid: a })).toBe(0);
    expect(await RecordsRepository.deleteCalls(db(), { startedBefore: new Date(base + 15_000), limit: 100 })).toBe(1);
    expect(await RecordsRepository.getCall(db(), b)).toBeNull();
    expect((await RecordsRepository.getCall(db(), c))?.transcript).toHaveLength(2);
  });

  it('ends the calls left open by a server that stopped (server-lost, at the last moment recorded); fresh, ended and live-here calls are kept', async () => {
    const base = Date.parse('2026-11-21T08:00:00Z');
    const [lost, fresh, ended, liveHere] = [sid(), sid(), sid(), sid()];
    const open = (callSid: string, updatedAtMs: number): RecordWrite => ({ kind: 'call', row: callRow(callSid, base, { updatedAt: new Date(updatedAtMs) }) });
    await RecordsRepository.applyBatch(db(), [
      open(lost, base + 10_000),
      // Its last event came after its last row write: the end is put there.
      { kind: 'event', row: { callSid: lost, seq: 0, at: new Date(base + 30_000), offsetMs: 30_000, type: 'barge_in', data: {} } },
      open(fresh, base + 290_000),
      ...callWrites(ended, base),
      open(liveHere, base + 10_000),
    ]);
    const staleBefore = new Date(base + 180_000);
    expect(await RecordsRepository.endAbandonedCalls(db(), staleBefore, [liveHere])).toEqual([lost]);
    expect(await RecordsRepository.getCall(db(), lost)).toMatchObject({
      endReason: 'server-lost',
      endedAt: new Date(base + 30_000).toISOString(),
      durationMs: 30_000,
    });
    expect((await RecordsRepository.getCall(db(), fresh))!.endedAt).toBeNull();
    expect((await RecordsRepository.getCall(db(), liveHere))!.endedAt).toBeNull();
    expect((await RecordsRepository.getCall(db(), ended))!.endReason).toBe('caller-hung-up');
    // Once ended, a second sweep (another instance's) finds nothing; the call counts as a failure.
    expect(await RecordsRepository.endAbandonedCalls(db(), staleBefore)).toEqual([liveHere]);
    const stats = await RecordsRepository.stats(db(), new Date(base - 1000), new Date(base + 1000));
    expect(stats.endReasons['server-lost']).toBe(2);
  });

  it('keeps versioned agent configurations', async () => {
    const v1 = await RecordsRepository.saveAgentConfig(db(), { instructions: 'one' });
    const v2 = await RecordsRepository.saveAgentConfig(db(), { instructions: 'two' });
    expect(v2).toBeGreaterThan(v1);
    expect(await RecordsRepository.latestAgentConfig(db())).toEqual({ version: v2, settings: { instructions: 'two' } });
  });

  it('outbox: one row per call, leased to one sender at a time, retried when due, done once delivered', async () => {
    const callSid = sid();
    const url = 'http://127.0.0.1:9/hook';
    await RecordsRepository.applyBatch(db(), [...callWrites(callSid, T0), { kind: 'webhook', callSid, url }, { kind: 'webhook', callSid, url }]);
    const now = new Date();
    const lease = new Date(now.getTime() + 60_000);
    const claimed = (await RecordsRepository.claimNext(db(), now, lease))!;
    expect(claimed).toMatchObject({ callSid, idempotencyKey: `call-ended:${callSid}`, url, attempts: 1, lease: expect.any(String) });
    expect(JSON.parse(claimed.payload)).toMatchObject({ type: 'call.ended', call: { callSid, transcript: [{}, {}], toolCalls: [{}] } });
    // One row for the call, leased: a second sender (or a second pass) gets nothing, in parallel too.
    expect(await Promise.all([RecordsRepository.claimNext(db(), now, lease), RecordsRepository.claimNext(db(), now, lease)])).toEqual([null, null]);
    expect(await RecordsRepository.markRetry(db(), claimed, new Date(now.getTime() + 1000), 'HTTP 500')).toBe(true);
    expect(await RecordsRepository.claimNext(db(), now, lease)).toBeNull(); // not due yet
    const later = new Date(now.getTime() + 1500);
    const retry = (await RecordsRepository.claimNext(db(), later, new Date(later.getTime() + 60_000)))!;
    expect(retry).toMatchObject({ id: claimed.id, attempts: 2 });
    expect(await RecordsRepository.markDelivered(db(), retry, later)).toBe(true);
    const farLater = new Date(now.getTime() + 3_600_000);
    expect(await RecordsRepository.claimNext(db(), farLater, farLater)).toBeNull();
    expect(await RecordsRepository.outboxStatus(db())).toMatchObject({ pending: 0, delivered: 1 });
  });

  it("outbox leases: one attempt per lease; an expired lease can be taken, and then the stale sender's outcome is refused", async () => {
    const [a, b] = [sid(), sid()];
    const url = 'http://127.0.0.1:9/hook';
    await RecordsRepository.applyBatch(db(), [...callWrites(a, T0), { kind: 'webhook', callSid: a, url }]);
    await RecordsRepository.applyBatch(db(), [...callWrites(b, T0), { kind: 'webhook', callSid: b, url }]);
    const row = async (id: number) => (await db().select().from(webhookOutbox).where(eq(webhookOutbox.id, id)))[0];
    const t0 = Date.now();
    const at = (ms: number) => new Date(t0 + ms);

    // Senders claiming at once each get a different delivery, one each, or nothing.
    const claims = await Promise.all([1, 2, 3].map(() => RecordsRepository.claimNext(db(), at(0), at(10_000))));
    expect(claims.filter((c) => c === null)).toHaveLength(1);
    expect(claims.flatMap((c) => (c ? [c.callSid] : [])).sort()).toEqual([a, b].sort());
    const first = claims.find((c) => c?.callSid === a)!;
    const other = claims.find((c) => c?.callSid === b)!;
    expect(await RecordsRepository.markDelivered(db(), other, at(1)), 'clears b out of the way').toBe(true);

    // Leased until its last moment: nobody else takes it.
    expect(await RecordsRepository.claimNext(db(), at(10_000), at(20_000))).toBeNull();
    // The first sender stalls past its lease: a second one takes the row, under a new token.
    const second = (await RecordsRepository.claimNext(db(), at(10_001), at(20_001)))!;
    expect(second).toMatchObject({ id: first.id, callSid: a, attempts: 2 });
    expect(second.lease).not.toBe(first.lease);

    // The stale sender's outcome, whatever it is, does not touch the new holder's row.
    expect(await RecordsRepository.markDelivered(db(), first, at(10_002))).toBe(false);
    expect(await RecordsRepository.markRetry(db(), first, at(10_500), 'HTTP 500')).toBe(false);
    expect(await RecordsRepository.markFailed(db(), first, at(10_002), 'HTTP 500')).toBe(false);
    expect(await row(first.id)).toMatchObject({
      done: false,
      deliveredAt: null,
      failedAt: null,
      lastError: null,
      leaseToken: second.lease,
      lockedUntil: at(20_001),
    });
    expect(await RecordsRepository.claimNext(db(), at(15_000), at(25_000))).toBeNull(); // still the second sender's

    // The holder's outcome is recorded and ends the lease; the stale token stays refused after it.
    expect(await RecordsRepository.markRetry(db(), second, at(12_000), 'HTTP 503')).toBe(true);
    expect(await row(first.id)).toMatchObject({ done: false, lastError: 'HTTP 503', leaseToken: null, lockedUntil: null, nextAttemptAt: at(12_000) });
    expect(await RecordsRepository.markDelivered(db(), first, at(12_001))).toBe(false);
    const third = (await RecordsRepository.claimNext(db(), at(12_000), at(22_000)))!;
    expect(third).toMatchObject({ id: first.id, attempts: 3 });
    expect(await RecordsRepository.markDelivered(db(), second, at(12_500))).toBe(false);
    expect(await RecordsRepository.markDelivered(db(), third, at(12_500))).toBe(true);
    expect(await row(first.id)).toMatchObject({ done: true, deliveredAt: at(12_500), lastError: null, leaseToken: null });
    expect(await RecordsRepository.claimNext(db(), at(3_600_000), at(3_600_000))).toBeNull();
  });
});
