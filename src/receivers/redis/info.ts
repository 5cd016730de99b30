// Reading Redis INFO text: `# Section` headers, `field:value` lines, and the nested values of
// `db0:keys=1,expires=0,avg_ttl=0`, `cmdstat_get:calls=2,usec=5,...` and
// `latency_percentiles_usec_get:p50=1.003,p99=2.007,p99.9=3.001`.

/** The fields of one or more INFO replies, by name. */
export type InfoFields = Map<string, string>;

export function parseInfo(text: string, into: InfoFields = new Map()): InfoFields {
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    into.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return into;
}

/** `keys=1,expires=0` -> {keys: '1', expires: '0'}. */
export function parseNested(value: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const part of value.split(',')) {
    const equals = part.indexOf('=');
    if (equals > 0) fields[part.slice(0, equals)] = part.slice(equals + 1);
  }
  return fields;
}

/** A number from INFO, or undefined for a missing or non-numeric field. */
export function infoNumber(fields: InfoFields, name: string): number | undefined {
  const text = fields.get(name);
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}
