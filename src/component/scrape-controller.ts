// How a pull-style receiver (hostmetrics now; Redis, checksum, netlink next) reads its source:
// on its own interval, one run at a time, each run under a deadline, its outcome reported as the
// component's status. The receiver writes only the scrape itself.
//
//   const controller = new ScrapeController({
//     name: `receiver "${id}"`,
//     intervalMs: config.collection_interval,
//     scrape: (signal) => readTheSource(signal),   // records into the meter; may throw
//     problem: (result) => result.partial ? 'one key did not answer' : undefined,
//     status: settings.status,
//   });
//   start(signal):  controller.start(signal)     // first run now, then every intervalMs
//   collect(signal): controller.collect(signal)  // the exporter's deadline is `signal`
//   stop():         await controller.stop()      // timer cleared, run in progress aborted and awaited
//
// - One run at a time: a tick, a `run()` or a `collect()` that comes while a run is in progress
//   joins it instead of starting another.
// - A run's signal aborts when its deadline passes (`timeoutMs`, by default the interval), when
//   the controller stops, and, for a run a collect started, when that collect's signal aborts.
//   A collect whose signal aborts returns at once: the meter is exported with what it holds.
// - After each run the status is `ok`, or `degraded` with why (the scrape threw, was aborted, or
//   `problem` named something it had to leave out); only changes are passed on.
import { StatusOnChange } from './lifecycle.js';
import type { StatusReporter } from './types.js';

/**
 * What a collect does when no run is in progress: `join` returns at once with what the last
 * run recorded (the interval decides how fresh data is, as in the Collector's scrapers);
 * `refresh` starts a run under the collect's deadline and waits for it.
 */
export type CollectMode = 'join' | 'refresh';

export interface ScrapeControllerOptions<T> {
  /** Named in reasons: `receiver "redis/cache"`. */
  name: string;
  /** Time between the starts of two runs. */
  intervalMs: number;
  /** Deadline of one run, from its start; defaults to the interval. */
  timeoutMs?: number;
  /** Defaults to `join`. */
  onCollect?: CollectMode;
  /** One read of the source. Aborting `signal` asks it to stop; what it recorded stays. */
  scrape(signal: AbortSignal): Promise<T>;
  /** Why a run that returned still leaves the component degraded; undefined when nothing is amiss. */
  problem?(result: T): string | undefined;
  status: StatusReporter;
}

interface Run<T> {
  promise: Promise<T | undefined>;
  abort: AbortController;
}

export class ScrapeController<T> {
  private readonly status: StatusOnChange;
  private timer?: NodeJS.Timeout;
  private current?: Run<T>;
  private stopped = false;
  private last?: T;

  constructor(private readonly options: ScrapeControllerOptions<T>) {
    this.status = new StatusOnChange(options.status);
  }

  /** What the last run that returned gave, if any. */
  get latest(): T | undefined {
    return this.last;
  }

  /** Runs once now, then every interval, until `signal` aborts or `stop()`. */
  start(signal: AbortSignal): void {
    if (this.stopped || this.timer) return;
    if (signal.aborted) {
      this.stopped = true;
      return;
    }
    signal.addEventListener('abort', () => void this.stop(), { once: true });
    // The timer must not keep the process alive by itself: the agent decides that.
    this.timer = setInterval(() => void this.run(), this.options.intervalMs).unref();
    void this.run();
  }

  /**
   * The run in progress, or a new one. Resolves with the scrape's result, or undefined when it
   * threw (the status says why) or the controller has stopped. Never rejects.
   */
  run(caller?: AbortSignal): Promise<T | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    if (this.current) return this.current.promise;
    const abort = new AbortController();
    const timeoutMs = this.options.timeoutMs ?? this.options.intervalMs;
    const deadline = setTimeout(() => abort.abort(new Error(`scrape deadline of ${timeoutMs}ms passed`)), timeoutMs);
    const onCallerAbort = () => abort.abort(caller!.reason);
    caller?.addEventListener('abort', onCallerAbort, { once: true });
    const run: Run<T> = {
      abort,
      promise: this.execute(abort.signal).finally(() => {
        clearTimeout(deadline);
        caller?.removeEventListener('abort', onCallerAbort);
        if (this.current === run) this.current = undefined;
      }),
    };
    this.current = run;
    return run.promise;
  }

  /**
   * A collection's refresh: waits for the run in progress (or, in `refresh` mode, a new one)
   * until it ends or `signal` aborts, whichever is first. Never rejects.
   */
  async collect(signal: AbortSignal): Promise<void> {
    if (this.stopped || signal.aborted) return;
    const run = this.current?.promise ?? (this.options.onCollect === 'refresh' ? this.run(signal) : undefined);
    if (!run) return;
    let onAbort!: () => void;
    const aborted = new Promise<void>((resolve) => {
      onAbort = resolve;
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([run, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Stops the timer, aborts the run in progress and waits for it. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const run = this.current;
    if (!run) return;
    run.abort.abort(new Error(`${this.options.name} stopped`));
    await run.promise;
  }

  private async execute(signal: AbortSignal): Promise<T | undefined> {
    try {
      const result = await this.options.scrape(signal);
      this.last = result;
      const problem = this.options.problem?.(result);
      if (!this.stopped) this.status.report(problem === undefined ? 'ok' : 'degraded', problem);
      return result;
    } catch (error) {
      if (!this.stopped) {
        const message = error instanceof Error ? error.message : String(error);
        const reason = signal.aborted ? `scrape aborted: ${(signal.reason as Error)?.message ?? String(signal.reason)}` : message;
        this.status.report('degraded', reason.split(/\r?\n/, 1)[0]);
      }
      return undefined;
    }
  }
}
