// The contract every receiver, processor and exporter implements. This file imports
// nothing of ours, so every layer may depend on it.
import type { Attributes } from '@opentelemetry/api';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { z } from 'zod';

export type Kind = 'receiver' | 'processor' | 'exporter';

/** How far a component is from being something an operator can rely on. */
export type Stability = 'development' | 'alpha' | 'beta' | 'stable';

/**
 * Lifecycle states a component reports. `degraded` keeps running with a reason
 * (a broker down, a reconnect pending); `failed` needs the operator.
 */
export type ComponentStatus = 'starting' | 'ok' | 'degraded' | 'failed' | 'stopping' | 'stopped';

/** Minimal structured logger (pino-compatible): an object of fields, then a message. */
export interface Logger {
  debug(fields: object, msg?: string): void;
  info(fields: object, msg?: string): void;
  warn(fields: object, msg?: string): void;
  error(fields: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface StatusReporter {
  /** Record the component's state; `reason` is shown by /health and must hold no secret. */
  report(status: ComponentStatus, reason?: string): void;
}

/** OpenTelemetry attributes: string keys, primitive or array values. */
export type { Attributes };

export interface InstrumentOptions {
  description?: string;
  /** UCUM unit: `s`, `By`, `{jobs}`, `1`. */
  unit?: string;
  /** `int` values are exported without a fractional part. */
  valueType?: 'int' | 'double';
}

export interface HistogramOptions extends InstrumentOptions {
  /** Upper bounds of the finite buckets, ascending; a view may replace them. */
  buckets?: readonly number[];
}

/**
 * A monotonic sum. `add` increments; `set` reports a cumulative total read from elsewhere.
 * `startMs` (epoch ms) is when that source began counting, such as a server's start: passing
 * a different one (the server restarted) gives the series that start time, so the total
 * going down is read as a reset, not a decrease.
 */
export interface Counter {
  add(value: number, attributes?: Attributes): void;
  set(total: number, attributes?: Attributes, startMs?: number): void;
  remove(attributes?: Attributes): void;
}

/** A sum that may go down (queue depth kept by increments, open jobs). */
export interface UpDownCounter {
  add(value: number, attributes?: Attributes): void;
  set(total: number, attributes?: Attributes): void;
  remove(attributes?: Attributes): void;
}

export interface Gauge {
  set(value: number, attributes?: Attributes): void;
  remove(attributes?: Attributes): void;
}

export interface Histogram {
  record(value: number, attributes?: Attributes): void;
  remove(attributes?: Attributes): void;
}

/**
 * Where a receiver records its metrics. Series live until removed, so a receiver that
 * sees a thing vanish (an interface, a file, a key) removes its series and the next
 * collection no longer shows them. Scrapers that rebuild the whole picture each cycle use
 * `mark()`/`sweep()`: every series not written since the mark is removed.
 */
export interface Meter {
  counter(name: string, options?: InstrumentOptions): Counter;
  upDownCounter(name: string, options?: InstrumentOptions): UpDownCounter;
  gauge(name: string, options?: InstrumentOptions): Gauge;
  histogram(name: string, options?: HistogramOptions): Histogram;
  mark(): number;
  /** `keep` names instruments left as they are (a histogram of the receiver's own measurements). */
  sweep(mark: number, keep?: ReadonlySet<string>): void;
  /**
   * The values of every series (with their start times), for saving across a restart:
   * plain JSON, bounded by the series limits. `exclude` names instruments left out
   * (values the caller rebuilds itself, such as a count of open pairs).
   */
  snapshot?(options?: { exclude?: ReadonlySet<string> }): MeterSnapshot;
  /**
   * Brings back a snapshot before anything is recorded: values and start times of the
   * instruments that exist now and still have the same kind, exported name and buckets;
   * the rest is dropped. Tolerates any input (it comes from a file).
   */
  restore?(snapshot: unknown): RestoredCounts;
}

/** A meter's series values as saved (format 1). */
export interface MeterSnapshot {
  version: 1;
  instruments: SavedInstrument[];
}

export interface SavedInstrument {
  /** The name the instrument was created with. */
  instrument: string;
  kind: 'counter' | 'updown' | 'gauge' | 'histogram';
  /** The exported name, after views: values saved under another name do not come back. */
  name: string;
  buckets?: number[];
  series: SavedSeries[];
}

export interface SavedSeries {
  attributes: Attributes;
  /** Start of the series, epoch milliseconds: a counter keeps it across restarts. */
  startMs: number;
  /** Sum, gauge value, or histogram count. */
  value: number;
  counts?: number[];
  sum?: number;
  min?: number;
  max?: number;
  /** The overflow series of the instrument's series limit. */
  overflow?: true;
}

export interface RestoredCounts {
  series: number;
  /** Series saved for instruments gone or changed, or not valid. */
  dropped: number;
}

/** How a reader understands a state record: a JSON object with a format `version`. */
export interface StateFormat<T> {
  /** The versions this reader understands; a file of any other is moved aside. */
  readonly versions: readonly number[];
  /** The value of a document of one of `versions`; throws, saying why, when it is malformed. */
  decode(document: { version: number } & Record<string, unknown>): T;
}

/** One state file: written atomically, one write at a time; a bad file is moved aside on read. */
export interface StateFileHandle {
  readonly path: string;
  /** The record's value, or undefined (none yet, or it was bad: moved aside and logged). */
  read<T>(format: StateFormat<T>): Promise<T | undefined>;
  /** Writes `{ version, ...body }`. */
  write(version: number, body: Record<string, unknown>): Promise<void>;
  /** Writes a document the caller serialised, `version` included. */
  writeText(text: string): Promise<void>;
}

/** A component's place in the agent's state directory (one agent per directory). */
export interface StateStore {
  /** The agent's state directory. */
  readonly directory: string;
  readonly id: string;
  /** The component's own record: `<directory>/<kind>s/<id, URI-encoded>.json`. */
  readonly record: StateFileHandle;
  /** `<directory>/<type>`: what every instance of the type shares on disk. */
  readonly sharedDirectory: string;
  sharedFile(name: string): StateFileHandle;
  /** An object the running instances of the type share in the process, made by the first that asks. */
  shared<T>(name: string, create: () => T): T;
  /** Lets the shared object go once its last holder stopped. */
  releaseShared(name: string, value: unknown): void;
}

export interface CreateSettings {
  /** `type` or `type/name`, as written in the config. */
  readonly id: string;
  readonly logger: Logger;
  readonly status: StatusReporter;
  /** The component's state that survives restarts and reloads, namespaced by its id (src/state/store.ts). */
  readonly store: StateStore;
  /** The agent's own metrics (`otel_agent.*`), for counters of refused input and the like. */
  readonly telemetry: Meter;
}

export interface Component {
  /** Returns quickly; long work (connecting, first scrape) runs in the background. */
  start(signal: AbortSignal): Promise<void>;
  /** Idempotent, safe without start; drains what is buffered. */
  shutdown(): Promise<void>;
}

export interface Receiver extends Component {
  /**
   * Optional refresh before a collection (pull-style scrapers). Runs under the collection's
   * deadline: when `signal` aborts, what the meter holds is exported as it is.
   */
  collect?(signal: AbortSignal): Promise<void>;
}

export interface ReceiverSettings extends CreateSettings {
  /** The receiver's own meter: its metrics carry the receiver id as instrumentation scope. */
  readonly meter: Meter;
}

/** A pure transformation of collected metrics. */
export interface Processor {
  process(metrics: ResourceMetrics): ResourceMetrics;
}

/**
 * The deadline of one collection: the receivers' `collect(signal)` abort when it passes, and
 * those that did not refresh by then are exported stale. An exporter passes `signal` (its own
 * scrape deadline, so there is one); `timeoutMs` is for callers without one.
 */
export interface CollectOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** The metrics an exporter serves: the output of every pipeline that names it. */
export interface MetricSource {
  collect(options: CollectOptions): Promise<ResourceMetrics[]>;
}

export interface ComponentHealth {
  id: string;
  kind: Kind;
  status: ComponentStatus;
  /** Last error or degraded reason, free of secrets. */
  reason?: string;
  since: string;
}

export interface HealthSource {
  /** True once every pipeline has started. */
  ready(): boolean;
  components(): ComponentHealth[];
}

export interface ExporterSettings extends CreateSettings {
  readonly source: MetricSource;
  readonly health: HealthSource;
}

/** What a receiver type's implementation module gives: the one way to make an instance. */
export interface ReceiverImplementation<C = any> {
  create(settings: ReceiverSettings, config: Readonly<C>): Receiver;
}

export interface ProcessorImplementation<C = any> {
  create(settings: CreateSettings, config: Readonly<C>): Processor;
}

export interface ExporterImplementation<C = any> {
  create(settings: ExporterSettings, config: Readonly<C>): Component;
}

/**
 * What the registry holds of a component type: enough to validate and describe it. The code
 * that runs it, and that code's libraries, are imported by `load` only when a config's
 * pipelines use the type, so `validate`, `components` and every config that leaves the type
 * out never pay for them in start time or memory.
 */
interface FactoryBase<C, I> {
  /** The YAML key: `redis` for ids `redis` and `redis/cache`. */
  readonly type: string;
  readonly stability: Stability;
  readonly description: string;
  /** Strict object schema (unknown keys refused) that fills in defaults. */
  readonly configSchema: z.ZodType<C>;
  /** Imports the implementation module (a dynamic `import()`); repeated calls are cheap. */
  load(): Promise<I>;
}

export interface ReceiverFactory<C = any> extends FactoryBase<C, ReceiverImplementation<C>> {
  readonly kind: 'receiver';
}

export interface ProcessorFactory<C = any> extends FactoryBase<C, ProcessorImplementation<C>> {
  readonly kind: 'processor';
}

export interface ExporterFactory<C = any> extends FactoryBase<C, ExporterImplementation<C>> {
  readonly kind: 'exporter';
}

export type Factory = ReceiverFactory | ProcessorFactory | ExporterFactory;

/** The registry: each component type's factory, by kind and type name (`redis`, `prometheus`). */
export interface FactoryLookup {
  receivers: ReadonlyMap<string, ReceiverFactory>;
  processors: ReadonlyMap<string, ProcessorFactory>;
  exporters: ReadonlyMap<string, ExporterFactory>;
}
