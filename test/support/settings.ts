// The one place tests build a component's create settings. A receiver, processor or exporter
// under test gets them from here, so a change to CreateSettings (a new field, the state
// directory becoming a store) is made once, in this file.
import type {
  ComponentHealth,
  Kind,
  ComponentStatus,
  ExporterSettings,
  HealthSource,
  Logger,
  MetricSource,
  ReceiverSettings,
} from '../../src/component/types.js';
import { MetricStore } from '../../src/metrics/store.js';
import { storeIn } from './state.js';

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: object;
  msg?: string;
}

/** A logger that keeps every entry, its children's included, for assertions. */
export class RecordingLogger implements Logger {
  constructor(readonly entries: LogEntry[] = []) {}
  debug(fields: object, msg?: string) { this.entries.push({ level: 'debug', fields, msg }); }
  info(fields: object, msg?: string) { this.entries.push({ level: 'info', fields, msg }); }
  warn(fields: object, msg?: string) { this.entries.push({ level: 'warn', fields, msg }); }
  error(fields: object, msg?: string) { this.entries.push({ level: 'error', fields, msg }); }
  child(): Logger { return this; }
}

export interface ReportedStatus {
  status: ComponentStatus;
  reason?: string;
}

/** Settings fit for any kind of component, with the fakes kept reachable for assertions. */
export interface TestSettings extends ReceiverSettings {
  readonly meter: MetricStore;
  readonly telemetry: MetricStore;
  readonly logger: RecordingLogger;
  /** Every status reported, in order. */
  readonly statuses: ReportedStatus[];
}

export interface TestSettingsOptions {
  /** `type` or `type/name`; also the scope of `meter`. Default `hostmetrics`. */
  id?: string;
  /**
   * Where the component keeps state. The default names no directory on purpose: a test of a
   * component that writes state passes a temp directory of its own and removes it.
   */
  stateDir?: string;
  /** The kind the store is kept under. Default `receiver`; exporter settings use `exporter`. */
  kind?: Kind;
}

export function testSettings(options: TestSettingsOptions | string = {}): TestSettings {
  const { id = 'hostmetrics', stateDir = '/nonexistent', kind = 'receiver' } = typeof options === 'string' ? { id: options } : options;
  const statuses: ReportedStatus[] = [];
  const logger = new RecordingLogger();
  return {
    id,
    meter: new MetricStore({ scope: id }),
    telemetry: new MetricStore({ scope: 'otel-agent' }),
    logger,
    status: { report: (status, reason) => void statuses.push({ status, reason }) },
    statuses,
    store: storeIn(stateDir, id, kind, logger),
  };
}

export interface TestExporterOptions extends TestSettingsOptions {
  /** Default: a source that collects nothing. */
  source?: MetricSource;
  /** Default: ready, with no components. */
  health?: HealthSource;
}

export type TestExporterSettings = TestSettings & ExporterSettings;

export function testExporterSettings(options: TestExporterOptions = {}): TestExporterSettings {
  const { source = { collect: async () => [] }, health = { ready: () => true, components: (): ComponentHealth[] => [] }, ...rest } = options;
  return { ...testSettings({ kind: 'exporter', ...rest }), source, health };
}
