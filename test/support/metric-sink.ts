// Reading back what a component produced: the metrics a MetricStore holds (a receiver's meter,
// the agent's telemetry), a processor's output, or an exporter's collection, by metric name
// and attributes. A store is collected again at each call, so a read sees its current state.
// A scrape's text is read by test/support/exposition.ts.
import type { Attributes } from '@opentelemetry/api';
import type { DataPoint, MetricData, ResourceMetrics, ScopeMetrics } from '@opentelemetry/sdk-metrics';

export type MetricsFrom = { collect(): ScopeMetrics } | ScopeMetrics | ResourceMetrics | readonly ResourceMetrics[];

/** Every metric in `from`, in collection order. */
export function metricsIn(from: MetricsFrom): MetricData[] {
  if (Array.isArray(from)) return (from as readonly ResourceMetrics[]).flatMap(metricsIn);
  if ('collect' in from) return from.collect().metrics;
  if ('scopeMetrics' in from) return from.scopeMetrics.flatMap((scope) => scope.metrics);
  return (from as ScopeMetrics).metrics;
}

export function metricNames(from: MetricsFrom): string[] {
  return metricsIn(from).map((m) => m.descriptor.name);
}

/** The metric `name`; several with that name (in several scopes) are refused. */
export function metric(from: MetricsFrom, name: string): MetricData | undefined {
  const found = metricsIn(from).filter((m) => m.descriptor.name === name);
  if (found.length > 1) throw new Error(`${found.length} metrics named ${name}`);
  return found[0];
}

/** The data points of `name`; `V` is `number` for sums and gauges. */
export function points<V = number>(from: MetricsFrom, name: string): DataPoint<V>[] {
  return (metric(from, name)?.dataPoints ?? []) as DataPoint<V>[];
}

/** Attributes and value of each series of `name`, the times left out: what `toEqual` compares. */
export function series<V = unknown>(from: MetricsFrom, name: string): Array<{ attributes: Attributes; value: V }> {
  return points<V>(from, name).map(({ attributes, value }) => ({ attributes: { ...attributes }, value }));
}

function matches(attributes: Attributes, wanted: Attributes): boolean {
  return Object.entries(wanted).every(([key, value]) => attributes[key] === value);
}

/** The value of the one series of `name` whose attributes include `wanted`; undefined when none. */
export function valueOf(from: MetricsFrom, name: string, wanted: Attributes = {}): number | undefined {
  const found = points(from, name).filter((p) => matches(p.attributes, wanted));
  if (found.length > 1) throw new Error(`${found.length} series of ${name} match ${JSON.stringify(wanted)}`);
  return found[0]?.value;
}

/** Distinct values of one attribute across the series of `name`, sorted. */
export function attributeValues(from: MetricsFrom, name: string, key: string): unknown[] {
  return [...new Set(points(from, name).map((p) => p.attributes[key]))].sort();
}
