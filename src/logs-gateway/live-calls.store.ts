import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { CallEventBus, type CallEvent, type ModelStatus, type VoiceEngineName } from '../call-gateway/call-events';

/** Bounds per live call, so a long call cannot grow the snapshot (or the server's memory) without limit. */
export const MAX_TRANSCRIPT_ENTRIES = 200;
export const MAX_FUNCTION_CALLS = 50;
export const MAX_ENTRY_CHARS = 4000;

export interface TranscriptEntry {
  itemId: string;
  role: 'user' | 'assistant';
  text: string;
  /** False while deltas are still arriving. */
  final: boolean;
  /** Set when the caller barged in: the assistant was cut at this many ms of the item's audio. */
  interruptedAtMs?: number;
  /** When the line began (its first event), ISO 8601. */
  at: string;
}

/** What the caller waited, as the call core measured it (`latency` events). */
export interface CallLatency {
  /** Stream start → first assistant audio sent; null until then. */
  firstAudioMs: number | null;
  /** Caller stopped talking → first audio of the answer: the last turn, the mean over `answers` turns. */
  lastAnswerMs: number | null;
  meanAnswerMs: number | null;
  answers: number;
}

export interface FunctionCallEntry {
  callId: string;
  name: string;
  arguments: string;
  status: 'running' | 'done';
  output?: string;
  durationMs?: number;
  error?: string;
  answeredBy?: 'tool' | 'operator';
}

/** One live call as a dashboard that connects now should see it. */
export interface LiveCallView {
  callSid: string;
  streamSid: string;
  from: string | null;
  to: string | null;
  direction: string | null;
  startedAt: string;
  /** The voice engine and model the call runs on. */
  engine: VoiceEngineName;
  model: string;
  /** What the call has used so far: seconds of session (GPT-Live) and tokens (Realtime, and GPT-Live's backend). */
  usage: { billedSeconds: number; tokens: number };
  modelStatus: ModelStatus;
  /** Why the model failed, in words a person can act on (e.g. "the Realtime API refused the key (401): check OPENAI_API_KEY"); null otherwise. */
  modelProblem: string | null;
  latency: CallLatency;
  transcript: TranscriptEntry[];
  functionCalls: FunctionCallEntry[];
  /** USD so far, from the latest `cost` event; null = unknown (no price for the model); absent before the first response. */
  costUsd?: number | null;
}

interface LiveCall extends LiveCallView {
  byItem: Map<string, TranscriptEntry>;
  byCallId: Map<string, FunctionCallEntry>;
  answerTotalMs: number;
}

/**
 * What a dashboard that joins mid-call needs: the live calls and, for each, the recent transcript
 * and function calls, rebuilt from call events. A call's record is dropped when it ends.
 */
@Injectable()
export class LiveCallsStore implements OnModuleDestroy {
  private readonly calls = new Map<string, LiveCall>();
  private readonly unsubscribe: () => void;

  constructor(events: CallEventBus) {
    this.unsubscribe = events.subscribe((event) => this.apply(event));
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  get size(): number {
    return this.calls.size;
  }

  /** Live calls (or the one call `callSid`). The objects are live state: serialise them at once. */
  snapshot(callSid: string | null = null): LiveCallView[] {
    const calls = callSid === null ? [...this.calls.values()] : [this.calls.get(callSid)].filter((c) => c !== undefined);
    return calls.map(({ byItem: _items, byCallId: _calls, answerTotalMs: _total, ...view }) => view);
  }

  apply(event: CallEvent): void {
    if (event.type === 'call.started') {
      this.calls.set(event.callSid, {
        callSid: event.callSid,
        streamSid: event.streamSid,
        from: event.from,
        to: event.to,
        direction: event.direction,
        startedAt: event.startedAt,
        engine: event.engine,
        model: event.model,
        usage: { billedSeconds: 0, tokens: 0 },
        // The model was dialled before the stream started; 'connected' follows once it is configured.
        modelStatus: 'connecting',
        modelProblem: null,
        latency: { firstAudioMs: null, lastAnswerMs: null, meanAnswerMs: null, answers: 0 },
        transcript: [],
        functionCalls: [],
        byItem: new Map(),
        byCallId: new Map(),
        answerTotalMs: 0,
      });
      return;
    }
    // Events of calls not (or no longer) live, e.g. a pre-dial's 'connecting', are not kept.
    const call = this.calls.get(event.callSid);
    if (!call) return;
    switch (event.type) {
      case 'call.ended':
        this.calls.delete(event.callSid);
        return;
      case 'model.status':
        call.modelStatus = event.status;
        if (event.status === 'failed') call.modelProblem = event.problem?.message ?? event.detail ?? null;
        else if (event.status === 'connected') call.modelProblem = null;
        return;
      case 'latency': {
        const latency = call.latency;
        if (event.kind === 'first_audio') latency.firstAudioMs = event.ms;
        else {
          latency.answers += 1;
          call.answerTotalMs += event.ms;
          latency.lastAnswerMs = event.ms;
          latency.meanAnswerMs = Math.round(call.answerTotalMs / latency.answers);
        }
        return;
      }
      case 'cost':
        call.costUsd = event.totalUsd;
        return;
      case 'transcript.delta': {
        const entry = this.entry(call, event.itemId, event.role, event.ts);
        if (entry.text.length < MAX_ENTRY_CHARS) entry.text = (entry.text + event.delta).slice(0, MAX_ENTRY_CHARS);
        return;
      }
      case 'transcript.done': {
        const entry = this.entry(call, event.itemId, event.role, event.ts);
        entry.text = event.text.slice(0, MAX_ENTRY_CHARS);
        entry.final = true;
        return;
      }
      case 'usage':
        call.usage.billedSeconds = Math.round((call.usage.billedSeconds + (event.billedSeconds ?? 0)) * 1000) / 1000;
        call.usage.tokens += event.totalTokens;
        return;
      case 'barge_in': {
        const entry = call.byItem.get(event.itemId);
        if (entry) entry.interruptedAtMs = event.audioEndMs;
        return;
      }
      case 'function_call.started': {
        const entry: FunctionCallEntry = { callId: event.callId, name: event.name, arguments: event.arguments.slice(0, MAX_ENTRY_CHARS), status: 'running' };
        call.functionCalls.push(entry);
        call.byCallId.set(entry.callId, entry);
        if (call.functionCalls.length > MAX_FUNCTION_CALLS) call.byCallId.delete(call.functionCalls.shift()!.callId);
        return;
      }
      case 'function_call.finished': {
        const entry = call.byCallId.get(event.callId);
        if (!entry) return;
        entry.status = 'done';
        entry.output = event.output.slice(0, MAX_ENTRY_CHARS);
        entry.durationMs = event.durationMs;
        entry.answeredBy = event.answeredBy;
        if (event.error !== undefined) entry.error = event.error;
        return;
      }
    }
  }

  private entry(call: LiveCall, itemId: string, role: 'user' | 'assistant', at: string): TranscriptEntry {
    let entry = call.byItem.get(itemId);
    if (entry) return entry;
    entry = { itemId, role, text: '', final: false, at };
    call.transcript.push(entry);
    call.byItem.set(itemId, entry);
    if (call.transcript.length > MAX_TRANSCRIPT_ENTRIES) call.byItem.delete(call.transcript.shift()!.itemId);
    return entry;
  }
}
