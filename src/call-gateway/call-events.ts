import { Injectable, Logger } from '@nestjs/common';
import type { ModelProblem } from '../openai/model-failure';
import type { ResponseUsage } from '../openai/voice-engine';

export type { ResponseUsage };

/**
 * Optional additions to a `usage` event that pricing uses when an engine reports them (absent
 * otherwise): the cached tokens by modality (cached audio and text are priced apart), and the
 * seconds billed by a per-second engine (GPT-Live's session.usage.updated).
 */
export interface UsageDetails {
  cachedAudioTokens?: number;
  cachedTextTokens?: number;
  billedSeconds?: number;
}

/** The price of a call so far, published after each priced `usage` (src/records/cost-meter.service.ts). */
export interface CallCost {
  /** What this response cost; null = unknown (the model is not in the price table). */
  usd: number | null;
  /** The call's total so far; null once any part of it could not be priced. */
  totalUsd: number | null;
}

/**
 * Longest text a call event carries (transcripts, function arguments and outputs): events go to
 * every dashboard and to the records, and a model frame may be a megabyte.
 */
export const MAX_EVENT_TEXT = 4000;

/** Why a call ended. */
export type CallEndReason =
  | 'caller-hung-up' // Twilio `stop`
  | 'twilio-disconnected' // the media socket closed without `stop`
  | 'agent-ended' // the model called end_call
  | 'model-unavailable' // the Realtime socket could not open or closed mid-call
  | 'media-timeout'
  | 'max-duration'
  | 'backpressure'
  | 'protocol-error'
  | 'operator'
  | 'shutdown'
  | 'internal-error'; // a bug while handling this call's messages (logged with its stack)

/** Every end reason at run time (for the API description); a Record, so none can be left out. */
const END_REASONS: Record<CallEndReason, true> = {
  'caller-hung-up': true,
  'twilio-disconnected': true,
  'agent-ended': true,
  'model-unavailable': true,
  'media-timeout': true,
  'max-duration': true,
  backpressure: true,
  'protocol-error': true,
  operator: true,
  shutdown: true,
  'internal-error': true,
};
export const CALL_END_REASONS = Object.keys(END_REASONS) as CallEndReason[];

export type ModelStatus = 'connecting' | 'connected' | 'reconnecting' | 'failed' | 'closed';

/** Which voice API a call talks to. */
export type VoiceEngineName = 'realtime' | 'live';

/**
 * What happens in a call, in our own stable vocabulary (not raw OpenAI event names).
 * Published on the CallEventBus; the logs gateway, metrics and history read them.
 * Never published per audio frame. This is the dashboard contract (docs/asyncapi.json is
 * generated from it: run `npm run docs:asyncapi` after a change): add fields freely, but renaming
 * or removing one needs a new envelope version.
 */
export type CallEventBody =
  | {
      type: 'call.started';
      streamSid: string;
      from: string | null;
      to: string | null;
      direction: string | null;
      startedAt: string;
      /** The voice engine, model and voice this call runs on (fixed for the call). */
      engine: VoiceEngineName;
      model: string;
      voice: string;
    }
  | {
      type: 'call.ended';
      reason: CallEndReason;
      durationMs: number;
      framesIn: number;
      framesOut: number;
      badFrames: number;
      /** Model audio of an interrupted answer that was dropped, not played. */
      lateDeltasDropped: number;
      /** From the stream's `start` to the first audio sent to the caller; null if none was. */
      firstAudioMs: number | null;
      /** Times the caller talked over the assistant (playback cleared). */
      bargeIns: number;
      /** Model connections restored after a loss (not counting session rollovers). */
      reconnects: number;
      /** Milliseconds of audio from the caller and to the caller (optional: older cores did not report them). */
      audioInMs?: number;
      audioOutMs?: number;
      /** Why, in words a user can act on (e.g. "the Realtime API refused the key (401): check OPENAI_API_KEY"); set when the end was a failure. */
      detail?: string;
    }
  | {
      type: 'model.status';
      status: ModelStatus;
      connectMs?: number;
      detail?: string;
      /** With `failed`: the cause, classified, and what to do (e.g. a refused key). */
      problem?: ModelProblem;
      /** Reconnects: attempt number, time from loss to restored, caller frames held and dropped meanwhile. */
      attempt?: number;
      reconnectMs?: number;
      heldFrames?: number;
      droppedFrames?: number;
    }
  | { type: 'transcript.delta'; role: 'user' | 'assistant'; itemId: string; delta: string }
  | { type: 'transcript.done'; role: 'user' | 'assistant'; itemId: string; text: string }
  /** The caller talked over the assistant: `itemId` is the item that was playing; `items` counts every item cut (later ones at 0 ms). */
  | {
      type: 'barge_in';
      itemId: string;
      audioEndMs: number;
      sentMs: number;
      items: number;
      /** Every item cut, each at its own position. */ cuts: { itemId: string; audioEndMs: number; sentMs: number }[];
    }
  | { type: 'function_call.started'; callId: string; name: string; arguments: string }
  | {
      type: 'function_call.finished';
      callId: string;
      name: string;
      output: string;
      durationMs: number;
      error?: string;
      /** 'operator' when a dashboard answered it by hand. */
      answeredBy: 'tool' | 'operator';
    }
  | { type: 'dtmf'; digit: string }
  | ({
      type: 'usage';
      /** The response (or, for usage billed by time, the report) this usage is for: unique within the call. */
      responseId: string;
      status: string;
      /** The model the usage is billed for (prices are per model): GPT-Live's seconds name the Live model, its backend's tokens the Responses model. */
      model: string;
      /** The engine of the call (optional: older cores did not say). */
      engine?: VoiceEngineName;
    } & ResponseUsage &
      UsageDetails)
  /** A latency the caller felt: `first_audio` once per call (stream start → first assistant audio sent), `answer` per turn (caller stopped talking → first audio of the answer sent). */
  | { type: 'latency'; kind: 'first_audio' | 'answer'; ms: number }
  | { type: 'error'; source: 'twilio' | 'model' | 'tool' | 'server'; message: string; code?: string }
  /** The price of the response just reported by `usage` (same responseId), and of the call so far. */
  | ({ type: 'cost'; responseId: string; model: string } & CallCost);

/** Every call event type at run time (for the API description); a Record, so none can be left out. */
const EVENT_TYPES: Record<CallEventBody['type'], true> = {
  'call.started': true,
  'call.ended': true,
  'model.status': true,
  'transcript.delta': true,
  'transcript.done': true,
  barge_in: true,
  'function_call.started': true,
  'function_call.finished': true,
  dtmf: true,
  usage: true,
  latency: true,
  error: true,
  cost: true,
};
export const CALL_EVENT_TYPES = Object.keys(EVENT_TYPES) as CallEventBody['type'][];

export type CallEvent = CallEventBody & { callSid: string; ts: string };

export type CallEventListener = (event: CallEvent) => void;

/** In-process publish/subscribe for call events. Synchronous; a throwing listener is logged and skipped. */
@Injectable()
export class CallEventBus {
  private readonly logger = new Logger(CallEventBus.name);
  private readonly listeners = new Set<CallEventListener>();

  subscribe(listener: CallEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  publish(callSid: string, body: CallEventBody): void {
    if (this.listeners.size === 0) return;
    const event = { ...body, callSid, ts: new Date().toISOString() };
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error({ err, event: event.type }, 'a call event listener failed');
      }
    }
  }
}
