// A strict OpenMetrics 1.0 text parser for tests: promtool (2.42) only parses the
// Prometheus text format, so OpenMetrics output is checked against the specification's
// ABNF and rules here. It throws on the first violation, naming the line.

export interface OpenMetricsSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface OpenMetricsFamily {
  name: string;
  type: string;
  unit?: string;
  help?: string;
  samples: OpenMetricsSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NUMBER = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity)|nan)$/i;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'gaugehistogram', 'stateset', 'info', 'summary', 'unknown']);
const SUFFIXES: Record<string, string[]> = {
  counter: ['_total', '_created'],
  gauge: [''],
  histogram: ['_bucket', '_count', '_sum', '_created'],
  gaugehistogram: ['_bucket', '_gcount', '_gsum'],
  stateset: [''],
  info: ['_info'],
  summary: ['', '_count', '_sum', '_created'],
  unknown: [''],
};

export function parseOpenMetrics(text: string): OpenMetricsFamily[] {
  if (!text.endsWith('# EOF\n') && !text.endsWith('# EOF')) throw new Error('exposition does not end with # EOF');
  const lines = text.replace(/\n$/, '').split('\n');
  if (lines.pop() !== '# EOF') throw new Error('last line is not # EOF');
  const families: OpenMetricsFamily[] = [];
  const closed = new Set<string>();
  let current: OpenMetricsFamily | undefined;
  const fail = (index: number, message: string): never => {
    throw new Error(`line ${index + 1}: ${message}: ${JSON.stringify(lines[index])}`);
  };

  const startFamily = (name: string, index: number): OpenMetricsFamily => {
    if (closed.has(name) || current?.name === name) fail(index, `family ${name} is interleaved or does not fit its type`);
    if (current !== undefined) closed.add(current.name);
    current = { name, type: 'unknown', samples: [] };
    families.push(current);
    return current;
  };

  lines.forEach((line, index) => {
    if (line.includes('\r')) fail(index, 'carriage return');
    if (line.startsWith('#')) {
      const match = /^# (TYPE|UNIT|HELP) ([^ ]+) ?(.*)$/.exec(line);
      if (match === null) fail(index, 'a line starting with # that is not TYPE, UNIT or HELP');
      const [, keyword, name, rest] = match!;
      if (!METRIC_NAME.test(name)) fail(index, 'invalid metric name');
      let family = current;
      if (family === undefined || family.name !== name) family = startFamily(name, index);
      else if (family.samples.length > 0) fail(index, 'metadata after samples');
      const seenKey = `_${keyword.toLowerCase()}Seen` as const;
      const marks = family as unknown as Record<string, boolean>;
      if (marks[seenKey]) fail(index, `second ${keyword} line`);
      marks[seenKey] = true;
      if (keyword === 'TYPE') {
        if (!TYPES.has(rest)) fail(index, 'unknown type');
        family.type = rest;
      } else if (keyword === 'UNIT') {
        if (rest !== '' && !name.endsWith(`_${rest}`)) fail(index, 'unit is not a suffix of the family name');
        family.unit = rest;
      } else {
        family.help = unescape(rest, () => fail(index, 'bad escape in HELP'));
      }
      return;
    }
    const sample = parseSample(line, () => fail(index, 'malformed sample'));
    const belongs = (family: OpenMetricsFamily | undefined) =>
      family !== undefined && SUFFIXES[family.type].some((suffix) => sample.name === family.name + suffix);
    let family = current;
    if (!belongs(family)) {
      family = startFamily(sample.name, index);
    }
    family!.samples.push(sample);
  });
  for (const family of families) checkFamily(family);
  return families;
}

function parseSample(line: string, fail: () => never): OpenMetricsSample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (nameMatch === null) fail();
  const name = nameMatch![0];
  let position = name.length;
  const labels: Record<string, string> = {};
  if (line[position] === '{') {
    position++;
    while (line[position] !== '}') {
      const labelMatch = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(position));
      if (labelMatch === null) fail();
      const labelName = labelMatch![1];
      position += labelMatch![0].length;
      let raw = '';
      while (line[position] !== '"') {
        if (position >= line.length) fail();
        if (line[position] === '\\') {
          raw += line.slice(position, position + 2);
          position += 2;
        } else {
          raw += line[position++];
        }
      }
      position++;
      if (labelName in labels) fail();
      if (!LABEL_NAME.test(labelName)) fail();
      labels[labelName] = unescape(raw, fail);
      if (line[position] === ',') {
        position++;
        if (line[position] === '}') fail();
      } else if (line[position] !== '}') {
        fail();
      }
    }
    position++;
  }
  if (line[position] !== ' ') fail();
  const valueText = line.slice(position + 1);
  if (!NUMBER.test(valueText)) fail();
  return { name, labels, value: Number(valueText.replace(/^([+-]?)inf(inity)?$/i, '$1Infinity')) };
}

function unescape(raw: string, fail: () => never): string {
  return raw.replace(/\\(.?)/g, (_, next: string) => {
    if (next === 'n') return '\n';
    if (next === '"' || next === '\\') return next;
    return fail();
  });
}

function labelKey(labels: Record<string, string>, without?: string): string {
  return JSON.stringify(
    Object.keys(labels)
      .filter((name) => name !== without)
      .sort()
      .map((name) => [name, labels[name]]),
  );
}

function checkFamily(family: OpenMetricsFamily): void {
  const fail = (message: string): never => {
    throw new Error(`family ${family.name}: ${message}`);
  };
  const seen = new Set<string>();
  for (const sample of family.samples) {
    const key = `${sample.name}${labelKey(sample.labels)}`;
    if (seen.has(key)) fail(`duplicate sample ${key}`);
    seen.add(key);
    if (family.type === 'counter' && sample.name.endsWith('_total')) {
      if (Number.isNaN(sample.value) || sample.value < 0) fail('counter total is NaN or negative');
    }
    if (family.type === 'info' && sample.value !== 1) fail('info value is not 1');
  }
  if (family.type !== 'histogram') return;
  // Per metric (label set without le): buckets ascending and cumulative, +Inf last and equal
  // to _count, samples of one metric contiguous.
  const finished = new Set<string>();
  let currentKey: string | undefined;
  const buckets = new Map<string, Array<[number, number]>>();
  const counts = new Map<string, number>();
  const sums = new Set<string>();
  for (const sample of family.samples) {
    const key = labelKey(sample.labels, 'le');
    if (key !== currentKey) {
      if (finished.has(key)) fail(`metric ${key} is interleaved`);
      if (currentKey !== undefined) finished.add(currentKey);
      currentKey = key;
    }
    if (sample.name.endsWith('_bucket')) {
      const le = sample.labels.le;
      if (le === undefined) fail('bucket without le');
      const list = buckets.get(key) ?? [];
      list.push([le === '+Inf' ? Infinity : Number(le), sample.value]);
      buckets.set(key, list);
    } else if (sample.name.endsWith('_count')) {
      counts.set(key, sample.value);
    } else if (sample.name.endsWith('_sum')) {
      sums.add(key);
    }
  }
  for (const [key, list] of buckets) {
    for (let i = 1; i < list.length; i++) {
      if (!(list[i][0] > list[i - 1][0])) fail(`buckets of ${key} not ascending`);
      if (list[i][1] < list[i - 1][1]) fail(`buckets of ${key} not cumulative`);
    }
    const last = list[list.length - 1];
    if (last[0] !== Infinity) fail(`${key} has no +Inf bucket`);
    if (counts.has(key) && counts.get(key) !== last[1]) fail(`${key}: +Inf bucket differs from _count`);
    if (list[0][0] < 0 && sums.has(key)) fail(`${key} has negative buckets and a _sum`);
  }
}
