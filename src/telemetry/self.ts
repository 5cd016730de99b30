// The agent's own metrics (`otel_agent_*` in Prometheus): build, uptime, component status,
// series per metric, series folded by limits, config reloads, and on request the longest
// event-loop delay. They live as long as the process, across config reloads.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type { ComponentHealth, Counter, Gauge } from '../component/types.js';
import { MetricStore } from '../metrics/store.js';
import { VERSION } from '../version.js';
import { STATUSES } from './status.js';

export const SELF_SCOPE = 'otel-agent';

/**
 * Set to `1`, the agent measures its event-loop delay (`otel_agent_eventloop_delay_max_seconds`).
 * Off by default: the measuring timer wakes the process every 10 ms, which costs an idle
 * agent about 0.3 % of a core, several times what it otherwise uses.
 */
export const EVENT_LOOP_MONITOR_ENV = 'OTEL_AGENT_EVENT_LOOP_MONITOR';
const EVENT_LOOP_RESOLUTION_MS = 10;

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
  private readonly eventLoop?: { histogram: IntervalHistogram; maxDelay: Gauge };

  constructor(now: () => number = Date.now, env: NodeJS.ProcessEnv = process.env) {
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
    if (env[EVENT_LOOP_MONITOR_ENV] === '1') {
      const histogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
      histogram.enable();
      const maxDelay = this.state.gauge('otel_agent.eventloop.delay.max', {
        unit: 's',
        description: 'Longest event-loop delay since the previous collection of these metrics: how much later than due a 10 ms timer ran.',
      });
      this.eventLoop = { histogram, maxDelay };
    }
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
    if (this.eventLoop !== undefined) {
      // Each sample is the time between two ticks of the timer; past the resolution it is delay.
      const { histogram, maxDelay } = this.eventLoop;
      const delayNs = histogram.count === 0 ? 0 : Math.max(0, histogram.max - EVENT_LOOP_RESOLUTION_MS * 1e6);
      maxDelay.set(delayNs / 1e9);
      histogram.reset();
    }
    // Gauges of components and receivers that a reload removed go away.
    this.state.sweep(mark);
    const scope = this.state.collect();
    scope.metrics.push(...this.meter.collect().metrics);
    return scope;
  }
}
