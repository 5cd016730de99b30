// The metric store: the state a receiver records into, and the one place metrics are
// turned into OpenTelemetry `MetricData` for export.
//
// Why not the SDK's instruments (see docs/adr/0001-metric-path.md): the SDK cannot delete
// a series, its observable instruments keep re-exporting attribute sets that stopped being
// reported, and its cardinality limit bounds one collection, not the process's life. Here a
// series lives until it is removed or swept, every stream has a lifetime series limit with
// one overflow series, and views are resolved once per instrument.
import type { HrTime, ValueType as ApiValueType } from '@opentelemetry/api';
import type { DataPoint, Histogram as HistogramPoint, MetricData, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type {
  Attributes,
  Counter,
  Gauge,
  Histogram,
  HistogramOptions,
  InstrumentOptions,
  Meter,
  MeterSnapshot,
  RestoredCounts,
  SavedInstrument,
  SavedSeries,
  UpDownCounter,
} from '../component/types.js';
import { AggregationTemporality, DataPointType, ValueType } from './otel.js';
import { ownCopy } from './own-copy.js';
import { ViewSet, type StreamSettings } from './views.js';

/** OpenTelemetry's default explicit bucket bounds. */
export const DEFAULT_BUCKETS: readonly number[] = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

/** Attributes of the series that collects what a series limit refused (OpenTelemetry's name). */
export const OVERFLOW_ATTRIBUTES: Attributes = Object.freeze({ 'otel.metric.overflow': true });

type StreamKind = 'counter' | 'updown' | 'gauge' | 'histogram';

export interface MetricStoreOptions {
  /** Instrumentation scope name: the receiver id. */
  scope: string;
  views?: ViewSet;
  /** Called for each measurement folded into the overflow series, with the exported metric name. */
  onFold?: (metricName: string) => void;
  /** Clock in milliseconds since the epoch; a seam for tests. */
  now?: () => number;
}

function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

function msOf(time: HrTime): number {
  return time[0] * 1000 + time[1] / 1e6;
}

const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** Attributes as read from a snapshot: primitives and arrays of primitives only. */
function savedAttributes(value: unknown): Attributes | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const attributes: Attributes = {};
  for (const [key, item] of Object.entries(value)) {
    const primitive = (v: unknown) => typeof v === 'string' || typeof v === 'boolean' || finite(v);
    if (primitive(item) || (Array.isArray(item) && item.every(primitive))) attributes[key] = item as Attributes[string];
    else return undefined;
  }
  return attributes;
}

/** A stable key for an attribute set: sorted keys, values tagged by type. */
export function attributesKey(attributes: Attributes): string {
  const keys = Object.keys(attributes);
  if (keys.length === 0) return '';
  if (keys.length > 1) keys.sort();
  let key = '';
  for (const name of keys) {
    const value = attributes[name];
    if (value === undefined) continue;
    const tag = typeof value === 'object' ? 'a' + JSON.stringify(value) : (typeof value)[0] + String(value);
    key += name + '\u0001' + tag + '\u0002';
  }
  return key;
}

function freezeCopy(attributes: Attributes): Attributes {
  const copy: Attributes = {};
  for (const name in attributes) {
    const value = attributes[name];
    if (value === undefined) continue;
    if (typeof value === 'string') copy[name] = ownCopy(value);
    else copy[name] = Array.isArray(value) ? (Object.freeze([...value]) as typeof value) : value;
  }
  return Object.freeze(copy);
}

interface Series {
  /** Frozen, and the same object for the series' whole life, so exporters can cache by it. */
  readonly attributes: Attributes;
  /** Changed only by a restore, before anything reads the series. */
  startTime: HrTime;
  value: number;
  /** Histogram state, absent for sums and gauges. */
  counts?: number[];
  sum?: number;
  min?: number;
  max?: number;
  /** Generation of the last write, for sweep. */
  touched: number;
  /**
   * Values reported with `set` by several source attribute sets that a view's attribute
   * filter (or the series limit) folded into this series: the series exports their sum
   * (or, for a gauge, the last one written).
   */
  sources?: Map<string, number>;
}

/** Entries of a stream's by-object cache before it starts afresh: its size is bounded even when callers freeze a new object per call. */
const MAX_CACHED_OBJECTS = 4096;

class Stream {
  readonly series = new Map<string, Series>();
  private overflow?: Series;
  /**
   * Series by the attributes object itself, for frozen objects passed again (mappers keep one
   * per attribute set): an identity lookup instead of building and hashing the key, which was
   * a fifth of a job-log line's cost. Frozen, so the same object always means the same set.
   * Only without a view's attribute filter; cleared whenever a series goes.
   */
  private readonly byObject = new Map<Attributes, Series>();
  readonly buckets: readonly number[];

  constructor(
    readonly kind: StreamKind,
    readonly settings: StreamSettings,
    readonly unit: string,
    readonly description: string,
    readonly valueType: ApiValueType,
    buckets: readonly number[] | undefined,
    private readonly store: MetricStore,
  ) {
    this.buckets = settings.buckets ?? buckets ?? DEFAULT_BUCKETS;
  }

  /** The series for these attributes, created if the limit allows, else the overflow series. */
  private seriesFor(attributes: Attributes, key: string): Series {
    let series = this.series.get(key);
    if (series !== undefined) return series;
    if (this.series.size < this.settings.seriesLimit) {
      series = this.newSeries(freezeCopy(attributes));
      this.series.set(key, series);
      return series;
    }
    this.store.folded(this.settings.name);
    this.overflow ??= this.newSeries(OVERFLOW_ATTRIBUTES);
    return this.overflow;
  }

  /** The series that `add`, `record` and (without a view's filter) `set` write for the caller's attributes. */
  private seriesOf(attributes: Attributes): Series {
    const filter = this.settings.filter;
    if (filter === undefined) {
      const cached = this.byObject.get(attributes);
      if (cached !== undefined) return cached;
      const series = this.seriesFor(attributes, attributesKey(attributes));
      if (series !== this.overflow && Object.isFrozen(attributes)) {
        if (this.byObject.size >= MAX_CACHED_OBJECTS) this.byObject.clear();
        this.byObject.set(attributes, series);
      }
      return series;
    }
    const exported = filter(attributes);
    return this.seriesFor(exported, attributesKey(exported));
  }

  private newSeries(attributes: Attributes): Series {
    const series: Series = { attributes, startTime: hrTime(this.store.now()), value: 0, touched: this.store.generation };
    if (this.kind === 'histogram') {
      series.counts = new Array(this.buckets.length + 1).fill(0);
      series.sum = 0;
    }
    return series;
  }

  add(value: number, attributes: Attributes = {}): void {
    if (this.settings.drop || !Number.isFinite(value)) return;
    const series = this.seriesOf(attributes);
    series.value += value;
    series.touched = this.store.generation;
  }

  set(value: number, attributes: Attributes = {}, startMs?: number): void {
    if (this.settings.drop) return;
    const filter = this.settings.filter;
    const exported = filter === undefined ? attributes : filter(attributes);
    const series = filter === undefined ? this.seriesOf(attributes) : this.seriesFor(exported, attributesKey(exported));
    series.touched = this.store.generation;
    const folded = exported !== attributes || series === this.overflow;
    if (!folded) {
      // A series several sources share keeps its first start: one source restarting does not reset the others.
      if (startMs !== undefined && Number.isFinite(startMs) && msOf(series.startTime) !== startMs) series.startTime = hrTime(startMs);
      series.value = value;
      return;
    }
    // Several source series share this one: keep each source's value, export their sum.
    series.sources ??= new Map();
    const sourceKey = attributesKey(attributes);
    if (series.sources.size < this.settings.seriesLimit || series.sources.has(sourceKey)) {
      series.sources.set(sourceKey, value);
    }
    series.value = this.kind === 'gauge' ? value : sumOf(series.sources);
  }

  record(value: number, attributes: Attributes = {}): void {
    if (this.settings.drop || !Number.isFinite(value)) return;
    const series = this.seriesOf(attributes);
    series.touched = this.store.generation;
    const buckets = this.buckets;
    let index = 0;
    while (index < buckets.length && value > buckets[index]) index++;
    series.counts![index]++;
    series.value++;
    series.sum! += value;
    if (series.min === undefined || value < series.min) series.min = value;
    if (series.max === undefined || value > series.max) series.max = value;
  }

  remove(attributes: Attributes = {}): void {
    const exported = this.settings.filter ? this.settings.filter(attributes) : attributes;
    const key = attributesKey(exported);
    const series = this.series.get(key);
    if (series === undefined) return;
    this.byObject.clear();
    if (series.sources !== undefined && exported !== attributes) {
      series.sources.delete(attributesKey(attributes));
      if (series.sources.size > 0) {
        series.value = sumOf(series.sources);
        return;
      }
    }
    this.series.delete(key);
  }

  /** Every series' value as plain JSON: at most the series limit, plus the overflow series. */
  snapshot(instrument: string): SavedInstrument | undefined {
    if (this.settings.drop || this.seriesCount === 0) return undefined;
    const save = (s: Series, overflow: boolean): SavedSeries => ({
      attributes: { ...s.attributes },
      startMs: msOf(s.startTime),
      value: s.value,
      ...(s.counts !== undefined && { counts: s.counts.slice(), sum: s.sum }),
      ...(s.min !== undefined && { min: s.min, max: s.max }),
      ...(overflow && { overflow: true as const }),
    });
    const series = [...this.series.values()].map((s) => save(s, false));
    if (this.overflow) series.push(save(this.overflow, true));
    return {
      instrument,
      kind: this.kind,
      name: this.settings.name,
      ...(this.kind === 'histogram' && { buckets: [...this.buckets] }),
      series,
    };
  }

  /**
   * Brings back saved series over what is there (the mapping's zero-valued initial series).
   * Past the series limit (a smaller limit now), sums and histograms fold into the overflow
   * series, so totals stay whole; gauges are dropped. Returns the series restored.
   */
  restore(saved: SavedInstrument): RestoredCounts {
    const counts: RestoredCounts = { series: 0, dropped: 0 };
    const sameBuckets = this.kind !== 'histogram' || (Array.isArray(saved.buckets) && saved.buckets.length === this.buckets.length && saved.buckets.every((b, i) => b === this.buckets[i]));
    if (saved.kind !== this.kind || saved.name !== this.settings.name || this.settings.drop || !sameBuckets || !Array.isArray(saved.series)) {
      counts.dropped += Array.isArray(saved.series) ? saved.series.length : 0;
      return counts;
    }
    this.byObject.clear();
    for (const entry of saved.series as unknown[]) {
      const s = entry as Partial<SavedSeries> | null;
      let attributes = savedAttributes(s?.attributes);
      const valid =
        attributes !== undefined &&
        finite(s!.startMs) &&
        finite(s!.value) &&
        (this.kind !== 'histogram' || (Array.isArray(s!.counts) && s!.counts.length === this.buckets.length + 1 && s!.counts.every(finite) && finite(s!.sum)));
      if (!valid) {
        counts.dropped++;
        continue;
      }
      if (this.settings.filter !== undefined && s!.overflow !== true) attributes = this.settings.filter(attributes!);
      let series: Series | undefined;
      if (s!.overflow === true) {
        this.overflow ??= this.newSeries(OVERFLOW_ATTRIBUTES);
        series = this.overflow;
      } else {
        const key = attributesKey(attributes!);
        series = this.series.get(key);
        if (series === undefined && this.series.size < this.settings.seriesLimit) {
          series = this.newSeries(freezeCopy(attributes!));
          this.series.set(key, series);
        }
        if (series === undefined && this.kind !== 'gauge') {
          this.overflow ??= this.newSeries(OVERFLOW_ATTRIBUTES);
          series = this.overflow;
        }
      }
      if (series === undefined) {
        counts.dropped++;
        continue;
      }
      if (series === this.overflow && this.kind !== 'gauge') {
        // The overflow series gathers the saved one and any series past the limit now: add, keep the earliest start.
        series.value += s!.value!;
        if (series.counts !== undefined) {
          s!.counts!.forEach((count, i) => (series.counts![i] += count));
          series.sum! += s!.sum!;
          if (finite(s!.min) && (series.min === undefined || s!.min < series.min)) series.min = s!.min;
          if (finite(s!.max) && (series.max === undefined || s!.max > series.max)) series.max = s!.max;
        }
        if (s!.startMs! < msOf(series.startTime)) series.startTime = hrTime(s!.startMs!);
      } else {
        series.value = s!.value!;
        series.startTime = hrTime(s!.startMs!);
        if (series.counts !== undefined) {
          series.counts = s!.counts!.slice();
          series.sum = s!.sum;
          series.min = finite(s!.min) ? s!.min : undefined;
          series.max = finite(s!.max) ? s!.max : undefined;
        }
      }
      series.touched = this.store.generation;
      counts.series++;
    }
    return counts;
  }

  sweep(mark: number): void {
    for (const [key, series] of this.series) {
      if (series.touched >= mark) continue;
      this.series.delete(key);
      this.byObject.clear();
    }
  }

  get seriesCount(): number {
    return this.series.size + (this.overflow ? 1 : 0);
  }

  toMetricData(endTime: HrTime): MetricData | undefined {
    if (this.settings.drop || this.seriesCount === 0) return undefined;
    const descriptor = {
      name: this.settings.name,
      description: this.settings.description ?? this.description,
      unit: this.unit,
      valueType: this.valueType,
    };
    const all = this.overflow ? [...this.series.values(), this.overflow] : this.series.values();
    if (this.kind === 'histogram') {
      const dataPoints: DataPoint<HistogramPoint>[] = [];
      for (const s of all) {
        dataPoints.push({
          startTime: s.startTime,
          endTime,
          attributes: s.attributes,
          value: {
            buckets: { boundaries: this.buckets as number[], counts: s.counts!.slice() },
            sum: s.sum,
            count: s.value,
            min: s.min,
            max: s.max,
          },
        });
      }
      return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.HISTOGRAM, dataPoints };
    }
    const dataPoints: DataPoint<number>[] = [];
    for (const s of all) dataPoints.push({ startTime: s.startTime, endTime, attributes: s.attributes, value: s.value });
    if (this.kind === 'gauge') {
      return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints };
    }
    return {
      descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: this.kind === 'counter',
      dataPoints,
    };
  }
}

function sumOf(values: Map<string, number>): number {
  let total = 0;
  for (const value of values.values()) total += value;
  return total;
}

export class MetricStore implements Meter {
  readonly scope: string;
  private readonly views: ViewSet;
  private readonly streams = new Map<string, Stream>();
  private readonly onFold?: (metricName: string) => void;
  readonly now: () => number;
  /** Advanced by mark(); every write stamps its series with it. */
  generation = 0;

  constructor(options: MetricStoreOptions) {
    this.scope = options.scope;
    this.views = options.views ?? new ViewSet();
    this.onFold = options.onFold;
    this.now = options.now ?? Date.now;
  }

  counter(name: string, options: InstrumentOptions = {}): Counter {
    return this.stream('counter', name, options);
  }

  upDownCounter(name: string, options: InstrumentOptions = {}): UpDownCounter {
    return this.stream('updown', name, options);
  }

  gauge(name: string, options: InstrumentOptions = {}): Gauge {
    return this.stream('gauge', name, options);
  }

  histogram(name: string, options: HistogramOptions = {}): Histogram {
    return this.stream('histogram', name, options, options.buckets);
  }

  mark(): number {
    return ++this.generation;
  }

  sweep(mark: number, keep?: ReadonlySet<string>): void {
    for (const [name, stream] of this.streams) if (keep?.has(name) !== true) stream.sweep(mark);
  }

  snapshot(options: { exclude?: ReadonlySet<string> } = {}): MeterSnapshot {
    const instruments: SavedInstrument[] = [];
    for (const [instrument, stream] of this.streams) {
      if (options.exclude?.has(instrument)) continue;
      const saved = stream.snapshot(instrument);
      if (saved !== undefined) instruments.push(saved);
    }
    return { version: 1, instruments };
  }

  restore(snapshot: unknown): RestoredCounts {
    const counts: RestoredCounts = { series: 0, dropped: 0 };
    const saved = snapshot as Partial<MeterSnapshot> | null;
    if (saved?.version !== 1 || !Array.isArray(saved.instruments)) return counts;
    for (const entry of saved.instruments as unknown[]) {
      const instrument = entry as Partial<SavedInstrument> | null;
      const stream = typeof instrument?.instrument === 'string' ? this.streams.get(instrument.instrument) : undefined;
      if (stream === undefined) {
        // An instrument no longer made (its metric left the config): its values go.
        counts.dropped += Array.isArray(instrument?.series) ? instrument.series.length : 0;
        continue;
      }
      const restored = stream.restore(instrument as SavedInstrument);
      counts.series += restored.series;
      counts.dropped += restored.dropped;
    }
    return counts;
  }

  /** @internal called by streams */
  folded(metricName: string): void {
    this.onFold?.(metricName);
  }

  /** Series per exported metric name, overflow series included. */
  seriesCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const stream of this.streams.values()) {
      if (stream.settings.drop) continue;
      counts.set(stream.settings.name, (counts.get(stream.settings.name) ?? 0) + stream.seriesCount);
    }
    return counts;
  }

  collect(): ScopeMetrics {
    const endTime = hrTime(this.now());
    const metrics: MetricData[] = [];
    for (const stream of this.streams.values()) {
      const data = stream.toMetricData(endTime);
      if (data !== undefined) metrics.push(data);
    }
    return { scope: { name: this.scope }, metrics };
  }

  private stream(kind: StreamKind, name: string, options: InstrumentOptions, buckets?: readonly number[]): Stream {
    const existing = this.streams.get(name);
    if (existing !== undefined) {
      if (existing.kind !== kind) {
        throw new Error(`instrument "${name}" of ${this.scope} is already a ${existing.kind}, not a ${kind}`);
      }
      return existing;
    }
    const settings = this.views.resolve(this.scope, name);
    const valueType = options.valueType === 'int' ? ValueType.INT : ValueType.DOUBLE;
    const stream = new Stream(kind, settings, options.unit ?? '', options.description ?? '', valueType, buckets, this);
    this.streams.set(name, stream);
    return stream;
  }
}
