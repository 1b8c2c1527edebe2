import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { CallEventBus, type CallEvent } from '../call-gateway/call-events';
import { PriceTable } from './price-table';

/**
 * Prices each `usage` event and publishes a `cost` event with the response's price and the
 * call's total so far (for the live dashboard and the record). One small calculation per model
 * response; never per frame. Works with or without the records database.
 */
@Injectable()
export class CostMeter implements OnModuleDestroy {
  /** Running total per live call; null once a part could not be priced. */
  private readonly totals = new Map<string, number | null>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly events: CallEventBus,
    private readonly prices: PriceTable,
  ) {
    this.unsubscribe = events.subscribe((event) => this.onEvent(event));
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  private onEvent(event: CallEvent): void {
    if (event.type === 'call.started') {
      this.totals.set(event.callSid, 0);
      return;
    }
    if (event.type === 'call.ended') {
      this.totals.delete(event.callSid);
      return;
    }
    if (event.type !== 'usage') return;
    const usd = this.prices.cost(event.model, event);
    const before = this.totals.get(event.callSid) ?? 0;
    const totalUsd = before === null || usd === null ? null : before + usd;
    if (this.totals.has(event.callSid)) this.totals.set(event.callSid, totalUsd);
    this.events.publish(event.callSid, { type: 'cost', responseId: event.responseId, model: event.model, usd, totalUsd });
  }
}
