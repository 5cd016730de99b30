// Refused input, counted and logged at a bounded rate: a file of garbage must neither flood
// the log nor go unnoticed. Every refusal is counted in the agent's own metrics
// (`otel_agent.receiver.refused{receiver,reason}`); the first of each reason is logged at
// once, then at most one line per reason a minute with the count since the last line.
import type { Attributes, Counter, Logger, Meter } from '../component/types.js';

export const REFUSED_METRIC = 'otel_agent.receiver.refused';
export const REFUSAL_LOG_INTERVAL_MS = 60_000;

interface ReasonState {
  readonly attributes: Attributes;
  /** Refusals not yet reported in a log line. */
  unlogged: number;
  lastLoggedAt: number | undefined;
  lastPath: string | undefined;
}

export class RefusalCounter {
  private readonly counter: Counter;
  private readonly reasons = new Map<string, ReasonState>();

  constructor(
    telemetry: Meter,
    private readonly receiverId: string,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.counter = telemetry.counter(REFUSED_METRIC, {
      unit: '{lines}',
      description: 'Lines, records or open pairs a receiver refused and skipped, by reason.',
    });
  }

  /** Starts the series of reasons that this config can produce at 0, so that rates see them from the start. */
  expect(reasons: Iterable<string>): void {
    for (const reason of reasons) this.counter.add(0, this.state(reason).attributes);
  }

  refuse(reason: string, path: string | undefined): void {
    const state = this.state(reason);
    this.counter.add(1, state.attributes);
    state.unlogged += 1;
    state.lastPath = path;
    const now = this.now();
    if (state.lastLoggedAt === undefined) {
      this.logger.warn(
        { reason, path },
        `input refused (${reason}) and skipped; further refusals for this reason are logged at most once a minute`,
      );
      state.unlogged = 0;
      state.lastLoggedAt = now;
    } else if (now - state.lastLoggedAt >= REFUSAL_LOG_INTERVAL_MS) {
      this.report(reason, state, now);
    }
  }

  /** Logs the counts held back for a minute or more; `all` logs every count held back (shutdown). */
  flush(all = false): void {
    const now = this.now();
    for (const [reason, state] of this.reasons) {
      if (state.unlogged === 0 || state.lastLoggedAt === undefined) continue;
      if (all || now - state.lastLoggedAt >= REFUSAL_LOG_INTERVAL_MS) this.report(reason, state, now);
    }
  }

  private report(reason: string, state: ReasonState, now: number): void {
    this.logger.warn(
      { reason, count: state.unlogged, sinceMs: now - (state.lastLoggedAt ?? now), lastPath: state.lastPath },
      `${state.unlogged} more input refused (${reason}) and skipped`,
    );
    state.unlogged = 0;
    state.lastLoggedAt = now;
  }

  private state(reason: string): ReasonState {
    let state = this.reasons.get(reason);
    if (state === undefined) {
      state = { attributes: Object.freeze({ receiver: this.receiverId, reason }), unlogged: 0, lastLoggedAt: undefined, lastPath: undefined };
      this.reasons.set(reason, state);
    }
    return state;
  }
}
