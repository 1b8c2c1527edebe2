import { randomUUID } from 'node:crypto';
import { and, asc, desc, eq, getTableColumns, getTableName, gte, inArray, is, lt, lte, notInArray, or, SQL, sql } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { RecordsDb } from './records-database';
import { agentConfigs, callEvents, calls, toolCalls, transcriptItems, webhookOutbox } from './records.schema';

export type CallRow = typeof calls.$inferInsert;
export type TranscriptRow = typeof transcriptItems.$inferInsert;
export type ToolCallRow = typeof toolCalls.$inferInsert;
export type CallEventRow = typeof callEvents.$inferInsert;

/**
 * One queued write. Call, transcript and tool-call writes carry the whole row as it is now
 * (upserted: the last one wins), so a lost write is repaired by the next one for the same row.
 */
export type RecordWrite =
  | { kind: 'call'; row: CallRow }
  | { kind: 'transcript'; row: TranscriptRow }
  | { kind: 'tool'; row: ToolCallRow }
  | { kind: 'event'; row: CallEventRow }
  /** After the call's final row: put its record in the webhook outbox (same transaction). */
  | { kind: 'webhook'; callSid: string; url: string };

/** The end reason of a call its server stopped without ending (see endAbandonedCalls). */
export const SERVER_LOST = 'server-lost';
/** End reasons that mean something went wrong (for /stats); the others are normal ends. */
export const FAILURE_END_REASONS = [
  'model-unavailable',
  'backpressure',
  'protocol-error',
  'internal-error',
  'twilio-disconnected',
  'media-timeout',
  SERVER_LOST,
];

/** Events left out of a call's timeline (their sums are in `usage` and `costUsd`). */
const NOT_IN_TIMELINE = ['usage', 'cost'];

export interface CallListFilter {
  from?: Date;
  to?: Date;
  direction?: string;
  /** Matches the caller's or the called number (exactly, or as a substring). */
  number?: string;
  endReason?: string;
  engine?: string;
  minDurationS?: number;
  /** Full-text search in the transcripts (PostgreSQL's English text search, the same on PGlite). */
  q?: string;
  cursor?: { startedAt: Date; callSid: string };
  limit: number;
}

export interface CallUsage {
  responses: number;
  inputTokens: number;
  inputTextTokens: number;
  inputAudioTokens: number;
  cachedTokens: number;
  cachedAudioTokens: number;
  outputTokens: number;
  outputTextTokens: number;
  outputAudioTokens: number;
  audioInSeconds: number | null;
  audioOutSeconds: number | null;
  billedSeconds: number | null;
}

export interface CallSummary {
  callSid: string;
  streamSid: string;
  direction: string | null;
  from: string | null;
  to: string | null;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  endReason: string | null;
  endDetail: string | null;
  engine: string;
  model: string;
  voice: string;
  configVersion: number | null;
  instanceId: string;
  firstAudioMs: number | null;
  bargeIns: number;
  reconnects: number;
  framesIn: number;
  framesOut: number;
  usage: CallUsage;
  /** USD; null = unknown (a model without a price). */
  costUsd: number | null;
}

export interface TranscriptView {
  itemId: string;
  role: string;
  text: string;
  startMs: number | null;
  endMs: number | null;
  interruptedAtMs: number | null;
}

export interface ToolCallView {
  callId: string;
  name: string;
  arguments: string;
  output: string | null;
  outcome: string;
  error: string | null;
  durationMs: number | null;
  answeredBy: string | null;
  startMs: number | null;
}

export interface CallEventView {
  seq: number;
  at: string;
  offsetMs: number;
  type: string;
  data: Record<string, unknown>;
}

export interface CallRecord extends CallSummary {
  transcript: TranscriptView[];
  toolCalls: ToolCallView[];
  timeline: CallEventView[];
}

export interface DayStats {
  day: string;
  calls: number;
  minutes: number;
  costUsd: number;
  meanFirstAudioMs: number | null;
  bargeIns: number;
  failures: number;
}

export interface CallStats {
  from: string;
  to: string;
  calls: number;
  minutes: number;
  /** Sum over the calls with a known cost. */
  costUsd: number;
  /** Ended calls whose cost is unknown (not in costUsd). */
  unpricedCalls: number;
  meanFirstAudioMs: number | null;
  bargeIns: number;
  failures: number;
  /** Ended calls by end reason. */
  endReasons: Record<string, number>;
  days: DayStats[];
}

export interface OutboxEntry {
  id: number;
  /** This claim's lease token: the attempt's outcome is recorded only while the row still carries it. */
  lease: string;
  callSid: string;
  idempotencyKey: string;
  url: string;
  payload: string;
  attempts: number;
  createdAt: Date;
}

/** What a sender needs to record an attempt's outcome: the row and the lease it holds on it. */
export type OutboxLease = Pick<OutboxEntry, 'id' | 'lease'>;

export interface OutboxStatus {
  pending: number;
  /** Pending deliveries that have failed at least once. */
  retrying: number;
  failed: number;
  delivered: number;
  oldestPendingAt: string | null;
  lastError: string | null;
}

type Executor = Pick<RecordsDb, 'select' | 'insert' | 'update' | 'delete' | 'execute'>;

/** Every query of the call records, on whichever database RecordsStore opened. */
export class RecordsRepository {
  /** Applies a batch of queued writes in one transaction. */
  static async applyBatch(db: RecordsDb, writes: RecordWrite[]): Promise<void> {
    const callRows = lastPerKey(
      writes.flatMap((w) => (w.kind === 'call' ? [w.row] : [])),
      (r) => r.callSid,
    );
    const transcriptRows = lastPerKey(
      writes.flatMap((w) => (w.kind === 'transcript' ? [w.row] : [])),
      (r) => `${r.callSid} ${r.itemId}`,
    );
    const toolRows = lastPerKey(
      writes.flatMap((w) => (w.kind === 'tool' ? [w.row] : [])),
      (r) => `${r.callSid} ${r.toolCallId}`,
    );
    const eventRows = writes.flatMap((w) => (w.kind === 'event' ? [w.row] : []));
    const webhooks = writes.flatMap((w) => (w.kind === 'webhook' ? [w] : []));
    await db.transaction(async (tx) => {
      if (callRows.length > 0) await tx.execute(CALLS_UPSERT.statement(callRows));
      if (transcriptRows.length > 0) await tx.execute(TRANSCRIPT_UPSERT.statement(transcriptRows));
      if (toolRows.length > 0) await tx.execute(TOOL_CALLS_UPSERT.statement(toolRows));
      if (eventRows.length > 0) await tx.execute(EVENTS_INSERT.statement(eventRows));
      for (const webhook of webhooks) {
        const record = await RecordsRepository.getCall(tx, webhook.callSid);
        if (!record) continue;
        await tx
          .insert(webhookOutbox)
          .values({ callSid: webhook.callSid, idempotencyKey: `call-ended:${webhook.callSid}`, url: webhook.url, payload: JSON.stringify(webhookBody(record)) })
          .onConflictDoNothing();
      }
    });
  }

  static async listCalls(db: Executor, filter: CallListFilter): Promise<CallSummary[]> {
    const where: SQL[] = [];
    if (filter.from) where.push(gte(calls.startedAt, filter.from));
    if (filter.to) where.push(lte(calls.startedAt, filter.to));
    if (filter.direction) where.push(eq(calls.direction, filter.direction));
    if (filter.endReason) where.push(eq(calls.endReason, filter.endReason));
    if (filter.engine) where.push(eq(calls.engine, filter.engine));
    if (filter.minDurationS !== undefined) where.push(gte(calls.durationMs, filter.minDurationS * 1000));
    if (filter.number) {
      const pattern = `%${escapeLike(filter.number)}%`;
      where.push(or(sql`${calls.fromNumber} like ${pattern}`, sql`${calls.toNumber} like ${pattern}`)!);
    }
    if (filter.q) {
      where.push(sql`exists (select 1 from ${transcriptItems} where ${transcriptItems.callSid} = ${calls.callSid}
        and to_tsvector('english', ${transcriptItems.text}) @@ websearch_to_tsquery('english', ${filter.q}))`);
    }
    if (filter.cursor) {
      const { startedAt, callSid } = filter.cursor;
      where.push(or(lt(calls.startedAt, startedAt), and(eq(calls.startedAt, startedAt), lt(calls.callSid, callSid)))!);
    }
    const rows = await db
      .select()
      .from(calls)
      .where(and(...where))
      .orderBy(desc(calls.startedAt), desc(calls.callSid))
      .limit(filter.limit);
    return rows.map(summary);
  }

  static async getCall(db: Executor, callSid: string): Promise<CallRecord | null> {
    const [row] = await db.select().from(calls).where(eq(calls.callSid, callSid));
    if (!row) return null;
    // One after another: inside a transaction they share one connection.
    const transcript = await db
      .select()
      .from(transcriptItems)
      .where(eq(transcriptItems.callSid, callSid))
      .orderBy(sql`coalesce(${transcriptItems.startMs}, ${transcriptItems.endMs}, 0)`, asc(transcriptItems.id));
    const tools = await db.select().from(toolCalls).where(eq(toolCalls.callSid, callSid)).orderBy(asc(toolCalls.id));
    const events = await RecordsRepository.events(db, callSid);
    return {
      ...summary(row),
      transcript: transcript.map((t) => ({
        itemId: t.itemId,
        role: t.role,
        text: t.text,
        startMs: t.startMs,
        endMs: t.endMs,
        interruptedAtMs: t.interruptedAtMs,
      })),
      toolCalls: tools.map((t) => ({
        callId: t.toolCallId,
        name: t.name,
        arguments: t.arguments,
        output: t.output,
        outcome: t.outcome,
        error: t.error,
        durationMs: t.durationMs,
        answeredBy: t.answeredBy,
        startMs: t.startMs,
      })),
      timeline: events.filter((e) => !NOT_IN_TIMELINE.includes(e.type)),
    };
  }

  static async events(db: Executor, callSid: string): Promise<CallEventView[]> {
    const rows = await db.select().from(callEvents).where(eq(callEvents.callSid, callSid)).orderBy(asc(callEvents.seq), asc(callEvents.id));
    return rows.map((e) => ({ seq: e.seq, at: e.at.toISOString(), offsetMs: e.offsetMs, type: e.type, data: e.data as Record<string, unknown> }));
  }

  static async exists(db: Executor, callSid: string): Promise<boolean> {
    const rows = await db.select({ sid: calls.callSid }).from(calls).where(eq(calls.callSid, callSid));
    return rows.length > 0;
  }

  /**
   * Ends the calls nobody has written anything of since `staleBefore`: a live call's row is
   * rewritten every RECORDS_LIVE_TIMEOUT_S / 3, so these were held by a server that stopped without
   * ending them (killed, crashed, its machine lost). Each is ended at the last moment anything of
   * it was recorded, as `server-lost`. A call that was only presumed lost and is in fact live gets
   * its true end written over this when it ends. Returns their SIDs.
   */
  static async endAbandonedCalls(db: Executor, staleBefore: Date, liveHere: string[] = []): Promise<string[]> {
    const lastSeen = sql`greatest(${calls.updatedAt}, (select max(${callEvents.at}) from ${callEvents} where ${callEvents.callSid} = ${calls.callSid}))`;
    const rows = await db
      .update(calls)
      .set({
        endedAt: lastSeen,
        durationMs: sql`greatest(0, round(extract(epoch from (${lastSeen} - ${calls.startedAt})) * 1000))::int`,
        endReason: SERVER_LOST,
        endDetail: 'the server holding this call stopped without ending it (killed or crashed); ended at the last moment recorded',
        updatedAt: new Date(),
      })
      .where(
        and(
          sql`${calls.endedAt} is null`,
          lt(calls.updatedAt, staleBefore),
          sql`${lastSeen} < ${staleBefore.toISOString()}`,
          liveHere.length > 0 ? notInArray(calls.callSid, liveHere) : undefined,
        ),
      )
      .returning({ callSid: calls.callSid });
    return rows.map((r) => r.callSid);
  }

  /** Removes calls and everything recorded under them. Returns how many calls went. */
  static async deleteCalls(db: RecordsDb, which: { callSid: string } | { startedBefore: Date; limit: number }): Promise<number> {
    return db.transaction(async (tx) => {
      const match =
        'callSid' in which
          ? eq(calls.callSid, which.callSid)
          : inArray(calls.callSid, tx.select({ sid: calls.callSid }).from(calls).where(lt(calls.startedAt, which.startedBefore)).limit(which.limit));
      const gone = await tx.delete(calls).where(match).returning({ callSid: calls.callSid });
      const sids = gone.map((g) => g.callSid);
      if (sids.length === 0) return 0;
      await tx.delete(transcriptItems).where(inArray(transcriptItems.callSid, sids));
      await tx.delete(toolCalls).where(inArray(toolCalls.callSid, sids));
      await tx.delete(callEvents).where(inArray(callEvents.callSid, sids));
      return sids.length;
    });
  }

  static async stats(db: Executor, from: Date, to: Date): Promise<CallStats> {
    const failure = sql`(${calls.endReason} in (${sql.join(
      FAILURE_END_REASONS.map((r) => sql`${r}`),
      sql`, `,
    )}))`;
    const day = sql<string>`to_char(date_trunc('day', ${calls.startedAt} at time zone 'UTC'), 'YYYY-MM-DD')`;
    const inRange = and(gte(calls.startedAt, from), lt(calls.startedAt, to));
    const days = await db
      .select({
        day,
        calls: sql<number>`count(*)::int`,
        durationMs: sql<number>`coalesce(sum(${calls.durationMs}), 0)::float8`,
        costUsd: sql<number>`coalesce(sum(${calls.costUsd}), 0)::float8`,
        unpriced: sql<number>`count(*) filter (where ${calls.endedAt} is not null and ${calls.costUsd} is null)::int`,
        firstAudioSum: sql<number>`coalesce(sum(${calls.firstAudioMs}), 0)::float8`,
        firstAudioCount: sql<number>`count(${calls.firstAudioMs})::int`,
        bargeIns: sql<number>`coalesce(sum(${calls.bargeIns}), 0)::int`,
        failures: sql<number>`count(*) filter (where ${failure})::int`,
      })
      .from(calls)
      .where(inRange)
      .groupBy(day)
      .orderBy(day);
    const reasons = await db
      .select({ reason: calls.endReason, count: sql<number>`count(*)::int` })
      .from(calls)
      .where(and(inRange, sql`${calls.endReason} is not null`))
      .groupBy(calls.endReason);
    const sum = (pick: (d: (typeof days)[number]) => number) => days.reduce((total, d) => total + Number(pick(d)), 0);
    const firstAudioCount = sum((d) => d.firstAudioCount);
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      calls: sum((d) => d.calls),
      minutes: round(sum((d) => d.durationMs) / 60_000, 2),
      costUsd: round(
        sum((d) => d.costUsd),
        6,
      ),
      unpricedCalls: sum((d) => d.unpriced),
      meanFirstAudioMs: firstAudioCount === 0 ? null : Math.round(sum((d) => d.firstAudioSum) / firstAudioCount),
      bargeIns: sum((d) => d.bargeIns),
      failures: sum((d) => d.failures),
      endReasons: Object.fromEntries(reasons.map((r) => [r.reason ?? 'unknown', Number(r.count)])),
      days: days.map((d) => ({
        day: d.day,
        calls: Number(d.calls),
        minutes: round(Number(d.durationMs) / 60_000, 2),
        costUsd: round(Number(d.costUsd), 6),
        meanFirstAudioMs: Number(d.firstAudioCount) === 0 ? null : Math.round(Number(d.firstAudioSum) / Number(d.firstAudioCount)),
        bargeIns: Number(d.bargeIns),
        failures: Number(d.failures),
      })),
    };
  }

  // ---- saved agent configuration ----------------------------------------------------------

  static async saveAgentConfig(db: Executor, settings: unknown): Promise<number> {
    const [row] = await db.insert(agentConfigs).values({ settings }).returning({ version: agentConfigs.version });
    return row.version;
  }

  static async latestAgentConfig(db: Executor): Promise<{ version: number; settings: unknown } | null> {
    const [row] = await db.select().from(agentConfigs).orderBy(desc(agentConfigs.version)).limit(1);
    return row ? { version: row.version, settings: row.settings } : null;
  }

  // ---- webhook outbox ---------------------------------------------------------------------

  /**
   * Leases the delivery due longest until `leaseUntil`, for one attempt, under a new token: a leased
   * row is not handed to another sender (in this process or another instance sharing the database)
   * before the lease ends, and its outcome is recorded only by the holder of the token (mark*).
   * One row per claim, so no delivery waits out its lease behind others' attempts.
   */
  static async claimNext(db: Executor, now: Date, leaseUntil: Date): Promise<OutboxEntry | null> {
    const due = db
      .select({ id: webhookOutbox.id })
      .from(webhookOutbox)
      .where(
        and(
          eq(webhookOutbox.done, false),
          lte(webhookOutbox.nextAttemptAt, now),
          or(sql`${webhookOutbox.lockedUntil} is null`, lt(webhookOutbox.lockedUntil, now)),
        ),
      )
      .orderBy(asc(webhookOutbox.nextAttemptAt))
      .limit(1)
      .for('update', { skipLocked: true });
    const [row] = await db
      .update(webhookOutbox)
      .set({ lockedUntil: leaseUntil, leaseToken: randomUUID(), attempts: sql`${webhookOutbox.attempts} + 1` })
      .where(inArray(webhookOutbox.id, due))
      .returning();
    if (!row) return null;
    return {
      id: row.id,
      lease: row.leaseToken!,
      callSid: row.callSid,
      idempotencyKey: row.idempotencyKey,
      url: row.url,
      payload: row.payload,
      attempts: row.attempts,
      createdAt: row.createdAt,
    };
  }

  /** Records a 2xx. False (and nothing written) when `entry`'s lease was lost to another sender. */
  static async markDelivered(db: Executor, entry: OutboxLease, at: Date): Promise<boolean> {
    return RecordsRepository.release(db, entry, { done: true, deliveredAt: at, lastError: null });
  }

  /** Records a failed attempt to be tried again at `nextAttemptAt`; false when the lease was lost. */
  static async markRetry(db: Executor, entry: OutboxLease, nextAttemptAt: Date, error: string): Promise<boolean> {
    return RecordsRepository.release(db, entry, { nextAttemptAt, lastError: error });
  }

  /** Records a delivery given up; false when the lease was lost. */
  static async markFailed(db: Executor, entry: OutboxLease, at: Date, error: string): Promise<boolean> {
    return RecordsRepository.release(db, entry, { done: true, failedAt: at, lastError: error });
  }

  /** Ends a lease with an outcome, only if the row still carries this lease's token. */
  private static async release(db: Executor, entry: OutboxLease, outcome: Partial<typeof webhookOutbox.$inferInsert>): Promise<boolean> {
    const rows = await db
      .update(webhookOutbox)
      .set({ ...outcome, lockedUntil: null, leaseToken: null })
      .where(and(eq(webhookOutbox.id, entry.id), eq(webhookOutbox.leaseToken, entry.lease)))
      .returning({ id: webhookOutbox.id });
    return rows.length > 0;
  }

  static async outboxStatus(db: Executor): Promise<OutboxStatus> {
    const [row] = await db
      .select({
        pending: sql<number>`count(*) filter (where not ${webhookOutbox.done})::int`,
        retrying: sql<number>`count(*) filter (where not ${webhookOutbox.done} and ${webhookOutbox.lastError} is not null)::int`,
        failed: sql<number>`count(*) filter (where ${webhookOutbox.failedAt} is not null)::int`,
        delivered: sql<number>`count(*) filter (where ${webhookOutbox.deliveredAt} is not null)::int`,
        oldestPendingAt: sql<string | null>`min(${webhookOutbox.createdAt}) filter (where not ${webhookOutbox.done})`,
      })
      .from(webhookOutbox);
    const [last] = await db
      .select({ error: webhookOutbox.lastError })
      .from(webhookOutbox)
      .where(sql`${webhookOutbox.lastError} is not null`)
      .orderBy(desc(webhookOutbox.id))
      .limit(1);
    const oldest = row.oldestPendingAt;
    return {
      pending: Number(row.pending),
      retrying: Number(row.retrying),
      failed: Number(row.failed),
      delivered: Number(row.delivered),
      oldestPendingAt: oldest ? new Date(oldest).toISOString() : null,
      lastError: last?.error ?? null,
    };
  }
}

/** The post-call webhook's JSON body. */
export function webhookBody(record: CallRecord): { type: 'call.ended'; call: CallRecord } {
  return { type: 'call.ended', call: record };
}

function summary(row: typeof calls.$inferSelect): CallSummary {
  return {
    callSid: row.callSid,
    streamSid: row.streamSid,
    direction: row.direction,
    from: row.fromNumber,
    to: row.toNumber,
    startedAt: row.startedAt.toISOString(),
    endedAt: row.endedAt?.toISOString() ?? null,
    durationMs: row.durationMs,
    endReason: row.endReason,
    endDetail: row.endDetail,
    engine: row.engine,
    model: row.model,
    voice: row.voice,
    configVersion: row.configVersion,
    instanceId: row.instanceId,
    firstAudioMs: row.firstAudioMs,
    bargeIns: row.bargeIns,
    reconnects: row.reconnects,
    framesIn: row.framesIn,
    framesOut: row.framesOut,
    usage: {
      responses: row.responses,
      inputTokens: row.inputTokens,
      inputTextTokens: row.inputTextTokens,
      inputAudioTokens: row.inputAudioTokens,
      cachedTokens: row.cachedTokens,
      cachedAudioTokens: row.cachedAudioTokens,
      outputTokens: row.outputTokens,
      outputTextTokens: row.outputTextTokens,
      outputAudioTokens: row.outputAudioTokens,
      audioInSeconds: row.audioInSeconds,
      audioOutSeconds: row.audioOutSeconds,
      billedSeconds: row.billedSeconds,
    },
    costUsd: row.costUsd,
  };
}

/** The last row written for each key, in the order of those last writes. */
function lastPerKey<R>(rows: R[], key: (row: R) => string): R[] {
  const last = new Map<string, R>();
  for (const row of rows) {
    const k = key(row);
    last.delete(k);
    last.set(k, row);
  }
  return [...last.values()];
}

/**
 * A multi-row insert (or upsert) whose rows travel as one JSON parameter, unpacked by PostgreSQL's
 * jsonb_to_recordset. Drizzle's builder spends a few µs of the server's main thread per value
 * (~1 ms for 40 events, as much again for 10 call rows); this costs one JSON.stringify, and the
 * statement text is built once per table.
 * Values missing from a row take the column's default, as in a plain insert.
 */
class BulkInsert<R extends Record<string, unknown>> {
  private readonly columns: { key: string; column: PgColumn }[];
  /** The statement around its one parameter. */
  private readonly head: string;
  private readonly tail: string;

  constructor(table: PgTable, opts: { skip?: string[]; conflict?: string[] } = {}) {
    const skip = opts.skip ?? [];
    this.columns = Object.entries(getTableColumns(table))
      .filter(([key]) => !skip.includes(key))
      .map(([key, column]) => ({ key, column }));
    const names = this.columns.map(({ column }) => `"${column.name}"`).join(', ');
    const record = this.columns.map(({ column }) => `"${column.name}" ${column.getSQLType()}`).join(', ');
    this.head = `insert into "${getTableName(table)}" (${names}) select ${names} from jsonb_to_recordset(`;
    let tail = `::jsonb) as x(${record})`;
    if (opts.conflict) {
      const keys = opts.conflict.map((k) => `"${getTableColumns(table)[k].name}"`);
      const updates = this.columns
        .filter(({ column }) => !keys.includes(`"${column.name}"`))
        .map(({ column }) => `"${column.name}" = excluded."${column.name}"`);
      tail += ` on conflict (${keys.join(', ')}) do update set ${updates.join(', ')}`;
    }
    this.tail = tail;
  }

  statement(rows: R[]): SQL {
    const values = rows.map((row) => {
      const out: Record<string, unknown> = {};
      for (const { key, column } of this.columns) out[column.name] = toJsonValue(row[key] === undefined ? defaultOf(column) : row[key]);
      return out;
    });
    return sql.join([sql.raw(this.head), sql`${JSON.stringify(values)}`, sql.raw(this.tail)]);
  }
}

function defaultOf(column: PgColumn): unknown {
  if (!column.hasDefault) return null;
  // defaultNow() and other SQL defaults: only now() is used in this schema.
  return is(column.default, SQL) ? new Date() : (column.default ?? null);
}

function toJsonValue(value: unknown): unknown {
  return value instanceof Date ? value.toISOString() : value;
}

const CALLS_UPSERT = new BulkInsert<CallRow>(calls, { conflict: ['callSid'] });
const TRANSCRIPT_UPSERT = new BulkInsert<TranscriptRow>(transcriptItems, { skip: ['id'], conflict: ['callSid', 'itemId'] });
const TOOL_CALLS_UPSERT = new BulkInsert<ToolCallRow>(toolCalls, { skip: ['id'], conflict: ['callSid', 'toolCallId'] });
const EVENTS_INSERT = new BulkInsert<CallEventRow>(callEvents, { skip: ['id'] });

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
