// Reading values back from a scrape: the samples of a Prometheus text exposition, and the
// value of one by name and labels, as test/support/metric-sink.ts reads OpenTelemetry data.

/** One sample line of a Prometheus text exposition. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function samples(exposition: string): Sample[] {
  const found: Sample[] = [];
  for (const line of exposition.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[label[1]] = label[2];
    found.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return found;
}

/** The value of the one sample of `name` whose labels include `wanted`, or undefined. */
export function valueIn(exposition: string, name: string, wanted: Record<string, string> = {}): number | undefined {
  const matching = samples(exposition).filter(
    (sample) => sample.name === name && Object.entries(wanted).every(([key, value]) => sample.labels[key] === value),
  );
  if (matching.length > 1) throw new Error(`${matching.length} samples of ${name} match ${JSON.stringify(wanted)}`);
  return matching[0]?.value;
}
