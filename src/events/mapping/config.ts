// The mapping's config: the `metrics:` list of an event receiver (joblog, mqtt). Each item
// says which records it counts and how a record becomes one measurement. YAML keys are
// snake_case; the parsed output is normalised (shorthands expanded, camelCase) so that the
// compiler handles one form of each thing.
import { z } from 'zod';
import { duration } from '../../component/schema.js';
import { conditionsSchema, fieldName, isScalar, scalarText, wrongType, type Conditions } from './conditions.js';

export const METRIC_TYPES = ['counter', 'updown', 'gauge', 'histogram'] as const;
export type MetricType = (typeof METRIC_TYPES)[number];

/** Where a measurement's number comes from. */
export type ValueSource =
  | { kind: 'constant'; value: number }
  /** A number in a field (times `scale`), or, with `map`, the number the field's text maps to. */
  | { kind: 'field'; field: string; scale: number; map?: Record<string, number>; default?: number }
  /** `record`: the record's time in seconds since the epoch; `elapsed`: seconds since it, kept current. */
  | { kind: 'time'; time: 'record' | 'elapsed' };

/** An exported attribute read from a field, optionally through a value map. */
export interface AttributeSource {
  field: string;
  map?: Record<string, string>;
  /** Used when the field is missing or its text is not in the map. */
  default?: string;
}

/** Durations between a start record and an end record with the same key. */
export interface PairConfig {
  key: string;
  start: Conditions;
  end: Conditions;
  timeoutMs: number;
  maxOpen: number;
  /** Name of an up-down counter of open pairs. */
  active?: string;
}

export interface MetricMapping {
  name: string;
  type: MetricType;
  description?: string;
  unit?: string;
  /** Absent: 1 for counters and up-down counters; the duration in seconds for pair metrics. */
  value?: ValueSource;
  match: Conditions;
  attributes: Record<string, AttributeSource>;
  staticAttributes: Record<string, string>;
  buckets?: number[];
  pair?: PairConfig;
}

/** The OpenTelemetry instrument name syntax. */
const INSTRUMENT_NAME = /^[A-Za-z][A-Za-z0-9_./-]{0,254}$/;

function instrumentName() {
  return z.string().regex(INSTRUMENT_NAME, {
    error: 'expected an instrument name (a letter, then letters, digits, _ . / -; at most 255 characters)',
  });
}

const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isMapping = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const DEFAULT_SCALE = 1;

// Mapping forms below check their insides with non-aborting issues, so that zod reports the
// problem inside the mapping rather than "expected a number or a string or a mapping".
const valueMapping = z
  .strictObject({
    field: z.unknown().optional(),
    scale: z.unknown().optional(),
    map: z.unknown().optional(),
    default: z.unknown().optional(),
    time: z.unknown().optional(),
  })
  .superRefine((value, ctx) => {
    const issue = (path: string[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if ((value.field === undefined) === (value.time === undefined)) issue([], 'expected exactly one of field or time');
    if (value.field !== undefined && (typeof value.field !== 'string' || value.field === '')) issue(['field'], 'expected a field name');
    if (value.time !== undefined && value.time !== 'record' && value.time !== 'elapsed') {
      issue(['time'], 'expected one of record, elapsed');
    }
    if (value.time !== undefined) {
      for (const key of ['scale', 'map', 'default'] as const) {
        if (value[key] !== undefined) issue([key], 'expected no ' + key + ' with time (it applies to a field)');
      }
    }
    if (value.scale !== undefined && (!isFiniteNumber(value.scale) || value.scale === 0)) issue(['scale'], 'expected a number other than 0');
    if (value.scale !== undefined && value.map !== undefined) {
      issue(['scale'], 'expected no scale with map (the map gives the numbers themselves)');
    }
    if (value.map !== undefined) {
      if (!isMapping(value.map)) issue(['map'], 'expected a mapping of field texts to numbers');
      else {
        for (const [text, number] of Object.entries(value.map)) {
          if (!isFiniteNumber(number)) issue(['map', text], 'expected a number');
        }
      }
    }
    if (value.default !== undefined && !isFiniteNumber(value.default)) issue(['default'], 'expected a number');
  });

const valueSchema = z
  .union([z.number(), fieldName(), valueMapping], {
    error: 'expected a number, a field name, { field: ..., scale|map|default: ... } or { time: record|elapsed }',
  })
  .transform((value): ValueSource => {
    if (typeof value === 'number') return { kind: 'constant', value };
    if (typeof value === 'string') return { kind: 'field', field: value, scale: DEFAULT_SCALE };
    if (value.time !== undefined) return { kind: 'time', time: value.time as 'record' | 'elapsed' };
    const source: ValueSource = { kind: 'field', field: value.field as string, scale: (value.scale as number | undefined) ?? DEFAULT_SCALE };
    if (value.map !== undefined) source.map = value.map as Record<string, number>;
    if (value.default !== undefined) source.default = value.default as number;
    return source;
  });

const attributeMapping = z
  .strictObject({ field: z.unknown().optional(), map: z.unknown().optional(), default: z.unknown().optional() })
  .superRefine((attribute, ctx) => {
    const issue = (path: string[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (typeof attribute.field !== 'string' || attribute.field === '') issue(['field'], 'expected a field name');
    if (attribute.map !== undefined) {
      if (!isMapping(attribute.map)) issue(['map'], 'expected a mapping of field texts to attribute values');
      else {
        for (const [text, exported] of Object.entries(attribute.map)) {
          if (!isScalar(exported)) issue(['map', text], 'expected a string, a number or true/false');
        }
      }
    }
    if (attribute.default !== undefined && !isScalar(attribute.default)) issue(['default'], 'expected a string, a number or true/false');
  });

const attributeSchema = z
  .union([fieldName(), attributeMapping], { error: 'expected a field name or { field: ..., map: ..., default: ... }' })
  .transform((attribute): AttributeSource => {
    if (typeof attribute === 'string') return { field: attribute };
    const source: AttributeSource = { field: attribute.field as string };
    if (attribute.map !== undefined) {
      source.map = Object.fromEntries(
        Object.entries(attribute.map as Record<string, string | number | boolean>).map(([text, exported]) => [text, scalarText(exported)]),
      );
    }
    if (attribute.default !== undefined) source.default = scalarText(attribute.default as string | number | boolean);
    return source;
  });

const textValue = z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string, a number or true/false' }).transform(scalarText);

const bucketsSchema = z
  .array(z.number(), wrongType('expected a list of bucket bounds'))
  .min(1)
  .superRefine((buckets, ctx) => {
    for (let i = 1; i < buckets.length; i++) {
      if (buckets[i] <= buckets[i - 1]) {
        ctx.addIssue({ code: 'custom', path: [i], message: `expected buckets in strictly ascending order, found ${buckets[i]} after ${buckets[i - 1]}` });
      }
    }
  });

const nonEmptyConditions = conditionsSchema.refine((conditions) => Object.keys(conditions).length > 0, {
  error: 'expected at least one field condition',
});

const pairSchema = z
  .strictObject({
    /** The field that ties a start record to its end record (a job id). */
    key: fieldName(),
    start: nonEmptyConditions,
    end: nonEmptyConditions,
    /** Open starts older than this are dropped and counted (`pair_expired`). */
    timeout: duration().prefault('24h'),
    /** Open starts kept at most; when full, the oldest is dropped and counted (`pair_evicted`). */
    max_open: z.number().int().positive().default(10_000),
    active: instrumentName().optional(),
  })
  .transform(
    (pair): PairConfig => ({
      key: pair.key,
      start: pair.start,
      end: pair.end,
      timeoutMs: pair.timeout,
      maxOpen: pair.max_open,
      ...(pair.active !== undefined && { active: pair.active }),
    }),
  );

/**
 * Checks between keys of one metric. They also run when a key is wrong (to report every
 * problem at once), so they see each key either as written or as already normalised.
 */
function checkMetric(metric: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const issue = (path: Array<string | number>, message: string) => ctx.addIssue({ code: 'custom', path, message });
  const type = metric.type;
  const value = metric.value;
  const has = (key: string) => metric[key] !== undefined;
  const timeValue = isMapping(value) && value.time !== undefined;
  const constant = typeof value === 'number' ? value : isMapping(value) && value.kind === 'constant' ? value.value : undefined;

  if ((type === 'gauge' || type === 'histogram') && !has('value') && !has('pair')) {
    issue(['value'], type === 'gauge' ? 'expected a value: a field name, a number, or { time: record|elapsed }' : 'expected a value (a field name) or a pair');
  }
  if (timeValue && type !== 'gauge') issue(['value', 'time'], `expected { time: ... } on a gauge only, found it on a ${String(type)}`);
  if (type === 'counter' && typeof constant === 'number' && constant < 0) {
    issue(['value'], `expected a counter's value to be 0 or more, found ${constant}`);
  }
  if (has('buckets') && type !== 'histogram') issue(['buckets'], `expected buckets on a histogram only, found them on a ${String(type)}`);
  if (has('pair')) {
    if (type === 'updown') issue(['pair'], 'expected no pair on an updown (pair::active counts open pairs)');
    if (has('match')) issue(['match'], 'expected no match with pair (conditions go in pair::start and pair::end)');
    if (has('value')) issue(['value'], 'expected no value with pair (the value is the duration in seconds)');
  }
  if (isMapping(metric.attributes)) {
    for (const [key, source] of Object.entries(metric.attributes)) {
      if (timeValue && isMapping(value) && value.time === 'elapsed' && !(isMapping(source) && source.map !== undefined)) {
        issue(['attributes', key], 'expected { field: ..., map: ... }: a { time: elapsed } metric keeps a clock per attribute set, so its attributes need a value map');
      }
      if (isMapping(metric.static_attributes) && key in metric.static_attributes) {
        issue(['static_attributes', key], 'expected a key that is not also in attributes');
      }
    }
  }
}

export const metricSchema = z
  .strictObject({
    /** Instrument name, OpenTelemetry style (`runner.jobs`); views may rename it. */
    name: instrumentName(),
    type: z.enum(METRIC_TYPES),
    description: z.string().optional(),
    /** UCUM unit: `s`, `By`, `{jobs}`. */
    unit: z.string().optional(),
    value: valueSchema.optional(),
    match: conditionsSchema.optional(),
    attributes: z.record(z.string().min(1), attributeSchema, wrongType('expected a mapping of attribute names to fields')).optional(),
    static_attributes: z.record(z.string().min(1), textValue, wrongType('expected a mapping of attribute names to values')).optional(),
    buckets: bucketsSchema.optional(),
    pair: pairSchema.optional(),
  })
  .superRefine((metric, ctx) => checkMetric(metric as Record<string, unknown>, ctx), { when: ({ value }) => isMapping(value) })
  .transform(
    (metric): MetricMapping => ({
      name: metric.name,
      type: metric.type,
      ...(metric.description !== undefined && { description: metric.description }),
      ...(metric.unit !== undefined && { unit: metric.unit }),
      ...(metric.value !== undefined && { value: metric.value }),
      match: metric.match ?? {},
      attributes: metric.attributes ?? {},
      staticAttributes: metric.static_attributes ?? {},
      ...(metric.buckets !== undefined && { buckets: metric.buckets }),
      ...(metric.pair !== undefined && { pair: metric.pair }),
    }),
  );

/** The `metrics:` list. One name has one type: an item may repeat a name to feed the same metric from other records. */
export const metricsSchema = z
  .array(metricSchema, wrongType('expected a list of metrics'))
  .min(1)
  .superRefine(
    (metrics, ctx) => {
      const typeOf = new Map<string, { type: string; index: number }>();
      const claim = (name: unknown, type: unknown, index: number, path: Array<string | number>) => {
        if (typeof name !== 'string' || typeof type !== 'string') return;
        const earlier = typeOf.get(name);
        if (earlier === undefined) typeOf.set(name, { type, index });
        else if (earlier.type !== type) {
          ctx.addIssue({ code: 'custom', path, message: `expected one type per name: "${name}" is a ${earlier.type} at [${earlier.index}], not a ${type}` });
        }
      };
      metrics.forEach((item, index) => {
        const metric = item as unknown as Record<string, unknown>;
        if (!isMapping(metric)) return;
        claim(metric.name, metric.type, index, [index, 'name']);
        const pair = metric.pair;
        if (isMapping(pair)) claim(pair.active, 'updown', index, [index, 'pair', 'active']);
      });
    },
    { when: ({ value }) => Array.isArray(value) },
  );

export type MetricsConfig = z.output<typeof metricsSchema>;

/** A field a metric reads from records, and where in the `metrics:` list it is named. */
export interface FieldReference {
  field: string;
  path: Array<string | number>;
}

/** Every field a `metrics:` list reads from records, each with the path of the key naming it. */
export function fieldReferences(metrics: readonly MetricMapping[]): FieldReference[] {
  const references: FieldReference[] = [];
  metrics.forEach((metric, index) => {
    for (const field of Object.keys(metric.match)) references.push({ field, path: [index, 'match', field] });
    if (metric.value?.kind === 'field') references.push({ field: metric.value.field, path: [index, 'value'] });
    for (const [key, attribute] of Object.entries(metric.attributes)) references.push({ field: attribute.field, path: [index, 'attributes', key] });
    if (metric.pair !== undefined) {
      references.push({ field: metric.pair.key, path: [index, 'pair', 'key'] });
      for (const side of ['start', 'end'] as const) {
        for (const field of Object.keys(metric.pair[side])) references.push({ field, path: [index, 'pair', side, field] });
      }
    }
  });
  return references;
}

/** Every field a `metrics:` list reads from records: parsers need to give records no others. */
export function fieldsRead(metrics: readonly MetricMapping[]): Set<string> {
  return new Set(fieldReferences(metrics).map((reference) => reference.field));
}
