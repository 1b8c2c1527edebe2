import { Injectable } from '@nestjs/common';

/**
 * Whether a person is watching the dashboard, so tools that need one (ask_operator) are offered
 * only then. The dashboard socket reports its clients; tools only read.
 */
@Injectable()
export class OperatorDesk {
  private watchers = 0;

  get isWatched(): boolean {
    return this.watchers > 0;
  }

  /** Counts one watcher until the returned function is called (safe to call twice). */
  join(): () => void {
    this.watchers++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.watchers--;
    };
  }
}
