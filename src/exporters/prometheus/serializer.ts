// Prometheus text (0.0.4) and OpenMetrics 1.0 serialisation of collected metrics.
//
// Built for large scrapes. Each distinct attributes object is turned into label text (and
// its UTF-8 bytes) once, and cached in a WeakMap keyed by that object: the metric store
// hands out the same attributes object for a series on every collection. Lines are written
// as bytes into a reused buffer (per-metric pieces encoded once, integers written digit by
// digit) and handed on as byte chunks (`serializeBytes`, what the exporter sends); `serialize`
// decodes them for callers that want text. No string is built per line, so a scrape leaves
// little garbage. Duplicate series are found through interned label sets
// rather than a Set of strings. `serialize()` yields to the event loop every `yieldEvery`
// data points.
//
// Two records can land on one series: the same record delivered by two pipelines (written
// once, the repeat counted as `duplicate_series`), or distinct records whose attributes map
// to one label set (`a.b` and `a_b`, joined by the specification's `;` rule). The second
// kind is rare, so it costs nothing until it happens: the family is then written again with
// sums and same-bound histograms merged (`merged_series`); gauges and histograms of other
// bounds cannot be merged and keep the first record (`unmergeable_collision`).
import type { Attributes } from '@opentelemetry/api';
import type { DataPoint, Histogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, DataPointType } from '../../metrics/otel.js';
import {
  bucketBoundText,
  prometheusLabels,
  prometheusMetricName,
  prometheusType,
  sanitizeName,
  type MetricKind,
  type PrometheusMetricName,
  type PrometheusType,
} from '../../prometheus/naming.js';

export interface SerializeOptions {
  /** Prefix for every metric name except target_info (`node` -> node_system_cpu_time_seconds_total). */
  namespace?: string;
  /** Labels added to every series (already valid label names are not guaranteed: sanitise). */
  constLabels?: Record<string, string>;
  /** Append unit suffixes (_seconds, _bytes, _ratio for unit "1" gauges) and _total to monotonic sums. Default true. */
  addMetricSuffixes?: boolean;
  /** Emit the resource as `target_info` (one series per distinct resource). Default true. */
  targetInfo?: boolean;
  /** 'text' = Prometheus text format 0.0.4; 'openmetrics' = OpenMetrics 1.0.0 text (ends with # EOF). */
  format?: 'text' | 'openmetrics';
}

export interface SerializeResult {
  body: string;
  /** Series written (a histogram counts once per data point). */
  series: number;
  /**
   * Data points not written as series of their own, by reason: 'exponential_histogram',
   * 'type_conflict', 'duplicate_series', 'non_finite'..., and 'merged_series' (added into
   * another record's series) and 'unmergeable_collision' (a gauge or a histogram of other
   * bounds whose labels another record already had).
   */
  dropped: Record<string, number>;
}

/** The same result with the body as UTF-8 bytes, as it goes on the wire. */
export interface SerializedBytes extends Omit<SerializeResult, 'body'> {
  bytes: Buffer;
}

export const CONTENT_TYPE_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
export const CONTENT_TYPE_OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

const DEFAULT_YIELD_EVERY = 2000;

/**
 * Serialise, yielding to the event loop (setImmediate) every `yieldEvery` data points (default 2000) so a 100k-series scrape never stalls the process.
 * A histogram point weighs as many data points as the lines it writes (buckets, _sum, _count).
 */
export async function serialize(
  metrics: ResourceMetrics[],
  options: SerializeOptions = {},
  yieldEvery: number = DEFAULT_YIELD_EVERY,
): Promise<SerializeResult> {
  return asText(await serializeBytes(metrics, options, yieldEvery));
}

/** As `serialize`, but the body stays bytes: an exporter sends it without decoding and re-encoding it. */
export async function serializeBytes(
  metrics: ResourceMetrics[],
  options: SerializeOptions = {},
  yieldEvery: number = DEFAULT_YIELD_EVERY,
): Promise<SerializedBytes> {
  if (!Number.isInteger(yieldEvery) || yieldEvery < 1) {
    throw new RangeError(`yieldEvery must be a positive integer, got ${yieldEvery}`);
  }
  const steps = new Serialization(metrics, options, yieldEvery).run();
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Same output, synchronous, for tests and small outputs. */
export function serializeSync(metrics: ResourceMetrics[], options: SerializeOptions = {}): SerializeResult {
  const steps = new Serialization(metrics, options, Infinity).run();
  for (;;) {
    const step = steps.next();
    if (step.done) return asText(step.value);
  }
}

function asText({ bytes, series, dropped }: SerializedBytes): SerializeResult {
  return { body: bytes.toString('utf8'), series, dropped };
}

// ---------------------------------------------------------------------------------------
// Output

const NEWLINE = 0x0a;
const COMMA = 0x2c;
const MINUS = 0x2d;
const CHUNK_BYTES = 256 * 1024;
/** Room for the longest text of a sample value (`-0.0000012345678901234567`: 25). */
const MAX_NUMBER_BYTES = 32;

function encode(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

/**
 * Bytes written into one reused buffer; each full chunk is copied out, and the copies are
 * joined once at the end. The body stays bytes: an exporter sends it without decoding it
 * to a string and encoding it back.
 */
class BodyWriter {
  /** A chunk buffer a finished serialisation left behind, for the next one to reuse. */
  private static spare: Buffer | undefined;

  private buffer: Buffer;
  private offset = 0;
  private readonly parts: Buffer[] = [];

  constructor() {
    this.buffer = BodyWriter.spare ?? Buffer.allocUnsafe(CHUNK_BYTES);
    BodyWriter.spare = undefined;
  }

  bytes(encoded: Uint8Array): void {
    if (this.offset + encoded.length > this.buffer.length) this.flush(encoded.length);
    this.buffer.set(encoded, this.offset);
    this.offset += encoded.length;
  }

  byte(code: number): void {
    if (this.offset === this.buffer.length) this.flush(1);
    this.buffer[this.offset++] = code;
  }

  text(text: string): void {
    const room = text.length * 3;
    if (this.offset + room > this.buffer.length) this.flush(room);
    this.offset += this.buffer.write(text, this.offset);
  }

  /** Integers without a fraction, floats in shortest round-trip form, +Inf, -Inf, NaN. */
  number(value: number): void {
    if (this.offset + MAX_NUMBER_BYTES > this.buffer.length) this.flush(MAX_NUMBER_BYTES);
    const buffer = this.buffer;
    if (!Number.isSafeInteger(value)) {
      // ASCII only, and short: a loop beats a call into Buffer#write.
      const text = numberText(value);
      for (let i = 0; i < text.length; i++) buffer[this.offset++] = text.charCodeAt(i);
      return;
    }
    let rest = value;
    if (rest < 0) {
      buffer[this.offset++] = MINUS;
      rest = -rest;
    }
    let digits = 1;
    for (let scale = 10; scale <= rest; scale *= 10) digits++;
    let position = this.offset + digits;
    this.offset = position;
    do {
      const next = Math.floor(rest / 10);
      buffer[--position] = 0x30 + rest - next * 10;
      rest = next;
    } while (rest > 0);
  }

  /** Where the body ends now, to `rewind` to. */
  mark(): BodyMark {
    return { parts: this.parts.length, offset: this.offset };
  }

  /** Forgets everything written since `mark`. */
  rewind(mark: BodyMark): void {
    if (this.parts.length > mark.parts) {
      // The first chunk flushed after the mark starts with the bytes the buffer held then;
      // the buffer never shrinks, so they fit.
      this.buffer.set(this.parts[mark.parts].subarray(0, mark.offset), 0);
      this.parts.length = mark.parts;
    }
    this.offset = mark.offset;
  }

  finish(): Buffer {
    this.flush(0);
    if (this.buffer.length === CHUNK_BYTES) BodyWriter.spare = this.buffer;
    return this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
  }

  private flush(needed: number): void {
    if (this.offset > 0) {
      const used = this.buffer.subarray(0, this.offset);
      this.parts.push(Buffer.from(used));
      this.offset = 0;
    }
    if (needed > this.buffer.length) this.buffer = Buffer.allocUnsafe(needed);
  }
}

interface BodyMark {
  readonly parts: number;
  readonly offset: number;
}

function numberText(value: number): string {
  if (value !== value) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

// ---------------------------------------------------------------------------------------
// Label cache

/**
 * A label text (`a="x",b="y"`, no braces) with its UTF-8 bytes, shared by every attributes
 * object that produces it. `id` is small and unique among live label sets, so duplicate
 * series are found with a table indexed by id instead of a Set of strings.
 */
interface LabelSet {
  readonly text: string;
  readonly bytes: Uint8Array;
  readonly id: number;
}

/** Interns label sets by text; an id is reused only once its label set is unreachable. */
class LabelSetRegistry {
  private readonly byText = new Map<string, WeakRef<LabelSet>>();
  private readonly freeIds: number[] = [];
  private nextId = 0;
  private readonly released = new FinalizationRegistry<{ text: string; id: number }>(({ text, id }) => {
    const current = this.byText.get(text);
    if (current !== undefined && current.deref() === undefined) this.byText.delete(text);
    this.freeIds.push(id);
  });

  intern(text: string): LabelSet {
    const existing = this.byText.get(text)?.deref();
    if (existing !== undefined) return existing;
    const labels: LabelSet = { text, bytes: encode(text), id: this.freeIds.pop() ?? this.nextId++ };
    this.byText.set(text, new WeakRef(labels));
    this.released.register(labels, { text, id: labels.id });
    return labels;
  }

  /** Every id handed out so far is below this. */
  get idLimit(): number {
    return this.nextId;
  }
}

const labelSets = new LabelSetRegistry();

/**
 * The label set of one attributes object. `snapshot` holds the keys and values it was
 * built from when the object is not frozen, so a mutated object is noticed and rebuilt; a
 * frozen object cannot change and is trusted.
 */
interface CachedLabels {
  readonly labels: LabelSet;
  readonly snapshot: unknown[] | null;
}

/**
 * One WeakMap per set of reserved label names: an attribute that clashes with a reserved
 * label is renamed (see prometheusLabels), so the text depends on which names are reserved.
 */
const labelCaches = new Map<string, WeakMap<object, CachedLabels>>();
// Reserved sets follow from the exporter's configuration: a handful. Bound them anyway.
const MAX_LABEL_CACHES = 32;

class LabelCompiler {
  private readonly cache: WeakMap<object, CachedLabels>;

  /**
   * @param compiled receives every label set built here, so that it (and its id) stays alive
   *   until the serialisation that uses it is done, even if the cache drops it meanwhile.
   */
  constructor(
    private readonly reserved: ReadonlySet<string>,
    private readonly compiled: LabelSet[],
  ) {
    const key = [...reserved].sort().join(',');
    let cache = labelCaches.get(key);
    if (cache === undefined) {
      if (labelCaches.size >= MAX_LABEL_CACHES) labelCaches.clear();
      cache = new WeakMap();
      labelCaches.set(key, cache);
    }
    this.cache = cache;
  }

  get(attributes: Attributes): LabelSet {
    const cached = this.cache.get(attributes);
    if (cached !== undefined && (cached.snapshot === null || sameEntries(attributes, cached.snapshot))) {
      return cached.labels;
    }
    const labels = labelSets.intern(labelText(prometheusLabels(attributes, this.reserved)));
    this.compiled.push(labels);
    const snapshot = snapshotOf(attributes);
    if (snapshot !== undefined) this.cache.set(attributes, { labels, snapshot });
    return labels;
  }
}

/**
 * null for a frozen object without mutable array values, the entries of any other object
 * with scalar values, undefined (do not cache) for an unfrozen object holding arrays.
 */
function snapshotOf(attributes: Attributes): unknown[] | null | undefined {
  const frozen = Object.isFrozen(attributes);
  const entries: unknown[] = [];
  for (const key in attributes) {
    const value = attributes[key];
    if (Array.isArray(value) && !Object.isFrozen(value)) return undefined;
    entries.push(key, value);
  }
  return frozen ? null : entries;
}

function sameEntries(attributes: Attributes, snapshot: unknown[]): boolean {
  let i = 0;
  for (const key in attributes) {
    if (snapshot[i] !== key || snapshot[i + 1] !== attributes[key]) return false;
    i += 2;
  }
  return i === snapshot.length;
}

function labelText(pairs: ReadonlyArray<[string, string]>): string {
  let text = '';
  for (const [name, value] of pairs) {
    text += `${text === '' ? '' : ','}${name}="${escapeLabelValue(value)}"`;
  }
  return text;
}

function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value)
    ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
    : value;
}

function escapeHelp(help: string, openMetrics: boolean): string {
  const escaped = help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return openMetrics ? escaped.replace(/"/g, '\\"') : escaped;
}

// ---------------------------------------------------------------------------------------
// Serialisation

interface Source {
  readonly metric: MetricData;
  /** Scope and constant labels, `otel_scope_name="x",...`, '' when there are none. */
  readonly extraLabels: string;
}

/** Everything written under one Prometheus name, whatever resource or scope it came from. */
interface Family {
  readonly naming: PrometheusMetricName;
  readonly type: PrometheusType;
  help: string;
  readonly sources: Source[];
}

/**
 * Labels the exporter writes itself, so attributes of that name become exported_<name>.
 * `le` and `quantile` are kept for histograms and summaries on every metric: Prometheus
 * tooling reads them as bucket bounds and quantiles wherever they appear.
 */
const EXPORTER_LABELS: readonly string[] = ['otel_scope_name', 'otel_scope_version', 'le', 'quantile'];

function metricKind(metric: MetricData): MetricKind | undefined {
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      return metric.isMonotonic ? 'monotonic_sum' : 'non_monotonic_sum';
    case DataPointType.GAUGE:
      return 'gauge';
    case DataPointType.HISTOGRAM:
      return 'histogram';
    default:
      return undefined;
  }
}

class Serialization {
  private readonly openMetrics: boolean;
  private readonly nameOptions: { namespace?: string; addSuffixes: boolean };
  private readonly writeTargetInfo: boolean;
  private readonly constNames: ReadonlySet<string>;
  private readonly constText: string;
  private readonly pointLabels: LabelCompiler;
  private readonly writer = new BodyWriter();
  private readonly compiledLabels: LabelSet[] = [];
  /** Per label set id, the last series group it was written in: finds duplicate series. */
  private writtenInGroup = new Int32Array(Math.max(1024, labelSets.idLimit));
  /** Per label set id, which point of the family being written wrote it (its ordinal over the family's sources). */
  private writtenBy = new Int32Array(this.writtenInGroup.length);
  private group = 0;
  /** Sources of the family being written, and the ordinal of each one's first point. */
  private familySources: readonly Source[] = [];
  private readonly firstOrdinals: number[] = [];
  /** Set when distinct records of the family being written map to one series. */
  private collided = false;
  private dropped: Record<string, number> = {};
  private series = 0;
  private sinceYield = 0;

  constructor(
    private readonly resourceMetrics: readonly ResourceMetrics[],
    options: SerializeOptions,
    private readonly yieldEvery: number,
  ) {
    const format = options.format ?? 'text';
    if (format !== 'text' && format !== 'openmetrics') {
      throw new TypeError(`format must be 'text' or 'openmetrics', got ${JSON.stringify(format)}`);
    }
    this.openMetrics = format === 'openmetrics';
    this.nameOptions = {
      namespace: options.namespace === undefined ? undefined : sanitizeName(options.namespace),
      addSuffixes: options.addMetricSuffixes ?? true,
    };
    this.writeTargetInfo = options.targetInfo ?? true;
    const constPairs = prometheusLabels(options.constLabels ?? {});
    this.constNames = new Set(constPairs.map(([name]) => name));
    this.constText = labelText(constPairs);
    this.pointLabels = new LabelCompiler(new Set([...EXPORTER_LABELS, ...this.constNames]), this.compiledLabels);
  }

  *run(): Generator<void, SerializedBytes, void> {
    const families = this.groupByName();
    if (this.writeTargetInfo) this.writeTargetInfoFamily();
    for (const family of families.values()) {
      const mark = this.writer.mark();
      const series = this.series;
      const dropped = { ...this.dropped };
      yield* this.writeFamily(family);
      if (this.collided) {
        // Distinct records share a series: the block is written again with them merged.
        this.writer.rewind(mark);
        this.series = series;
        this.dropped = dropped;
        yield* this.writeFamily(yield* this.mergeCollisions(family));
      }
    }
    if (this.openMetrics) this.writer.text('# EOF\n');
    return { bytes: this.writer.finish(), series: this.series, dropped: this.dropped };
  }

  /** Writes a family's block; stops early, with `collided` set, when two distinct records map to one series. */
  private *writeFamily(family: Family): Generator<void, void, void> {
    this.collided = false;
    this.familySources = family.sources;
    this.firstOrdinals.length = 0;
    this.writer.text(this.familyHeader(family));
    // Series are identical when name, scope/constant labels and point labels are: one
    // group per distinct scope/constant label text.
    const groupByExtra = new Map<string, number>();
    let ordinal = 0;
    for (const source of family.sources) {
      let group = groupByExtra.get(source.extraLabels);
      if (group === undefined) {
        group = ++this.group;
        groupByExtra.set(source.extraLabels, group);
      }
      this.firstOrdinals.push(ordinal);
      if (source.metric.dataPointType === DataPointType.HISTOGRAM) {
        yield* this.writeHistograms(family.naming.name, source, group, ordinal);
      } else {
        yield* this.writeNumbers(family, source, group, ordinal);
      }
      if (this.collided) return;
      ordinal += source.metric.dataPoints.length;
    }
  }

  /** False when a series with these labels was already written in `group`; else notes the point `ordinal` wrote it. */
  private firstInGroup(labels: LabelSet, group: number, ordinal: number): boolean {
    if (labels.id >= this.writtenInGroup.length) this.growSeriesTables(labels.id);
    if (this.writtenInGroup[labels.id] === group) return false;
    this.writtenInGroup[labels.id] = group;
    this.writtenBy[labels.id] = ordinal;
    return true;
  }

  /** Kept out of `firstInGroup`, which runs for every point and stays small enough to inline. */
  private growSeriesTables(id: number): void {
    const size = Math.max(id + 1, this.writtenInGroup.length * 2);
    const grown = new Int32Array(size);
    grown.set(this.writtenInGroup);
    this.writtenInGroup = grown;
    const grownBy = new Int32Array(size);
    grownBy.set(this.writtenBy);
    this.writtenBy = grownBy;
  }

  /**
   * Whether `point` of `metric` is the record that already wrote the series `labels`, as a
   * second pipeline delivers it: the same OpenTelemetry metric and equal attributes.
   */
  private repeatsWriter(labels: LabelSet, metric: MetricData, point: DataPoint<unknown>): boolean {
    const ordinal = this.writtenBy[labels.id];
    let index = this.firstOrdinals.length - 1;
    while (this.firstOrdinals[index] > ordinal) index--;
    const writer = this.familySources[index].metric;
    return sameMetric(writer, metric) && sameAttributes(writer.dataPoints[ordinal - this.firstOrdinals[index]].attributes, point.attributes);
  }

  /**
   * The family with the records that share a series merged into one point per series, in
   * order of first appearance: sums added, histograms of equal bounds added bucket by
   * bucket. A gauge, or a histogram of other bounds, keeps the first record.
   */
  private *mergeCollisions(family: Family): Generator<void, Family, void> {
    const isHistogram = family.type === 'histogram';
    const isCounter = family.type === 'counter';
    const byExtraLabels = new Map<string, { metric: MetricData; series: Map<number, MergedSeries> }>();
    let nonFinite = 0;
    let duplicates = 0;
    let merged = 0;
    let unmergeable = 0;
    for (const source of family.sources) {
      const metric = source.metric;
      const kind = metricKind(metric)!;
      let group = byExtraLabels.get(source.extraLabels);
      if (group === undefined) {
        group = { metric, series: new Map() };
        byExtraLabels.set(source.extraLabels, group);
      }
      const points = metric.dataPoints as DataPoint<number | Histogram>[];
      for (let i = 0; i < points.length; i++) {
        const point = points[i];
        const finite = isHistogram ? histogramIsFinite(point.value as Histogram) : !isCounter || Number.isFinite(point.value);
        if (!finite) {
          nonFinite++;
          continue;
        }
        const labels = this.pointLabels.get(point.attributes);
        const record = { metric, attributes: point.attributes };
        const existing = group.series.get(labels.id);
        if (existing === undefined) {
          group.series.set(labels.id, { kind, point: { ...point, value: copyValue(point.value) }, records: [record] });
        } else if (existing.records.some((seen) => sameMetric(seen.metric, metric) && sameAttributes(seen.attributes, record.attributes))) {
          duplicates++;
        } else {
          existing.records.push(record);
          if (addInto(existing, kind, point.value)) merged++;
          else unmergeable++;
        }
        if (++this.sinceYield >= this.yieldEvery) {
          this.sinceYield = 0;
          yield;
        }
      }
    }
    this.drop('non_finite', nonFinite);
    this.drop('duplicate_series', duplicates);
    this.drop('merged_series', merged);
    this.drop('unmergeable_collision', unmergeable);
    const sources: Source[] = [];
    for (const [extraLabels, { metric, series }] of byExtraLabels) {
      const dataPoints = [...series.values()].map((entry) => entry.point);
      sources.push({ metric: { ...metric, dataPoints } as MetricData, extraLabels });
    }
    return { ...family, sources };
  }

  private drop(reason: string, points: number): void {
    if (points > 0) this.dropped[reason] = (this.dropped[reason] ?? 0) + points;
  }

  /**
   * All metrics that map to one Prometheus name (in OpenMetrics: one family name), in order
   * of first appearance. The first type seen for a name wins; metrics of another type are
   * dropped, so one name never gets two TYPE lines.
   */
  private groupByName(): Map<string, Family> {
    const families = new Map<string, Family>();
    const namingMemo = new Map<string, PrometheusMetricName>();
    const targetInfoKey = this.openMetrics ? 'target' : 'target_info';
    for (const { scopeMetrics } of this.resourceMetrics) {
      for (const { scope, metrics } of scopeMetrics) {
        const scopeText = labelText(
          prometheusLabels(
            { otel_scope_name: scope.name || undefined, otel_scope_version: scope.version || undefined },
            this.constNames,
          ),
        );
        const extraLabels = [scopeText, this.constText].filter((text) => text !== '').join(',');
        for (const metric of metrics) {
          const points = metric.dataPoints.length;
          const kind = metricKind(metric);
          if (kind === undefined) {
            this.drop('exponential_histogram', points);
            continue;
          }
          // Prometheus has no delta temporality; the exporter's readers are cumulative.
          if (kind !== 'gauge' && metric.aggregationTemporality === AggregationTemporality.DELTA) {
            this.drop('delta_temporality', points);
            continue;
          }
          const { name: otelName, unit, description } = metric.descriptor;
          const memoKey = `${kind}\u0000${unit}\u0000${otelName}`;
          let naming = namingMemo.get(memoKey);
          if (naming === undefined) {
            naming = prometheusMetricName(otelName, unit, kind, this.nameOptions);
            namingMemo.set(memoKey, naming);
          }
          if (naming.name === '') {
            this.drop('invalid_name', points);
            continue;
          }
          const key = this.openMetrics ? naming.family : naming.name;
          const type = prometheusType(kind);
          const family = families.get(key);
          if (
            (this.writeTargetInfo && (key === targetInfoKey || naming.name === 'target_info')) ||
            (family !== undefined && family.type !== type)
          ) {
            this.drop('type_conflict', points);
          } else if (family === undefined) {
            families.set(key, { naming, type, help: description, sources: [{ metric, extraLabels }] });
          } else {
            if (family.help === '') family.help = description;
            family.sources.push({ metric, extraLabels });
          }
        }
      }
    }
    return families;
  }

  /**
   * One `target_info` series per distinct non-empty resource that has data points: one without
   * (a pipeline whose filter dropped everything) describes no series it could be joined to.
   */
  private writeTargetInfoFamily(): void {
    const resourceLabels = new LabelCompiler(this.constNames, this.compiledLabels);
    const seen = new Set<string>();
    let lines = '';
    for (const { resource, scopeMetrics } of this.resourceMetrics) {
      if (!scopeMetrics.some(({ metrics }) => metrics.some((metric) => metric.dataPoints.length > 0))) continue;
      const { text } = resourceLabels.get(resource.attributes);
      if (text === '' || seen.has(text)) continue;
      seen.add(text);
      lines += `target_info{${this.constText === '' ? text : `${text},${this.constText}`}} 1\n`;
    }
    if (seen.size === 0) return;
    this.writer.text(
      this.openMetrics
        ? '# TYPE target info\n# HELP target Target metadata\n'
        : '# HELP target_info Target metadata\n# TYPE target_info gauge\n',
    );
    this.writer.text(lines);
    this.series += seen.size;
  }

  private familyHeader({ naming, type, help }: Family): string {
    if (this.openMetrics) {
      let header = `# TYPE ${naming.family} ${type}\n`;
      if (naming.unit !== '') header += `# UNIT ${naming.family} ${naming.unit}\n`;
      if (help !== '') header += `# HELP ${naming.family} ${escapeHelp(help, true)}\n`;
      return header;
    }
    const helpLine = help === '' ? '' : `# HELP ${naming.name} ${escapeHelp(help, false)}\n`;
    return `${helpLine}# TYPE ${naming.name} ${type}\n`;
  }

  private *writeNumbers(family: Family, source: Source, group: number, firstOrdinal: number): Generator<void, void, void> {
    const name = family.naming.name;
    const extra = source.extraLabels;
    const open = encode(`${name}{`);
    const afterLabels = encode(extra === '' ? '} ' : `,${extra}} `);
    const withoutLabels = encode(extra === '' ? `${name} ` : `${name}{${extra}} `);
    const isCounter = family.type === 'counter';
    const points = source.metric.dataPoints as DataPoint<number>[];
    const writer = this.writer;
    let nonFinite = 0;
    let duplicates = 0;
    for (let i = 0; i < points.length; i++) {
      const point = points[i];
      const value = point.value;
      // OpenMetrics counters are non-NaN and non-decreasing: NaN or ±Inf there is junk.
      if (isCounter && !Number.isFinite(value)) {
        nonFinite++;
        continue;
      }
      const labels = this.pointLabels.get(point.attributes);
      if (!this.firstInGroup(labels, group, firstOrdinal + i)) {
        if (this.repeatsWriter(labels, source.metric, point)) {
          duplicates++;
          continue;
        }
        this.collided = true;
        return;
      }
      if (labels.text === '') {
        writer.bytes(withoutLabels);
      } else {
        writer.bytes(open);
        writer.bytes(labels.bytes);
        writer.bytes(afterLabels);
      }
      writer.number(value);
      writer.byte(NEWLINE);
      this.series++;
      if (++this.sinceYield >= this.yieldEvery) {
        this.sinceYield = 0;
        yield;
      }
    }
    this.drop('non_finite', nonFinite);
    this.drop('duplicate_series', duplicates);
  }

  private *writeHistograms(name: string, source: Source, group: number, firstOrdinal: number): Generator<void, void, void> {
    const extra = source.extraLabels;
    const extraThenComma = extra === '' ? '' : `${extra},`;
    const bucketOpen = encode(`${name}_bucket{`);
    const infTail = encode(`${extraThenComma}le="+Inf"} `);
    const sumOpen = encode(`${name}_sum{`);
    const countOpen = encode(`${name}_count{`);
    const afterLabels = encode(extra === '' ? '} ' : `,${extra}} `);
    const sumWithoutLabels = encode(extra === '' ? `${name}_sum ` : `${name}_sum{${extra}} `);
    const countWithoutLabels = encode(extra === '' ? `${name}_count ` : `${name}_count{${extra}} `);
    const points = source.metric.dataPoints as DataPoint<Histogram>[];
    const writer = this.writer;
    // `le` label tails of the last boundaries seen; points of one metric share them.
    let bounds: readonly number[] | undefined;
    let boundTails: Array<Uint8Array | null> = [];
    let negativeBound = false;
    let nonFinite = 0;
    let duplicates = 0;
    for (let i = 0; i < points.length; i++) {
      const point = points[i];
      const histogram = point.value;
      if (!histogramIsFinite(histogram)) {
        nonFinite++;
        continue;
      }
      const labels = this.pointLabels.get(point.attributes);
      if (!this.firstInGroup(labels, group, firstOrdinal + i)) {
        if (this.repeatsWriter(labels, source.metric, point)) {
          duplicates++;
          continue;
        }
        this.collided = true;
        return;
      }
      const { boundaries, counts } = histogram.buckets;
      if (boundaries !== bounds && !sameNumbers(boundaries, bounds)) {
        bounds = boundaries;
        boundTails = boundaries.map((bound) =>
          Number.isFinite(bound) ? encode(`${extraThenComma}le="${bucketBoundText(bound, this.openMetrics)}"} `) : null,
        );
        negativeBound = boundaries.length > 0 && boundaries[0] < 0;
      }
      const hasLabels = labels.text !== '';
      let cumulative = 0;
      for (let b = 0; b < boundTails.length; b++) {
        cumulative += counts[b];
        const tail = boundTails[b];
        if (tail === null) continue;
        writer.bytes(bucketOpen);
        if (hasLabels) {
          writer.bytes(labels.bytes);
          writer.byte(COMMA);
        }
        writer.bytes(tail);
        writer.number(cumulative);
        writer.byte(NEWLINE);
      }
      writer.bytes(bucketOpen);
      if (hasLabels) {
        writer.bytes(labels.bytes);
        writer.byte(COMMA);
      }
      writer.bytes(infTail);
      writer.number(histogram.count);
      writer.byte(NEWLINE);
      // A sum over negative observations is no counter: OpenMetrics and the OpenTelemetry
      // specification both leave it out then.
      const sum = histogram.sum;
      if (sum !== undefined && sum >= 0 && !negativeBound) {
        if (hasLabels) {
          writer.bytes(sumOpen);
          writer.bytes(labels.bytes);
          writer.bytes(afterLabels);
        } else {
          writer.bytes(sumWithoutLabels);
        }
        writer.number(sum);
        writer.byte(NEWLINE);
      }
      if (hasLabels) {
        writer.bytes(countOpen);
        writer.bytes(labels.bytes);
        writer.bytes(afterLabels);
      } else {
        writer.bytes(countWithoutLabels);
      }
      writer.number(histogram.count);
      writer.byte(NEWLINE);
      this.series++;
      this.sinceYield += boundTails.length + 3;
      if (this.sinceYield >= this.yieldEvery) {
        this.sinceYield = 0;
        yield;
      }
    }
    this.drop('non_finite', nonFinite);
    this.drop('duplicate_series', duplicates);
  }
}

/** One series of a family whose records collided: the merged point and the records in it. */
interface MergedSeries {
  readonly kind: MetricKind;
  readonly point: DataPoint<number | Histogram>;
  readonly records: Array<{ metric: MetricData; attributes: Attributes }>;
}

/** A point's value, copied where merging would otherwise change the collected data. */
function copyValue(value: number | Histogram): number | Histogram {
  if (typeof value === 'number') return value;
  return { ...value, buckets: { boundaries: value.buckets.boundaries, counts: value.buckets.counts.slice() } };
}

/**
 * Adds `value` into the series when that means something: sums (monotonic or not) add, and
 * so do histograms of equal bounds. A gauge's value is a reading, and readings of distinct
 * things have no sum; nor do histograms of different bounds: false, nothing changed.
 */
function addInto(series: MergedSeries, kind: MetricKind, value: number | Histogram): boolean {
  const point = series.point as { value: number | Histogram };
  if (typeof value === 'number') {
    const isSum = (k: MetricKind) => k === 'monotonic_sum' || k === 'non_monotonic_sum';
    if (!isSum(series.kind) || !isSum(kind)) return false;
    point.value = (point.value as number) + value;
    return true;
  }
  const into = point.value as Histogram;
  if (!sameNumbers(value.buckets.boundaries, into.buckets.boundaries)) return false;
  const counts = into.buckets.counts;
  for (let i = 0; i < counts.length; i++) counts[i] += value.buckets.counts[i];
  into.count += value.count;
  into.sum = into.sum === undefined || value.sum === undefined ? undefined : into.sum + value.sum;
  into.min = into.min === undefined || value.min === undefined ? undefined : Math.min(into.min, value.min);
  into.max = into.max === undefined || value.max === undefined ? undefined : Math.max(into.max, value.max);
  return true;
}

/** The same OpenTelemetry metric, as two pipelines each deliver it: name, unit and kind. */
function sameMetric(a: MetricData, b: MetricData): boolean {
  return (
    a === b ||
    (a.descriptor.name === b.descriptor.name &&
      a.descriptor.unit === b.descriptor.unit &&
      a.dataPointType === b.dataPointType &&
      (a.dataPointType !== DataPointType.SUM || a.isMonotonic === (b as typeof a).isMonotonic))
  );
}

/** Equal attributes: the same keys with equal values (arrays element by element); null and undefined count as absent. */
function sameAttributes(a: Attributes, b: Attributes): boolean {
  if (a === b) return true;
  let keys = 0;
  for (const key in a) {
    const value = a[key];
    if (value === undefined || value === null) continue;
    keys++;
    const other = b[key];
    if (value === other) continue;
    if (!Array.isArray(value) || !Array.isArray(other) || value.length !== other.length) return false;
    for (let i = 0; i < value.length; i++) if (value[i] !== other[i]) return false;
  }
  for (const key in b) if (b[key] !== undefined && b[key] !== null) keys--;
  return keys === 0;
}

function sameNumbers(a: readonly number[], b: readonly number[] | undefined): boolean {
  if (b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}

function histogramIsFinite(histogram: Histogram): boolean {
  if (!Number.isFinite(histogram.count)) return false;
  if (histogram.sum !== undefined && !Number.isFinite(histogram.sum)) return false;
  const counts = histogram.buckets.counts;
  for (let i = 0; i < counts.length; i++) {
    if (!Number.isFinite(counts[i])) return false;
  }
  return true;
}
