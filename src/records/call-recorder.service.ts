import { Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { CallEventBus, type CallEvent } from '../call-gateway/call-events';
import { AppConfig } from '../config/app-config';
import { AgentConfigPersistence } from './agent-config-persistence.service';
import { PriceTable } from './price-table';
import { RecordWriter } from './record-writer.service';
import type { CallRow, ToolCallRow, TranscriptRow } from './records.repository';
import { RecordsStore } from './records-store.service';

/** Per call, so a long call cannot grow without bound. */
const MAX_ITEMS = 2000;
const MAX_TEXT_CHARS = 20_000;
/** Twilio media frames are 20 ms of audio. */
const FRAME_MS = 20;

/** What is known of one live call: its row as it stands, and the items not finished yet. */
interface Recording {
  row: CallRow;
  startedAtMs: number;
  seq: number;
  items: Map<string, TranscriptRow>;
  tools: Map<string, ToolCallRow>;
  bargeIns: number;
  reconnects: number;
}

/**
 * Turns the call events into record writes: the call row (at start, after each priced response,
 * at the end), transcript items with offsets from the call's start, tool calls, and the event
 * stream itself. Reads only the event bus; every write goes to the queue and returns at once.
 */
@Injectable()
export class CallRecorder implements OnModuleInit, OnApplicationShutdown {
  private readonly live = new Map<string, Recording>();
  private readonly unsubscribe: () => void = () => undefined;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    events: CallEventBus,
    private readonly writer: RecordWriter,
    private readonly store: RecordsStore,
    private readonly config: AppConfig,
    private readonly prices: PriceTable,
    private readonly agentConfig: AgentConfigPersistence,
  ) {
    if (store.enabled) this.unsubscribe = events.subscribe((event) => this.onEvent(event));
  }

  get liveCount(): number {
    return this.live.size;
  }

  /** The SIDs of the calls this process is recording now. */
  liveCallSids(): string[] {
    return [...this.live.keys()];
  }

  /**
   * Rewrites each live call's row every third of RECORDS_LIVE_TIMEOUT_S, even when nothing
   * happens on it: a row left unwritten longer means its server is gone (see AbandonedCallSweeper).
   */
  onModuleInit(): void {
    if (!this.store.enabled) return;
    this.heartbeat = setInterval(
      () => {
        for (const recording of this.live.values()) this.writeCall(recording);
      },
      (this.config.RECORDS_LIVE_TIMEOUT_S * 1000) / 3,
    );
    this.heartbeat.unref();
  }

  /**
   * Shutdown, in order: stop listening, close the records of calls still live (the registry ends
   * them right after, with this reason), flush the queue within the drain time, close the database.
   */
  async onApplicationShutdown(): Promise<void> {
    this.unsubscribe();
    clearInterval(this.heartbeat);
    const now = new Date();
    for (const recording of [...this.live.values()]) this.finish(recording, now, { reason: 'shutdown', durationMs: now.getTime() - recording.startedAtMs });
    await this.writer.drain(Date.now() + Math.max(1000, this.config.DRAIN_TIMEOUT_S * 1000));
    await this.store.close();
  }

  private onEvent(event: CallEvent): void {
    if (event.type === 'call.started') return this.start(event);
    const recording = this.live.get(event.callSid);
    // Events before the stream started (a pre-dial's 'connecting') or after the end are not kept.
    if (!recording) return;
    const offsetMs = Date.parse(event.ts) - recording.startedAtMs;
    if (event.type !== 'transcript.delta') this.writeEvent(recording, event, offsetMs);
    const row = recording.row;
    switch (event.type) {
      case 'transcript.delta': {
        const item = this.item(recording, event.itemId, event.role, offsetMs);
        if (item.text!.length < MAX_TEXT_CHARS) item.text = (item.text + event.delta).slice(0, MAX_TEXT_CHARS);
        return;
      }
      case 'transcript.done': {
        const item = this.item(recording, event.itemId, event.role, offsetMs);
        item.text = event.text.slice(0, MAX_TEXT_CHARS);
        item.endMs = offsetMs;
        this.writer.write({ kind: 'transcript', row: { ...item } });
        return;
      }
      case 'barge_in': {
        // Every item on the phone is cut, each at its own position (a preamble where it was heard,
        // the answer queued behind it at 0). Often after the item's transcript is done: the audio
        // arrives faster than it is played.
        for (const cut of event.cuts) {
          const item = this.item(recording, cut.itemId, 'assistant', offsetMs);
          item.interruptedAtMs = cut.audioEndMs;
          if (item.endMs !== null && item.endMs !== undefined) this.writer.write({ kind: 'transcript', row: { ...item } });
        }
        recording.bargeIns++;
        return;
      }
      case 'function_call.started': {
        const tool: ToolCallRow = {
          callSid: event.callSid,
          toolCallId: event.callId,
          name: event.name,
          arguments: event.arguments,
          outcome: 'running',
          startMs: offsetMs,
        };
        recording.tools.set(event.callId, tool);
        this.writer.write({ kind: 'tool', row: { ...tool } });
        return;
      }
      case 'function_call.finished': {
        const tool = recording.tools.get(event.callId) ?? {
          callSid: event.callSid,
          toolCallId: event.callId,
          name: event.name,
          arguments: '',
          outcome: 'running',
        };
        recording.tools.delete(event.callId);
        Object.assign(tool, {
          output: event.output,
          outcome: event.error === undefined ? 'success' : 'error',
          error: event.error ?? null,
          durationMs: event.durationMs,
          answeredBy: event.answeredBy,
        });
        this.writer.write({ kind: 'tool', row: tool });
        return;
      }
      case 'model.status':
        if (event.status === 'connected' && typeof event.reconnectMs === 'number') recording.reconnects++;
        return;
      case 'latency':
        if (event.kind === 'first_audio' && row.firstAudioMs === undefined) row.firstAudioMs = event.ms;
        return;
      case 'usage':
        row.responses = (row.responses ?? 0) + 1;
        row.inputTokens = (row.inputTokens ?? 0) + event.inputTokens;
        row.inputAudioTokens = (row.inputAudioTokens ?? 0) + event.inputAudioTokens;
        row.inputTextTokens = (row.inputTextTokens ?? 0) + Math.max(0, event.inputTokens - event.inputAudioTokens);
        row.cachedTokens = (row.cachedTokens ?? 0) + event.cachedTokens;
        row.cachedAudioTokens = (row.cachedAudioTokens ?? 0) + (event.cachedAudioTokens ?? 0);
        row.outputTokens = (row.outputTokens ?? 0) + event.outputTokens;
        row.outputAudioTokens = (row.outputAudioTokens ?? 0) + event.outputAudioTokens;
        row.outputTextTokens = (row.outputTextTokens ?? 0) + Math.max(0, event.outputTokens - event.outputAudioTokens);
        if (typeof event.billedSeconds === 'number') row.billedSeconds = (row.billedSeconds ?? 0) + event.billedSeconds;
        this.writeCall(recording);
        return;
      case 'cost':
        row.costUsd = event.totalUsd;
        this.writeCall(recording);
        return;
      case 'call.ended':
        row.framesIn = event.framesIn;
        row.framesOut = event.framesOut;
        row.firstAudioMs = event.firstAudioMs ?? row.firstAudioMs ?? null;
        recording.bargeIns = Math.max(recording.bargeIns, event.bargeIns ?? 0);
        recording.reconnects = Math.max(recording.reconnects, event.reconnects ?? 0);
        row.audioInSeconds = (event.audioInMs ?? event.framesIn * FRAME_MS) / 1000;
        row.audioOutSeconds = typeof event.audioOutMs === 'number' ? event.audioOutMs / 1000 : null;
        this.finish(recording, new Date(event.ts), { reason: event.reason, durationMs: event.durationMs, detail: event.detail });
        return;
    }
  }

  private start(event: Extract<CallEvent, { type: 'call.started' }>): void {
    const startedAt = new Date(event.startedAt);
    const startedAtMs = Number.isNaN(startedAt.getTime()) ? Date.parse(event.ts) : startedAt.getTime();
    const recording: Recording = {
      row: {
        callSid: event.callSid,
        streamSid: event.streamSid,
        direction: event.direction,
        fromNumber: event.from,
        toNumber: event.to,
        startedAt: new Date(startedAtMs),
        engine: event.engine,
        model: event.model,
        voice: event.voice,
        configVersion: null,
        instanceId: this.config.INSTANCE_ID,
        // Nothing used yet: free if the model has a price, unknown if it has none.
        costUsd: this.prices.knows(event.model) ? 0 : null,
      },
      startedAtMs,
      seq: 0,
      items: new Map(),
      tools: new Map(),
      bargeIns: 0,
      reconnects: 0,
    };
    this.live.set(event.callSid, recording);
    const version = this.agentConfig.currentVersion();
    if (typeof version === 'number' || version === null) recording.row.configVersion = version;
    // Saved from the dashboard a moment ago: the number arrives with the save.
    else void version.then((v) => ((recording.row.configVersion = v), this.writeCall(recording)));
    this.writeCall(recording);
    this.writeEvent(recording, event, Date.parse(event.ts) - startedAtMs);
  }

  /** The call's final row; items and tools still open are written as they stand. */
  private finish(recording: Recording, endedAt: Date, end: { reason: string; durationMs: number; detail?: string }): void {
    const row = recording.row;
    this.live.delete(row.callSid);
    for (const item of recording.items.values()) {
      if (item.endMs === null || item.endMs === undefined) this.writer.write({ kind: 'transcript', row: { ...item } });
    }
    for (const tool of recording.tools.values()) this.writer.write({ kind: 'tool', row: { ...tool, outcome: 'cancelled' } });
    row.endedAt = endedAt;
    row.durationMs = end.durationMs;
    row.endReason = end.reason;
    row.endDetail = end.detail ?? null;
    this.writeCall(recording);
    const url = this.config.POST_CALL_WEBHOOK_URL;
    if (url) this.writer.write({ kind: 'webhook', callSid: row.callSid, url });
  }

  private item(recording: Recording, itemId: string, role: string, offsetMs: number): TranscriptRow {
    let item = recording.items.get(itemId);
    if (item) return item;
    item = { callSid: recording.row.callSid, itemId, role, text: '', startMs: offsetMs, endMs: null, interruptedAtMs: null };
    recording.items.set(itemId, item);
    if (recording.items.size > MAX_ITEMS) recording.items.delete(recording.items.keys().next().value!);
    return item;
  }

  private writeCall(recording: Recording): void {
    recording.row.bargeIns = recording.bargeIns;
    recording.row.reconnects = recording.reconnects;
    recording.row.updatedAt = new Date();
    // A copy: the queue may hold it while this call's row changes.
    this.writer.write({ kind: 'call', row: { ...recording.row } });
  }

  private writeEvent(recording: Recording, event: CallEvent, offsetMs: number): void {
    const { callSid, ts, type, ...data } = event;
    this.writer.write({ kind: 'event', row: { callSid, seq: recording.seq++, at: new Date(ts), offsetMs, type, data } });
  }
}
