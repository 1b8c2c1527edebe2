// The call-record tables, for Drizzle. Changing a table here needs a new migration:
// `npm run db:generate` writes it to migrations/records/ (applied at start-up, in order).
import { sql } from 'drizzle-orm';
import { bigint, boolean, doublePrecision, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** One row per call: who, when, how it ended, and what it used and cost. */
export const calls = pgTable(
  'calls',
  {
    callSid: text('call_sid').primaryKey(),
    streamSid: text('stream_sid').notNull(),
    direction: text('direction'),
    fromNumber: text('from_number'),
    toNumber: text('to_number'),
    startedAt: at('started_at').notNull(),
    endedAt: at('ended_at'),
    durationMs: integer('duration_ms'),
    endReason: text('end_reason'),
    endDetail: text('end_detail'),
    engine: text('engine').notNull(),
    model: text('model').notNull(),
    voice: text('voice').notNull(),
    /** agent_configs.version the call started with; null = the environment's defaults. */
    configVersion: integer('config_version'),
    instanceId: text('instance_id').notNull(),
    firstAudioMs: integer('first_audio_ms'),
    bargeIns: integer('barge_ins').notNull().default(0),
    reconnects: integer('reconnects').notNull().default(0),
    framesIn: integer('frames_in').notNull().default(0),
    framesOut: integer('frames_out').notNull().default(0),
    responses: integer('responses').notNull().default(0),
    inputTokens: integer('input_tokens').notNull().default(0),
    inputTextTokens: integer('input_text_tokens').notNull().default(0),
    inputAudioTokens: integer('input_audio_tokens').notNull().default(0),
    /** Part of input_tokens (never added to it): the share read from the prompt cache. */
    cachedTokens: integer('cached_tokens').notNull().default(0),
    cachedAudioTokens: integer('cached_audio_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    outputTextTokens: integer('output_text_tokens').notNull().default(0),
    outputAudioTokens: integer('output_audio_tokens').notNull().default(0),
    audioInSeconds: doublePrecision('audio_in_seconds'),
    audioOutSeconds: doublePrecision('audio_out_seconds'),
    /** Seconds billed by a per-second engine (GPT-Live). */
    billedSeconds: doublePrecision('billed_seconds'),
    /** Null when any part of the call could not be priced (a model missing from the price table). */
    costUsd: doublePrecision('cost_usd'),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('calls_started_idx').on(t.startedAt.desc(), t.callSid.desc()),
    index('calls_from_idx').on(t.fromNumber),
    index('calls_to_idx').on(t.toNumber),
    // The calls still open, for the sweep that ends those their server lost (a handful at any time).
    index('calls_open_idx')
      .on(t.updatedAt)
      .where(sql`${t.endedAt} is null`),
  ],
);

/** What was said, one row per conversation item, with offsets from the call's start. */
export const transcriptItems = pgTable(
  'transcript_items',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    callSid: text('call_sid').notNull(),
    itemId: text('item_id').notNull(),
    role: text('role').notNull(),
    text: text('text').notNull().default(''),
    startMs: integer('start_ms'),
    endMs: integer('end_ms'),
    /** The caller barged in: the assistant was cut after this many ms of the item's audio. */
    interruptedAtMs: integer('interrupted_at_ms'),
  },
  (t) => [
    uniqueIndex('transcript_items_call_item_idx').on(t.callSid, t.itemId),
    index('transcript_items_search_idx').using('gin', sql`to_tsvector('english', ${t.text})`),
  ],
);

/** Function calls the model made, and how they were answered. */
export const toolCalls = pgTable(
  'tool_calls',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    callSid: text('call_sid').notNull(),
    toolCallId: text('tool_call_id').notNull(),
    name: text('name').notNull(),
    arguments: text('arguments').notNull(),
    output: text('output'),
    /** running | success | error | cancelled (the call ended first). */
    outcome: text('outcome').notNull(),
    error: text('error'),
    durationMs: integer('duration_ms'),
    /** tool | operator */
    answeredBy: text('answered_by'),
    startMs: integer('start_ms'),
  },
  (t) => [uniqueIndex('tool_calls_call_id_idx').on(t.callSid, t.toolCallId)],
);

/** The call's event stream (every call event but transcript deltas), for the timeline. */
export const callEvents = pgTable(
  'call_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    callSid: text('call_sid').notNull(),
    seq: integer('seq').notNull(),
    at: at('at').notNull(),
    offsetMs: integer('offset_ms').notNull(),
    type: text('type').notNull(),
    data: jsonb('data').notNull(),
  },
  (t) => [index('call_events_call_seq_idx').on(t.callSid, t.seq)],
);

/** Saved agent configurations, one row per save; the highest version is the one in force. */
export const agentConfigs = pgTable('agent_configs', {
  version: integer('version').primaryKey().generatedAlwaysAsIdentity(),
  settings: jsonb('settings').notNull(),
  savedAt: at('saved_at').notNull().defaultNow(),
});

/**
 * Post-call webhook deliveries, written in the same transaction as the call's end, so a restart
 * or a crash loses none. A row is leased (locked_until, lease_token) for one attempt by one sender.
 */
export const webhookOutbox = pgTable(
  'webhook_outbox',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    callSid: text('call_sid').notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    url: text('url').notNull(),
    payload: text('payload').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: at('next_attempt_at').notNull().defaultNow(),
    lockedUntil: at('locked_until'),
    /** Who holds the lease: each claim writes a new token, and an attempt's outcome is recorded only under it. */
    leaseToken: text('lease_token'),
    lastError: text('last_error'),
    deliveredAt: at('delivered_at'),
    /** Gave up after retrying for POST_CALL_WEBHOOK_MAX_AGE_S. */
    failedAt: at('failed_at'),
    done: boolean('done').notNull().default(false),
  },
  (t) => [uniqueIndex('webhook_outbox_key_idx').on(t.idempotencyKey), index('webhook_outbox_due_idx').on(t.done, t.nextAttemptAt)],
);

export const recordsSchema = { calls, transcriptItems, toolCalls, callEvents, agentConfigs, webhookOutbox };
