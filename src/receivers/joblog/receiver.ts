// The joblog receiver: follows log files (tailer.ts), parses each line into a record and
// maps records to measurements (both from the shared events module). Offsets live in one
// checkpoint file per state directory, shared by every joblog receiver (shared-checkpoints.ts);
// with them, in the same write, each receiver's metric values and open pairs (`persist`).
import { Lifecycle, StatusOnChange } from '../../component/lifecycle.js';
import type { Counter, Gauge, Receiver, ReceiverSettings } from '../../component/types.js';
import { EventPipeline, type EventMapper, type LineParser, type RefusalCounter } from '../../events/index.js';
import type { JoblogConfig } from './config.js';
import { SharedCheckpoints } from './shared-checkpoints.js';
import { Tailer, type LineSource, type RefusalReason, type TailerStats } from './tailer.js';

/** How often quiet work runs: pair expiry, elapsed gauges, own metrics, status, held-back refusal logs. */
const HOUSEKEEPING_INTERVAL_MS = 1000;

/** The refusals the tailer reports, before any parsing. */
const READING_REFUSALS: RefusalReason[] = ['line_too_long', 'invalid_utf8'];

/** The tailer's cumulative counts that become the agent's own counters. */
type CountedStat = 'linesEmitted' | 'bytesRead' | 'rotations' | 'truncations' | 'errors';

export class JoblogReceiver implements Receiver {
  private readonly events: EventPipeline;
  private readonly parse: LineParser;
  private readonly mapper: EventMapper;
  private readonly refusals: RefusalCounter;
  private readonly checkpoints: SharedCheckpoints;
  private readonly tailer: Tailer;
  private readonly selfAttributes: { receiver: string };
  private readonly counters: Record<CountedStat, Counter>;
  private readonly filesOpen: Gauge;
  private readonly pairsOpen: Gauge;
  /** Tailer counts already added to the counters. */
  private readonly reported: Record<CountedStat, number> = { linesEmitted: 0, bytesRead: 0, rotations: 0, truncations: 0, errors: 0 };
  /** The file of the line being handled, for refusal logs. */
  private currentPath: string | undefined;
  /** When the lines being handed on now were read; cleared once the synchronous run of them ends. */
  private readAtMs: number | undefined;
  private readonly lifecycle: Lifecycle;
  private readonly status: StatusOnChange;
  private timer: NodeJS.Timeout | undefined;
  /** Settles once saved values are back (or start ended without them): a collection waits for it. */
  private readonly restored: Promise<void>;
  private markRestored!: () => void;

  constructor(
    private readonly settings: ReceiverSettings,
    private readonly config: JoblogConfig,
  ) {
    const { id, logger, telemetry } = settings;
    this.status = new StatusOnChange(settings.status);
    this.lifecycle = new Lifecycle(`receiver "${id}"`, { start: (signal) => this.begin(signal), stop: (started) => this.end(started) });
    this.restored = new Promise((resolve) => (this.markRestored = resolve));
    this.events = new EventPipeline(settings, config, {
      receiverRefusals: READING_REFUSALS,
      source: () => this.currentPath,
      persistValues: config.persist,
    });
    ({ parse: this.parse, mapper: this.mapper, refusals: this.refusals } = this.events);

    // Without a timestamp field a record's time is when its line was read; with one, the parser reads it from the record.
    const readTime = this.events.recordTimeFromField ? () => 0 : () => this.readTime();

    this.selfAttributes = Object.freeze({ receiver: id });
    const counter = (name: string, unit: string, description: string) => {
      const instrument = telemetry.counter(name, { unit, description });
      instrument.add(0, this.selfAttributes);
      return instrument;
    };
    this.counters = {
      linesEmitted: counter('otel_agent.joblog.lines', '{lines}', 'Lines read from job logs and handed to the parser (too long or not UTF-8: refused instead).'),
      bytesRead: counter('otel_agent.joblog.read', 'By', 'Bytes read from job logs.'),
      rotations: counter('otel_agent.joblog.rotations', '{files}', 'Job log files that moved or left the watched paths.'),
      truncations: counter('otel_agent.joblog.truncations', '{files}', 'Job log files truncated or rewritten, read again from the start.'),
      errors: counter('otel_agent.joblog.errors', '{errors}', 'Failures to read a job log or write its checkpoint.'),
    };
    this.filesOpen = telemetry.gauge('otel_agent.joblog.files.open', { unit: '{files}', description: 'Job log files held open.' });
    this.pairsOpen = telemetry.gauge('otel_agent.joblog.pairs.open', {
      unit: '{pairs}',
      description: 'Start records waiting for their end record (paired metrics).',
    });

    // Created with the receiver, so every joblog receiver of a service shares the store before any starts.
    this.checkpoints = new SharedCheckpoints(settings.store, id, logger);
    this.tailer = new Tailer({
      paths: config.paths,
      exclude: config.exclude_paths,
      startAt: config.start_at,
      maxLineBytes: config.max_line_bytes,
      pollIntervalMs: config.poll_interval,
      flushTimeoutMs: config.flush_timeout,
      checkpointIntervalMs: config.checkpoint_interval,
      checkpoints: this.checkpoints,
      claim: (identity, path) => this.checkpoints.claim(identity, path),
      release: (identity) => this.checkpoints.release(identity),
      onLine: (bytes: Buffer, start: number, end: number, source: LineSource) => {
        this.currentPath = source.path;
        this.parse(bytes, start, end, readTime());
      },
      onRefused: (reason: RefusalReason, source: LineSource) => this.refusals.refuse(reason, source.path),
      logger,
    });
  }

  /**
   * Positions every file found (checkpoint, or `start_at`) and makes those positions durable
   * before resolving: a line written after that is never skipped. Reading goes on in the background.
   */
  start(signal: AbortSignal): Promise<void> {
    return this.lifecycle.start(signal);
  }

  private async begin(signal: AbortSignal): Promise<void> {
    if (signal.aborted) {
      this.markRestored();
      return;
    }
    try {
      await this.checkpoints.load();
      this.restoreMappingState();
      this.markRestored();
      await this.tailer.start();
    } catch (error) {
      // Nobody shuts down a receiver that failed to start: let go of its files here.
      this.markRestored();
      await this.release(true).catch(() => undefined);
      throw error;
    }
    if (signal.aborted) return;
    this.housekeep();
    // Quiet work must not keep the process alive by itself: the agent decides that.
    this.timer = setInterval(() => this.housekeep(), HOUSEKEEPING_INTERVAL_MS).unref();
  }

  /**
   * Before each collection: pairs past their timeout dropped, elapsed gauges and own metrics
   * current. A collection that comes before start has brought saved values back (the exporter
   * starts first) waits for them, within its deadline: it never shows a counter from zero that
   * the next one shows continued.
   */
  async collect(signal?: AbortSignal): Promise<void> {
    const phase = this.lifecycle.phase;
    if (phase === 'created' || phase === 'starting') await untilAborted(this.restored, signal);
    if (!this.lifecycle.active) return;
    this.mapper.refresh();
    this.reportStats(this.tailer.stats());
  }

  /** Final checkpoint, then every file closed. Idempotent, safe without start. */
  shutdown(): Promise<void> {
    return this.lifecycle.shutdown();
  }

  private async end(started: boolean): Promise<void> {
    this.markRestored();
    await this.release(started);
  }

  private async release(started: boolean): Promise<void> {
    clearInterval(this.timer);
    // Never started: the registration made at creation goes at once, so a service created next
    // (right after this one failed to start, say) finds the shared store without it.
    if (!started) this.checkpoints.close();
    try {
      await this.tailer.shutdown();
    } finally {
      this.checkpoints.close();
      if (started) {
        this.reportStats(this.tailer.stats());
        this.refusals.flush(true);
      }
      // A stopped receiver holds no file open and no pair.
      this.filesOpen.remove(this.selfAttributes);
      this.pairsOpen.remove(this.selfAttributes);
    }
  }

  /**
   * Brings back what the mapping kept (open pairs, elapsed clocks, gauges' last values) as
   * saved with the offsets reading resumes from, at a graceful stop or at the last checkpoint
   * before a crash; then has each checkpoint save it anew.
   */
  private restoreMappingState(): void {
    this.events.keepStateIn(this.checkpoints);
  }

  /**
   * The lines of one chunk are handed on in one synchronous run: they share one reading of the
   * clock, taken at the first of them (a clock read per line cost 5% of a regex line).
   */
  private readTime(): number {
    if (this.readAtMs === undefined) {
      this.readAtMs = Date.now();
      queueMicrotask(() => (this.readAtMs = undefined));
    }
    return this.readAtMs;
  }

  private housekeep(): void {
    if (!this.lifecycle.active) return;
    this.mapper.refresh();
    const stats = this.tailer.stats();
    this.reportStats(stats);
    this.reportStatus(stats);
    this.refusals.flush();
  }

  private reportStats(stats: TailerStats): void {
    for (const name of Object.keys(this.reported) as CountedStat[]) {
      const delta = stats[name] - this.reported[name];
      if (delta > 0) this.counters[name].add(delta, this.selfAttributes);
      this.reported[name] = stats[name];
    }
    this.filesOpen.set(stats.filesOpen, this.selfAttributes);
    this.pairsOpen.set(this.mapper.openPairs(), this.selfAttributes);
  }

  /**
   * Degraded while a file under the paths cannot be read (which, and why), or while no file
   * matching them is followed: a typo in a glob, or a file the agent may not read, shows in /health.
   */
  private reportStatus(stats: TailerStats): void {
    let reason: string | undefined;
    if (stats.failing.length > 0) {
      const [first] = stats.failing;
      const others = stats.failing.length - 1;
      reason = `cannot read ${first.path}: ${first.error}${others > 0 ? ` (and ${others} more file${others > 1 ? 's' : ''})` : ''}`;
    } else if (stats.filesTracked === 0) {
      reason =
        this.checkpoints.filesYielded > 0
          ? `every file matching paths is read by another joblog receiver: ${this.config.paths.join(', ')}`
          : `no file matches paths yet: ${this.config.paths.join(', ')}`;
    }
    this.status.report(reason === undefined ? 'ok' : 'degraded', reason);
  }
}

/** Resolves when `promise` settles or `signal` aborts, whichever comes first. */
function untilAborted(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    void promise.then(done, done);
  });
}
