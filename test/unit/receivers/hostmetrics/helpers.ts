// Test helpers for the hostmetrics receiver: settings around a real MetricStore, a logger
// and a status reporter that remember what they were told, and readers of collected series.
import type { Attributes } from '@opentelemetry/api';
import type { DataPoint, MetricData } from '@opentelemetry/sdk-metrics';
import type { ComponentStatus, Logger, ReceiverSettings } from '../../../../src/component/types.js';
import { MetricStore } from '../../../../src/metrics/store.js';
import { storeIn } from '../../../support/state.js';

export interface LogEntry {
  level: string;
  fields: object;
  msg?: string;
}

export class RecordingLogger implements Logger {
  readonly entries: LogEntry[] = [];
  debug(fields: object, msg?: string) { this.entries.push({ level: 'debug', fields, msg }); }
  info(fields: object, msg?: string) { this.entries.push({ level: 'info', fields, msg }); }
  warn(fields: object, msg?: string) { this.entries.push({ level: 'warn', fields, msg }); }
  error(fields: object, msg?: string) { this.entries.push({ level: 'error', fields, msg }); }
  child(): Logger { return this; }
}

export interface TestSettings extends ReceiverSettings {
  readonly meter: MetricStore;
  readonly telemetry: MetricStore;
  readonly logger: RecordingLogger;
  readonly statuses: Array<{ status: ComponentStatus; reason?: string }>;
}

/** Settings of component `id`; its state store is in `stateDir` (by default one that does not exist). */
export function testSettings(id = 'hostmetrics', stateDir = '/nonexistent'): TestSettings {
  const statuses: Array<{ status: ComponentStatus; reason?: string }> = [];
  const logger = new RecordingLogger();
  return {
    id,
    meter: new MetricStore({ scope: id }),
    telemetry: new MetricStore({ scope: 'otel-agent' }),
    logger,
    status: { report: (status, reason) => statuses.push({ status, reason }) },
    statuses,
    store: storeIn(stateDir, id, 'receiver', logger),
  };
}

export function metric(store: MetricStore, name: string): MetricData | undefined {
  return store.collect().metrics.find((m) => m.descriptor.name === name);
}

export function points(store: MetricStore, name: string): DataPoint<number>[] {
  return (metric(store, name)?.dataPoints ?? []) as DataPoint<number>[];
}

function matches(attributes: Attributes, wanted: Attributes): boolean {
  return Object.entries(wanted).every(([key, value]) => attributes[key] === value);
}

/** The value of the one series of `name` whose attributes include `wanted`. */
export function valueOf(store: MetricStore, name: string, wanted: Attributes = {}): number | undefined {
  const found = points(store, name).filter((p) => matches(p.attributes, wanted));
  if (found.length > 1) throw new Error(`${found.length} series of ${name} match ${JSON.stringify(wanted)}`);
  return found[0]?.value;
}

/** Distinct values of one attribute across the series of `name`. */
export function attributeValues(store: MetricStore, name: string, key: string): unknown[] {
  return [...new Set(points(store, name).map((p) => p.attributes[key]))].sort();
}
