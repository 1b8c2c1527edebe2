import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { CallEventBus, type CallEvent } from '../call-gateway/call-events';
import type { ModelProblem } from '../openai/model-failure';

/** How many recent model connection outcomes are remembered. */
const REMEMBERED = 10;
/** This many failures in a row, with no success since, means the model is unreachable. */
export const UNREACHABLE_AFTER_FAILURES = 3;
/** Problems that will not go away by themselves (a refused key, a wrong model or URL, no quota): one is enough. */
const LASTING_PROBLEMS = new Set<ModelProblem['kind']>(['auth', 'model', 'quota']);

interface Outcome {
  ok: boolean;
  at: number;
  connectMs?: number;
  detail?: string;
  problem?: ModelProblem;
}

export interface ModelReachabilityReport {
  reachable: boolean;
  /** Outcomes remembered (at most REMEMBERED), newest last. */
  recent: number;
  failures: number;
  consecutiveFailures: number;
  lastConnectMs: number | null;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  /** Close code and reason of the last failure, e.g. "1006 HTTP 401 from Realtime API" (never a secret). */
  lastFailure: string | null;
  /**
   * What is wrong and what to do, while the model is unreachable: the cause of the last failure as
   * the call core classified it (e.g. kind "auth", "the Realtime API refused the key (401): check
   * OPENAI_API_KEY"), or a summary of the failures. Null while reachable.
   */
  problem: ModelProblem | null;
}

/**
 * Whether the Realtime API could be reached lately, from the `model.status` events of real calls
 * (connected = the session was configured; failed = the connection never got that far).
 * No probing of its own: it costs nothing and reports what callers actually got.
 */
@Injectable()
export class ModelReachability implements OnModuleDestroy {
  private readonly outcomes: Outcome[] = [];
  private readonly unsubscribe: () => void;

  constructor(events: CallEventBus) {
    this.unsubscribe = events.subscribe((event) => this.onEvent(event));
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  report(): ModelReachabilityReport {
    const outcomes = this.outcomes;
    let consecutiveFailures = 0;
    for (let i = outcomes.length - 1; i >= 0 && !outcomes[i].ok; i--) consecutiveFailures++;
    const lastSuccess = findLast(outcomes, (o) => o.ok);
    const lastFailure = findLast(outcomes, (o) => !o.ok);
    const lasting = consecutiveFailures > 0 && lastFailure?.problem !== undefined && LASTING_PROBLEMS.has(lastFailure.problem.kind);
    const reachable = consecutiveFailures < UNREACHABLE_AFTER_FAILURES && !lasting;
    return {
      reachable,
      recent: outcomes.length,
      failures: outcomes.filter((o) => !o.ok).length,
      consecutiveFailures,
      lastConnectMs: lastSuccess?.connectMs ?? null,
      lastSuccessAt: lastSuccess ? new Date(lastSuccess.at).toISOString() : null,
      lastFailureAt: lastFailure ? new Date(lastFailure.at).toISOString() : null,
      lastFailure: lastFailure?.detail ?? null,
      problem: reachable ? null : (lastFailure?.problem ?? summary(consecutiveFailures, lastFailure?.detail)),
    };
  }

  private onEvent(event: CallEvent): void {
    if (event.type !== 'model.status') return;
    if (event.status === 'connected') this.remember({ ok: true, at: Date.now(), connectMs: event.connectMs });
    else if (event.status === 'failed') this.remember({ ok: false, at: Date.now(), detail: event.detail, problem: event.problem });
  }

  private remember(outcome: Outcome): void {
    this.outcomes.push(outcome);
    if (this.outcomes.length > REMEMBERED) this.outcomes.shift();
  }
}

function summary(failures: number, detail: string | undefined): ModelProblem {
  return {
    kind: 'network',
    message: `the last ${failures} model connections failed${detail ? ` (last: ${detail})` : ''}: check OPENAI_REALTIME_URL (OPENAI_LIVE_URL for GPT-Live calls), the network and status.openai.com`,
  };
}

function findLast<T>(items: T[], match: (item: T) => boolean): T | undefined {
  for (let i = items.length - 1; i >= 0; i--) if (match(items[i])) return items[i];
  return undefined;
}
