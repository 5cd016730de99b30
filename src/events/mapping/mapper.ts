// The compiled mapping: a record in, measurements into the receiver's meter. Everything the
// config decides (conditions, value maps, instruments) is resolved once at compile time, so
// a record costs its conditions, its field reads and the meter's own work.
//
// Bad input never throws here: each problem is reported through `onRefused` with a reason and
// only the measurement concerned is skipped; the record's other metrics are still recorded.
import type { Attributes, Meter, UpDownCounter } from '../../component/types.js';
import { ownCopy } from '../../metrics/own-copy.js';
import { compileConditions, type RecordPredicate } from './conditions.js';
import type { AttributeSource, MetricMapping, PairConfig, ValueSource } from './config.js';
import { MAPPING_REFUSALS, type EventRecord, type MappingRefusal } from './record.js';

export interface MapperOptions {
  meter: Meter;
  /**
   * Called for every skipped measurement and every dropped open pair. Within one record each
   * reason is reported once, however many metrics it affected, so that counts read as
   * "records with this problem"; `pair_expired` and `pair_evicted` count pairs.
   */
  onRefused(reason: MappingRefusal): void;
  /** Milliseconds since the epoch, for pair timeouts and elapsed gauges; a seam for tests. */
  now?: () => number;
}

export interface EventMapper {
  /** Records the measurements of one record; `timeMs` is its time (from a field, or when it was read). */
  readonly map: (record: EventRecord, timeMs: number) => void;
  /**
   * Time-driven work: drops open pairs past their timeout and brings `{ time: elapsed }` gauges
   * up to date. Call it before each collection and now and then while records are quiet.
   */
  refresh(nowMs?: number): void;
  /** Open starts waiting for their end, over all pair metrics. */
  openPairs(): number;
  /**
   * What the mapping keeps that records made: open starts of pair metrics, the clocks of
   * `{ time: elapsed }` gauges and the last value of other gauges, for `restoreState` of the
   * next mapper of the same config. Empty when there is nothing to keep.
   */
  saveState(nowMs?: number): SavedState;
  /**
   * Brings back what `saveState` kept, before any record comes: an end after a restart still
   * finds its start, and gauges show what they showed. Entries of metrics no longer
   * configured, of attribute sets the config no longer gives, and pairs past their timeout
   * are left out. `savedAtMs`: when it was saved, for pairs to age by the time since (the
   * agent down, say); default now. Returns how many entries came back.
   */
  restoreState(saved: SavedState, nowMs?: number, savedAtMs?: number): number;
}

/** An open start as kept across a restart. */
export interface SavedPair {
  key: string;
  /** The start record's time. */
  startMs: number;
  /** How long it had been open when saved: its timeout runs on from there. */
  ageMs: number;
  fields?: Record<string, string>;
}

/** Kept entries by metric (its name, kind and, for pairs, key field); each metric reads its own. */
export type SavedState = Record<string, unknown[]>;

/** Gauge values and clocks kept per metric at most; more attribute sets than this are not kept. */
const MAX_KEPT_PER_METRIC = 4096;

/** Counter/updown series created at 0 when compiled, at most this many per metric. */
const MAX_INITIAL_SERIES = 64;

/** Reports refusals, each reason at most once per record. */
class Refusals {
  private reported = 0;

  constructor(private readonly onRefused: (reason: MappingRefusal) => void) {}

  nextRecord(): void {
    this.reported = 0;
  }

  once(reason: MappingRefusal): void {
    const bit = 1 << MAPPING_REFUSALS.indexOf(reason);
    if ((this.reported & bit) !== 0) return;
    this.reported |= bit;
    this.onRefused(reason);
  }

  each(reason: MappingRefusal): void {
    this.onRefused(reason);
  }
}

/** A field's text as a finite number, or NaN. Empty and blank texts are not 0. */
export function parseNumber(text: string): number {
  const number = +text;
  if (!Number.isFinite(number)) return NaN;
  if (number === 0 && text.trim() === '') return NaN;
  return number;
}

/** Reads a number for a record, or reports why not and returns NaN. */
type ValueReader = (record: EventRecord, timeMs: number) => number;

function valueReader(source: ValueSource | undefined, refusals: Refusals): ValueReader {
  if (source === undefined) return () => 1;
  switch (source.kind) {
    case 'constant': {
      const value = source.value;
      return () => value;
    }
    case 'time':
      return (_record, timeMs) => timeMs / 1000;
    case 'field': {
      const { field, scale, default: fallback } = source;
      const map = source.map === undefined ? undefined : new Map(Object.entries(source.map));
      return (record) => {
        const text = record[field];
        if (typeof text !== 'string') {
          if (fallback !== undefined) return fallback;
          refusals.once('missing_field');
          return NaN;
        }
        if (map !== undefined) {
          const mapped = map.get(text) ?? fallback;
          if (mapped === undefined) refusals.once('unmapped_value');
          return mapped ?? NaN;
        }
        const number = parseNumber(text);
        if (number !== number) {
          refusals.once('non_numeric_value');
          return NaN;
        }
        return number * scale;
      };
    }
  }
}

interface AttributeReader {
  /** Fields read from records: what an open pair keeps of its start record. */
  readonly fields: readonly string[];
  /** True when every attribute takes a bounded set of values (static, or through a value map). */
  readonly bounded: boolean;
  /** The attributes for a record (a field missing there is looked up in `fallback`), or undefined after reporting why not. */
  read(record: EventRecord, fallback?: EventRecord): Attributes | undefined;
  /** Every attribute set a bounded reader can produce, or undefined when there are more than `limit`. */
  all(limit: number): Attributes[] | undefined;
  /** The object `read` gives for this attribute set (as saved), or undefined when it could not give it. */
  canonical(saved: unknown): Attributes | undefined;
}

interface CompiledAttribute {
  key: string;
  field: string;
  map?: Map<string, string>;
  fallback?: string;
}

function attributeReader(
  sources: Record<string, AttributeSource>,
  staticAttributes: Record<string, string>,
  refusals: Refusals,
): AttributeReader {
  const fixed = Object.entries(staticAttributes);
  const fromFields: CompiledAttribute[] = Object.entries(sources).map(([key, source]) => ({
    key,
    field: source.field,
    ...(source.map !== undefined && { map: new Map(Object.entries(source.map)) }),
    ...(source.default !== undefined && { fallback: source.default }),
  }));
  const bounded = fromFields.every((attribute) => attribute.map !== undefined);

  const all = (limit: number): Attributes[] | undefined => {
    if (!bounded) return undefined;
    let sets: Attributes[] = [Object.fromEntries(fixed)];
    for (const attribute of fromFields) {
      const values = new Set(attribute.map!.values());
      if (attribute.fallback !== undefined) values.add(attribute.fallback);
      if (sets.length * values.size > limit) return undefined;
      sets = sets.flatMap((set) => [...values].map((value) => ({ ...set, [attribute.key]: value })));
    }
    return sets;
  };

  if (fromFields.length === 0) {
    const attributes = Object.freeze(Object.fromEntries(fixed));
    return { fields: [], bounded, read: () => attributes, all, canonical: (saved) => (typeof saved === 'object' && saved !== null ? attributes : undefined) };
  }
  const sets = new AttributeSets(fixed, fromFields);
  const values: string[] = new Array(fromFields.length);
  return {
    fields: fromFields.map((attribute) => attribute.field),
    bounded,
    all,
    canonical(saved) {
      if (typeof saved !== 'object' || saved === null) return undefined;
      const savedValues = fromFields.map((attribute) => (saved as Record<string, unknown>)[attribute.key]);
      if (!savedValues.every((value): value is string => typeof value === 'string')) return undefined;
      // A value its map could not give now (the map changed) is not brought back.
      for (let i = 0; i < fromFields.length; i++) {
        const attribute = fromFields[i];
        if (attribute.map !== undefined && attribute.fallback !== savedValues[i] && ![...attribute.map.values()].includes(savedValues[i])) return undefined;
      }
      return sets.get(savedValues);
    },
    read(record, fallbackRecord) {
      for (let i = 0; i < fromFields.length; i++) {
        const attribute = fromFields[i];
        let text = record[attribute.field];
        if (typeof text !== 'string' && fallbackRecord !== undefined) text = fallbackRecord[attribute.field];
        if (typeof text !== 'string') {
          if (attribute.fallback === undefined) {
            refusals.once('missing_field');
            return undefined;
          }
          values[i] = attribute.fallback;
          continue;
        }
        if (attribute.map === undefined) {
          values[i] = text;
          continue;
        }
        const mapped = attribute.map.get(text) ?? attribute.fallback;
        if (mapped === undefined) {
          refusals.once('unmapped_value');
          return undefined;
        }
        values[i] = mapped;
      }
      return sets.get(values);
    },
  };
}

/** Attribute sets kept before new ones are built afresh for each record. */
const MAX_CACHED_ATTRIBUTE_SETS = 4096;

type ValueTree = Map<string, ValueTree | Attributes>;

/**
 * One frozen attributes object per combination of attribute values, found by a walk of
 * nested maps (one short lookup per value, no key string built). Handing the store the same
 * object each time lets it find the series by identity. Past the cap, sets are built afresh
 * and not frozen, so neither this cache nor the store's grows with an unbounded attribute.
 */
class AttributeSets {
  private readonly root: ValueTree = new Map();
  private size = 0;

  constructor(
    private readonly fixed: ReadonlyArray<readonly [string, string]>,
    private readonly fromFields: readonly CompiledAttribute[],
  ) {}

  get(values: readonly string[]): Attributes {
    const last = values.length - 1;
    let node = this.root;
    for (let i = 0; i < last; i++) {
      let next = node.get(values[i]) as ValueTree | undefined;
      if (next === undefined) {
        if (this.size >= MAX_CACHED_ATTRIBUTE_SETS) return this.build(values);
        next = new Map();
        node.set(ownCopy(values[i]), next);
      }
      node = next;
    }
    let attributes = node.get(values[last]) as Attributes | undefined;
    if (attributes === undefined) {
      if (this.size >= MAX_CACHED_ATTRIBUTE_SETS) return this.build(values);
      this.size++;
      attributes = Object.freeze(this.build(values.map(ownCopy)));
      node.set(attributes[this.fromFields[last].key] as string, attributes);
    }
    return attributes;
  }

  private build(values: readonly string[]): Attributes {
    const attributes: Attributes = {};
    for (const [key, value] of this.fixed) attributes[key] = value;
    for (let i = 0; i < this.fromFields.length; i++) attributes[this.fromFields[i].key] = values[i];
    return attributes;
  }
}

/** Records one measurement with the metric's instrument. */
type Measure = (value: number, attributes: Attributes) => void;

/** The instrument call for a metric's type. */
function recorder(meter: Meter, metric: MetricMapping): Measure {
  const options = {
    ...(metric.description !== undefined && { description: metric.description }),
    ...(metric.unit !== undefined && { unit: metric.unit }),
  };
  switch (metric.type) {
    case 'counter': {
      const counter = meter.counter(metric.name, options);
      return (value, attributes) => counter.add(value, attributes);
    }
    case 'updown': {
      const upDown = meter.upDownCounter(metric.name, options);
      return (value, attributes) => upDown.add(value, attributes);
    }
    case 'gauge': {
      const gauge = meter.gauge(metric.name, options);
      return (value, attributes) => gauge.set(value, attributes);
    }
    case 'histogram': {
      const histogram = meter.histogram(metric.name, { ...options, ...(metric.buckets !== undefined && { buckets: metric.buckets }) });
      return (value, attributes) => histogram.record(value, attributes);
    }
  }
}

/** Counters and histograms only go up. */
function refusesNegative(metric: MetricMapping): boolean {
  return metric.type === 'counter' || metric.type === 'histogram';
}

interface CompiledMetric {
  apply(record: EventRecord, timeMs: number): void;
  refresh?(nowMs: number): void;
  openPairs?(): number;
  /** Kept entries, when there are any. */
  saveState?(nowMs: number): unknown[];
  /** Brings back entries: now, or through `later`, run in the order the entries were written. */
  restoreState?(saved: readonly unknown[], nowMs: number, later: Restorer[], savedAtMs: number): number;
}

/** Work of a restore done after every metric's, in the order of `order`. */
interface Restorer {
  order: number;
  run(): void;
}

/** Counts gauge writes across the metrics of a mapper: two metrics may write the same series. */
interface WriteCounter {
  writes: number;
}

function simpleMetric(metric: MetricMapping, record: Measure, attributes: AttributeReader, refusals: Refusals, counter: WriteCounter): CompiledMetric {
  const matches = compileConditions(metric.match);
  const readValue = valueReader(metric.value, refusals);
  const nonNegative = refusesNegative(metric);
  // A gauge's last value per attribute set, by the object the reader gives for it.
  const last = metric.type === 'gauge' ? new Map<Attributes, { value: number; order: number }>() : undefined;
  const keep = (exported: Attributes, value: number) => {
    const entry = last!.get(exported);
    if (entry !== undefined) {
      entry.value = value;
      entry.order = ++counter.writes;
    } else if (last!.size < MAX_KEPT_PER_METRIC) last!.set(exported, { value, order: ++counter.writes });
  };
  return {
    apply(event, timeMs) {
      if (!matches(event)) return;
      const value = readValue(event, timeMs);
      if (value !== value) return;
      if (nonNegative && value < 0) {
        refusals.once('negative_value');
        return;
      }
      const exported = attributes.read(event);
      if (exported === undefined) return;
      record(value, exported);
      if (last !== undefined) keep(exported, value);
    },
    ...(last !== undefined && {
      saveState: () => [...last].map(([exported, { value, order }]) => ({ attributes: { ...exported }, value, order })),
      restoreState(saved, _nowMs, later) {
        let restored = 0;
        for (const entry of saved as Array<{ attributes?: unknown; value?: unknown; order?: unknown } | null>) {
          const exported = attributes.canonical(entry?.attributes);
          const { value, order } = entry ?? {};
          if (exported === undefined || typeof value !== 'number' || !Number.isFinite(value) || typeof order !== 'number') continue;
          later.push({
            order,
            run: () => {
              record(value, exported);
              keep(exported, value);
            },
          });
          restored++;
        }
        return restored;
      },
    }),
  };
}

/** `value: { time: elapsed }`: the gauge shows seconds since the last matching record, per attribute set. */
function elapsedMetric(metric: MetricMapping, record: Measure, attributes: AttributeReader, now: () => number): CompiledMetric {
  const matches = compileConditions(metric.match);
  // Bounded by the config: every attribute of an elapsed metric goes through a value map.
  const since = new Map<string, { attributes: Attributes; timeMs: number }>();
  const show = (timeMs: number, exported: Attributes, nowMs: number) => record(Math.max(0, (nowMs - timeMs) / 1000), exported);
  const start = (exported: Attributes, timeMs: number) => since.set(Object.values(exported).join('\u0000'), { attributes: exported, timeMs });
  return {
    apply(event, timeMs) {
      if (!matches(event)) return;
      const exported = attributes.read(event);
      if (exported === undefined) return;
      start(exported, timeMs);
      show(timeMs, exported, now());
    },
    refresh(nowMs) {
      for (const { attributes: exported, timeMs } of since.values()) show(timeMs, exported, nowMs);
    },
    saveState: () => [...since.values()].map(({ attributes: exported, timeMs }) => ({ attributes: { ...exported }, timeMs })),
    restoreState(saved, nowMs) {
      let restored = 0;
      for (const entry of saved as Array<{ attributes?: unknown; timeMs?: unknown } | null>) {
        const exported = attributes.canonical(entry?.attributes);
        const timeMs = entry?.timeMs;
        if (exported === undefined || typeof timeMs !== 'number' || !Number.isFinite(timeMs) || since.size >= MAX_KEPT_PER_METRIC) continue;
        start(exported, timeMs);
        show(timeMs, exported, nowMs);
        restored++;
      }
      return restored;
    },
  };
}

interface OpenPair {
  /** The start record's time: durations are measured between record times. */
  startMs: number;
  /** When the start was seen, by the mapper's clock: timeouts are measured on it. */
  openedMs: number;
  /** The start record's fields that attributes read, for an end record that lacks them. */
  fields?: Readonly<Record<string, string>>;
}

/** Durations between start and end records with the same key, in seconds. */
function pairMetric(
  pair: PairConfig,
  record: Measure,
  attributes: AttributeReader,
  active: { counter: UpDownCounter; attributes: Attributes } | undefined,
  refusals: Refusals,
  now: () => number,
): CompiledMetric {
  const isStart = compileConditions(pair.start);
  const isEnd = compileConditions(pair.end);
  // A Map iterates in insertion order, and a restarted key is deleted and set again, so the
  // first entry is always the oldest: expiry and eviction look at the front only.
  const open = new Map<string, OpenPair>();

  const drop = (key: string, reason: MappingRefusal) => {
    open.delete(key);
    active?.counter.add(-1, active.attributes);
    refusals.each(reason);
  };
  const expire = (nowMs: number) => {
    for (const [key, entry] of open) {
      if (nowMs - entry.openedMs < pair.timeoutMs) break;
      drop(key, 'pair_expired');
    }
  };
  const keep = (event: EventRecord): Record<string, string> | undefined => {
    if (attributes.fields.length === 0) return undefined;
    const kept: Record<string, string> = {};
    for (const field of attributes.fields) {
      const text = event[field];
      if (typeof text === 'string') kept[field] = ownCopy(text);
    }
    return kept;
  };

  return {
    apply(event, timeMs) {
      if (isEnd(event)) {
        const key = event[pair.key];
        if (typeof key !== 'string') return refusals.once('missing_field');
        const started = open.get(key);
        if (started === undefined) return refusals.once('unmatched_end');
        open.delete(key);
        active?.counter.add(-1, active.attributes);
        const seconds = (timeMs - started.startMs) / 1000;
        if (seconds < 0) return refusals.once('negative_duration');
        const exported = attributes.read(event, started.fields);
        if (exported !== undefined) record(seconds, exported);
        return;
      }
      if (!isStart(event)) return;
      const key = event[pair.key];
      if (typeof key !== 'string') return refusals.once('missing_field');
      const nowMs = now();
      expire(nowMs);
      if (open.has(key)) {
        // Still one open pair for this key: delete and set again to move it to the back.
        open.delete(key);
        refusals.once('pair_restarted');
      } else {
        if (open.size >= pair.maxOpen) drop(open.keys().next().value!, 'pair_evicted');
        active?.counter.add(1, active.attributes);
      }
      open.set(ownCopy(key), { startMs: timeMs, openedMs: nowMs, fields: keep(event) });
    },
    refresh: expire,
    openPairs: () => open.size,
    saveState(nowMs): SavedPair[] {
      return [...open].map(([key, entry]) => ({
        key,
        startMs: entry.startMs,
        ageMs: Math.max(0, nowMs - entry.openedMs),
        ...(entry.fields !== undefined && { fields: entry.fields }),
      }));
    },
    restoreState(entries, nowMs, _later, savedAtMs) {
      let restored = 0;
      // Pairs aged while nobody held them.
      const sinceSaved = Math.max(0, nowMs - savedAtMs);
      const saved = entries as ReadonlyArray<SavedPair | null>;
      const usable = saved.filter(
        (entry): entry is SavedPair =>
          typeof entry?.key === 'string' &&
          Number.isFinite(entry.startMs) &&
          Number.isFinite(entry.ageMs) &&
          entry.ageMs + sinceSaved < pair.timeoutMs,
      );
      // Oldest first, as saved: the newest are kept when the table is smaller now.
      for (const entry of usable.slice(-pair.maxOpen)) {
        if (open.has(entry.key)) continue;
        open.set(entry.key, { startMs: entry.startMs, openedMs: nowMs - entry.ageMs - sinceSaved, fields: savedFields(entry.fields) });
        active?.counter.add(1, active.attributes);
        restored++;
      }
      return restored;
    },
  };
}

/** A saved start's fields, if they are what `keep` made: field names to texts. */
function savedFields(fields: unknown): Record<string, string> | undefined {
  if (typeof fields !== 'object' || fields === null) return undefined;
  const kept: Record<string, string> = {};
  for (const [field, text] of Object.entries(fields)) if (typeof text === 'string') kept[field] = text;
  return kept;
}

/**
 * Compiles a receiver's `metrics:` list. Gauges that read nothing from records (a constant,
 * no match, static attributes only: `_info` metrics) are set here, once; counters and
 * up-down counters whose attributes all go through value maps get their series at 0 here,
 * so that rates and alerts see them before the first event.
 */
export function compileMapping(metrics: readonly MetricMapping[], options: MapperOptions): EventMapper {
  const { meter } = options;
  const now = options.now ?? Date.now;
  const refusals = new Refusals(options.onRefused);
  const compiled: CompiledMetric[] = [];
  /** Metrics that keep state across a restart, by a name that outlives the process. */
  const kept = new Map<string, CompiledMetric>();
  const keepAs = (name: string, metric: CompiledMetric) => {
    // The same name twice (one metric fed from two kinds of records) gets a number.
    let id = name;
    for (let n = 2; kept.has(id); n++) id = `${name} ${n}`;
    kept.set(id, metric);
  };
  const gaugeWrites: WriteCounter = { writes: 0 };

  for (const metric of metrics) {
    const record = recorder(meter, metric);
    const attributes = attributeReader(metric.attributes, metric.staticAttributes, refusals);

    if (metric.type === 'counter' || metric.type === 'updown') {
      for (const initial of attributes.all(MAX_INITIAL_SERIES) ?? []) record(0, initial);
    }
    const readsNothing = metric.pair === undefined && Object.keys(metric.match).length === 0 && attributes.fields.length === 0;
    if (metric.type === 'gauge' && metric.value?.kind === 'constant' && readsNothing) {
      record(metric.value.value, attributes.read({})!);
      continue;
    }
    if (metric.pair !== undefined) {
      let active: { counter: UpDownCounter; attributes: Attributes } | undefined;
      if (metric.pair.active !== undefined) {
        const description = `Open starts of ${metric.name} waiting for their end`;
        active = { counter: meter.upDownCounter(metric.pair.active, { description }), attributes: Object.freeze({ ...metric.staticAttributes }) };
        active.counter.add(0, active.attributes);
      }
      const compiledPair = pairMetric(metric.pair, record, attributes, active, refusals, now);
      keepAs(`${metric.name} pair ${metric.pair.key}`, compiledPair);
      compiled.push(compiledPair);
    } else if (metric.value?.kind === 'time' && metric.value.time === 'elapsed') {
      const clock = elapsedMetric(metric, record, attributes, now);
      keepAs(`${metric.name} elapsed`, clock);
      compiled.push(clock);
    } else {
      const simple = simpleMetric(metric, record, attributes, refusals, gaugeWrites);
      if (metric.type === 'gauge') keepAs(`${metric.name} gauge`, simple);
      compiled.push(simple);
    }
  }

  const timed = compiled.filter((metric) => metric.refresh !== undefined);
  const paired = compiled.filter((metric) => metric.openPairs !== undefined);
  return {
    map(record, timeMs) {
      refusals.nextRecord();
      for (let i = 0; i < compiled.length; i++) compiled[i].apply(record, timeMs);
    },
    refresh(nowMs = now()) {
      for (const metric of timed) metric.refresh!(nowMs);
    },
    openPairs() {
      let total = 0;
      for (const metric of paired) total += metric.openPairs!();
      return total;
    },
    saveState(nowMs = now()) {
      const saved: SavedState = {};
      for (const [id, metric] of kept) {
        const entries = metric.saveState!(nowMs);
        if (entries.length > 0) saved[id] = entries;
      }
      return saved;
    },
    restoreState(saved, nowMs = now(), savedAtMs = nowMs) {
      let restored = 0;
      const later: Restorer[] = [];
      for (const [id, metric] of kept) {
        const entries = Object.hasOwn(saved, id) ? saved[id] : undefined;
        if (Array.isArray(entries)) restored += metric.restoreState!(entries, nowMs, later, savedAtMs);
      }
      // Two gauge metrics may write one series: the value written last comes back last.
      for (const restorer of later.sort((a, b) => a.order - b.order)) restorer.run();
      return restored;
    },
  };
}
