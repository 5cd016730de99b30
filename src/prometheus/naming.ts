// OpenTelemetry -> Prometheus naming, after the OpenTelemetry "Prometheus and OpenMetrics
// compatibility" specification. Pure functions: the serializer caches what they return.
// Shared ground, so that every exporter that names series for Prometheus (the scrape
// endpoint; remote write) gives a series the same name, pulled or pushed.

/** How an OpenTelemetry metric is exposed; decides the TYPE and the name suffixes. */
export type MetricKind = 'monotonic_sum' | 'non_monotonic_sum' | 'gauge' | 'histogram';

export type PrometheusType = 'counter' | 'gauge' | 'histogram';

export function prometheusType(kind: MetricKind): PrometheusType {
  switch (kind) {
    case 'monotonic_sum':
      return 'counter';
    case 'histogram':
      return 'histogram';
    default:
      return 'gauge';
  }
}

// UCUM units (https://ucum.org) spelled out as Prometheus base-unit words.
const UNIT_WORDS: Readonly<Record<string, string>> = {
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tebibytes',
  kBy: 'kilobytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  bit: 'bits',
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Cel: 'celsius',
  Hz: 'hertz',
  '%': 'percent',
};

// The denominator of a rate unit (`By/s`) reads in the singular: bytes_per_second.
const PER_UNIT_WORDS: Readonly<Record<string, string>> = {
  s: 'second',
  m: 'minute',
  min: 'minute',
  h: 'hour',
  d: 'day',
  w: 'week',
  mo: 'month',
  y: 'year',
};

function isNameChar(code: number): boolean {
  return (
    (code >= 97 && code <= 122) || // a-z
    (code >= 65 && code <= 90) || // A-Z
    (code >= 48 && code <= 57) || // 0-9
    code === 95 // _
  );
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/**
 * Every character outside `[a-zA-Z0-9_]` becomes `_`, and runs of `_` collapse to one.
 * Colons, legal in metric names, are replaced too: Prometheus reserves them for recording
 * rules.
 */
export function sanitizeName(text: string): string {
  let out = '';
  let lastWasUnderscore = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isNameChar(code) && code !== 95) {
      out += text[i];
      lastWasUnderscore = false;
    } else if (!lastWasUnderscore) {
      out += '_';
      lastWasUnderscore = true;
    }
  }
  return out;
}

/**
 * The Prometheus unit word for a UCUM unit, or '' when it has none: `s` -> `seconds`,
 * `By/s` -> `bytes_per_second`, `{packets}` -> '' (annotations are dropped), `1` ->
 * `ratio` for gauges only (on sums `1` means a count). Unknown units are sanitised.
 */
export function prometheusUnit(unit: string, kind: MetricKind): string {
  const withoutAnnotations = unit.replace(/\{[^}]*\}/g, '').trim();
  if (withoutAnnotations === '') return '';
  if (withoutAnnotations === '1') return kind === 'gauge' ? 'ratio' : '';
  const slash = withoutAnnotations.indexOf('/');
  const main = slash < 0 ? withoutAnnotations : withoutAnnotations.slice(0, slash);
  const per = slash < 0 ? '' : withoutAnnotations.slice(slash + 1);
  const mainWord = main === '1' ? '' : unitWord(main, UNIT_WORDS);
  const perWord = per === '' || per === '1' ? '' : unitWord(per, PER_UNIT_WORDS);
  if (perWord === '') return mainWord;
  return mainWord === '' ? `per_${perWord}` : `${mainWord}_per_${perWord}`;
}

function unitWord(ucum: string, words: Readonly<Record<string, string>>): string {
  const known = words[ucum];
  if (known !== undefined) return known;
  return trimUnderscores(sanitizeName(ucum));
}

function trimUnderscores(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && text.charCodeAt(start) === 95) start++;
  while (end > start && text.charCodeAt(end - 1) === 95) end--;
  return text.slice(start, end);
}

export interface MetricNameOptions {
  /** Prefixed as `namespace_`; sanitised. */
  namespace?: string;
  /** Append the unit word and, on counters, `_total`. */
  addSuffixes: boolean;
}

export interface PrometheusMetricName {
  /** Name of the samples (`system_cpu_time_seconds_total`); '' when the name is unusable. */
  name: string;
  /** MetricFamily name for OpenMetrics metadata lines: `name` without `_total` on counters. */
  family: string;
  /** Unit word for the OpenMetrics UNIT line; '' unless the family name ends with it. */
  unit: string;
}

/**
 * `system.cpu.time`, unit `s`, monotonic sum -> `system_cpu_time_seconds_total`. The unit
 * word is not appended when the name already ends with it, nor `_total` twice.
 */
export function prometheusMetricName(
  otelName: string,
  unit: string,
  kind: MetricKind,
  options: MetricNameOptions,
): PrometheusMetricName {
  let base = sanitizeName(otelName);
  const namespace = options.namespace ? sanitizeName(options.namespace) : '';
  if (namespace !== '' && base !== '') base = sanitizeName(`${namespace}_${base}`);
  if (base === '' || base === '_') return { name: '', family: '', unit: '' };
  if (isDigit(base.charCodeAt(0))) base = `_${base}`;

  const isCounter = kind === 'monotonic_sum';
  const word = prometheusUnit(unit, kind);
  if (!options.addSuffixes) {
    const family = isCounter && base.endsWith('_total') ? base.slice(0, -'_total'.length) : base;
    return { name: base, family, unit: word !== '' && family.endsWith(`_${word}`) ? word : '' };
  }
  if (isCounter && base.endsWith('_total')) base = base.slice(0, -'_total'.length);
  if (word !== '' && base !== word && !base.endsWith(`_${word}`)) base = `${base}_${word}`;
  if (!isCounter && kind !== 'histogram' && RESERVED_SUFFIX.test(base)) base = `${base}_value`;
  const name = isCounter ? `${base}_total` : base;
  return { name, family: base, unit: word !== '' && base.endsWith(`_${word}`) ? word : '' };
}

/**
 * `_count`, `_sum` and `_bucket` name the series of histograms and summaries: a gauge named
 * so (`system.cpu.logical.count`) is refused by `promtool check metrics` and read as part of
 * a histogram by some parsers, so it gets `_value` (`system_cpu_logical_count_value`).
 */
const RESERVED_SUFFIX = /_(count|sum|bucket)$/;

/**
 * Label name for an attribute key: invalid characters -> `_`, runs of `_` collapsed, a
 * leading digit gets `key_`, and a leading `__` (reserved for Prometheus' own labels)
 * gets `key` before the collapse (`__name__` -> `key_name_`).
 */
export function sanitizeLabelName(key: string): string {
  if (isPlainLabelName(key)) return key;
  let replaced = '';
  for (let i = 0; i < key.length; i++) {
    replaced += isNameChar(key.charCodeAt(i)) ? key[i] : '_';
  }
  if (replaced.startsWith('__')) replaced = `key${replaced}`;
  let label = sanitizeName(replaced);
  if (label === '') label = 'key_';
  return isDigit(label.charCodeAt(0)) ? `key_${label}` : label;
}

function isPlainLabelName(key: string): boolean {
  if (key.length === 0 || isDigit(key.charCodeAt(0))) return false;
  let previous = 0;
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (!isNameChar(code) || (code === 95 && previous === 95)) return false;
    previous = code;
  }
  return true;
}

/** Attribute value as a label value: strings as they are, arrays as JSON, the rest as text. */
export function labelValueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}

/**
 * Attributes as Prometheus label pairs, sorted by label name. Keys that map to the same
 * label are merged as the specification says: values joined by `;` in the lexicographical
 * order of the original keys. A key that maps to a label in `reserved` (labels the exporter
 * adds itself: scope, constant labels, `le`) is renamed `exported_<label>`, as Prometheus
 * does for target labels that clash with scraped ones. Attributes whose value is null or undefined are left
 * out: an empty label is no label in Prometheus.
 */
export function prometheusLabels(
  attributes: Readonly<Record<string, unknown>>,
  reserved?: ReadonlySet<string>,
): Array<[name: string, value: string]> {
  const byLabel = new Map<string, Array<[key: string, value: string]>>();
  for (const key of Object.keys(attributes)) {
    const value = attributes[key];
    if (value === undefined || value === null) continue;
    let label = sanitizeLabelName(key);
    if (reserved !== undefined && reserved.has(label)) label = `exported_${label}`;
    const sources = byLabel.get(label);
    const entry: [string, string] = [key, labelValueText(value)];
    if (sources === undefined) byLabel.set(label, [entry]);
    else sources.push(entry);
  }
  const pairs: Array<[string, string]> = [];
  for (const [label, sources] of byLabel) {
    if (sources.length === 1) {
      pairs.push([label, sources[0][1]]);
    } else {
      sources.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      pairs.push([label, sources.map((source) => source[1]).join(';')]);
    }
  }
  return pairs.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/**
 * A histogram bound as an `le` label value, rendered as Go's `%g` does (Prometheus client
 * libraries do the same, so `le` values match theirs): `0.005`, `10`, `1e+06`. OpenMetrics
 * wants its canonical form, a float that shows it is one: `10.0`.
 */
export function bucketBoundText(bound: number, openMetrics: boolean): string {
  if (bound === Infinity) return '+Inf';
  if (bound === -Infinity) return '-Inf';
  if (Number.isNaN(bound)) return 'NaN';
  if (bound === 0) return openMetrics ? '0.0' : '0';
  const [mantissa, exponentText] = Math.abs(bound).toExponential().split('e');
  const exponent = Number(exponentText);
  const digits = mantissa.replace('.', '');
  const sign = bound < 0 ? '-' : '';
  // Shortest %g: exponent form below 1e-4 and from 1e6 up, with at least two exponent digits.
  if (exponent < -4 || exponent >= 6) {
    const magnitude = Math.abs(exponent);
    return `${sign}${mantissa}e${exponent < 0 ? '-' : '+'}${magnitude < 10 ? '0' : ''}${magnitude}`;
  }
  let fixed: string;
  if (exponent < 0) {
    fixed = `0.${'0'.repeat(-exponent - 1)}${digits}`;
  } else if (digits.length > exponent + 1) {
    fixed = `${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
  } else {
    fixed = digits + '0'.repeat(exponent + 1 - digits.length);
    if (openMetrics) fixed += '.0';
  }
  return sign + fixed;
}
