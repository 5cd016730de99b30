// The agent's own metrics (`otel_agent_*` in Prometheus): build, uptime, component status,
// series per metric, series folded by limits, config reloads. They live as long as the
// process, across config reloads.
import type { ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type { ComponentHealth, Counter, Gauge } from '../component/types.js';
import { MetricStore } from '../metrics/store.js';
import { VERSION } from '../version.js';
import { STATUSES } from './status.js';

export const SELF_SCOPE = 'otel-agent';

/** What the self-telemetry reads at each collection. */
export interface SelfTelemetrySnapshot {
  components: ComponentHealth[];
  stores: Iterable<MetricStore>;
}

export class SelfTelemetry {
  /** Counters and histograms components record into: cumulative for the process's life. */
  readonly meter: MetricStore;
  /** Gauges describing the running service, rebuilt (and swept) at every collection. */
  private readonly state: MetricStore;
  private readonly startedAt: number;
  private readonly buildInfo: Gauge;
  private readonly uptime: Gauge;
  private readonly status: Gauge;
  private readonly series: Gauge;
  private readonly folded: Counter;
  private readonly reloads: Counter;

  constructor(now: () => number = Date.now) {
    this.meter = new MetricStore({ scope: SELF_SCOPE, now });
    this.state = new MetricStore({ scope: SELF_SCOPE, now });
    this.startedAt = now();
    this.buildInfo = this.state.gauge('otel_agent.build.info', { description: 'Version of the running agent; always 1.' });
    this.uptime = this.state.gauge('otel_agent.uptime', { unit: 's', description: 'Time since the agent started.' });
    this.status = this.state.gauge('otel_agent.component.status', {
      description: 'Status of each component: 1 for its current status, 0 for the others.',
    });
    this.series = this.state.gauge('otel_agent.metric.series', {
      unit: '{series}',
      description: 'Series each receiver holds per metric, the overflow series included.',
    });
    this.folded = this.meter.counter('otel_agent.series.folded', {
      unit: '{measurements}',
      description: 'Measurements of new series that a series limit folded into the overflow series.',
    });
    this.reloads = this.meter.counter('otel_agent.config.reloads', {
      unit: '{reloads}',
      description: 'Configuration reloads by result.',
    });
    this.reloads.add(0, { result: 'success' });
    this.reloads.add(0, { result: 'failure' });
  }

  /** A receiver store's fold callback. */
  foldCounter(receiver: string): (metric: string) => void {
    return (metric) => this.folded.add(1, { receiver, metric });
  }

  reloaded(success: boolean): void {
    this.reloads.add(1, { result: success ? 'success' : 'failure' });
  }

  /** Rebuild the gauges that describe the running service, then collect everything. */
  collect(snapshot: SelfTelemetrySnapshot): ScopeMetrics {
    const mark = this.state.mark();
    this.buildInfo.set(1, { version: VERSION, node_version: process.version });
    this.uptime.set((this.state.now() - this.startedAt) / 1000);
    for (const component of snapshot.components) {
      for (const status of STATUSES) {
        this.status.set(status === component.status ? 1 : 0, { component: component.id, kind: component.kind, status });
      }
    }
    for (const store of snapshot.stores) {
      for (const [metric, count] of store.seriesCounts()) this.series.set(count, { receiver: store.scope, metric });
    }
    // Gauges of components and receivers that a reload removed go away.
    this.state.sweep(mark);
    const scope = this.state.collect();
    scope.metrics.push(...this.meter.collect().metrics);
    return scope;
  }
}
