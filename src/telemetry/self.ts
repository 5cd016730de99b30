// The agent's own metrics (`otel_agent_*` in Prometheus): build, uptime, overall health,
// component status, series per metric, series folded by limits, config reloads, the process's
// memory, CPU and event-loop utilisation, and on request its event-loop delay. They live as long as the
// process, across config reloads.
import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';
import type { ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type { ComponentHealth, ComponentStatus, Counter, Gauge } from '../component/types.js';
import { MetricStore } from '../metrics/store.js';
import { VERSION } from '../version.js';
import { overallStatus } from './health.js';
import { STATUSES } from './status.js';

export const SELF_SCOPE = 'otel-agent';

const USER_MODE = Object.freeze({ 'cpu.mode': 'user' });
const SYSTEM_MODE = Object.freeze({ 'cpu.mode': 'system' });

/**
 * Set to `1`, the agent measures its event-loop delay (`otel_agent_process_event_loop_delay_{p50,p99,max}_seconds`).
 * Off by default: the measuring timer wakes the process every 10 ms, which costs an idle
 * process about 0.55 % of a core (0.30 % at 20 ms, 0.12 % at 50 ms; none without it), several
 * times what the agent otherwise uses. Event-loop utilisation needs no timer and is always on.
 */
export const EVENT_LOOP_MONITOR_ENV = 'OTEL_AGENT_EVENT_LOOP_MONITOR';
const EVENT_LOOP_RESOLUTION_MS = 10;

/**
 * `otel_agent.health.status` for each overall status (the worst component's, as /health has
 * it): 0 exactly when /health answers 503, 1 when all is well, 0.5 between. `stopped` is 0.5
 * and not 0 because health.ts ranks it below `degraded`: at 0, a stopped component alone
 * would read worse than a stopped and a degraded one together.
 */
export const HEALTH_VALUES: Readonly<Record<ComponentStatus, number>> = Object.freeze({
  ok: 1,
  starting: 0.5,
  degraded: 0.5,
  stopping: 0.5,
  stopped: 0.5,
  failed: 0,
});

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
  private readonly health: Gauge;
  private readonly status: Gauge;
  private readonly series: Gauge;
  private readonly folded: Counter;
  private readonly reloads: Counter;
  private readonly rss: Gauge;
  private readonly heapUsed: Gauge;
  private readonly heapTotal: Gauge;
  private readonly cpuTime: Counter;
  private readonly eventLoopUtilization: Gauge;
  /** Event-loop busy and idle time at the previous collection: utilisation is taken between two. */
  private lastEventLoop: EventLoopUtilization;
  private lastUtilization = 0;
  private readonly eventLoop?: { histogram: IntervalHistogram; p50: Gauge; p99: Gauge; max: Gauge };

  constructor(now: () => number = Date.now, env: NodeJS.ProcessEnv = process.env) {
    this.meter = new MetricStore({ scope: SELF_SCOPE, now });
    this.state = new MetricStore({ scope: SELF_SCOPE, now });
    this.startedAt = now();
    this.buildInfo = this.state.gauge('otel_agent.build.info', { description: 'Version of the running agent; always 1.' });
    this.uptime = this.state.gauge('otel_agent.uptime', { unit: 's', description: 'Time since the agent started.' });
    this.health = this.state.gauge('otel_agent.health.status', {
      description: "The agent's overall health, the worst component status as /health has it: 1 ok; 0.5 degraded, starting, stopping or stopped; 0 failed.",
    });
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
    // The process itself, read at collection (process.memoryUsage and cpuUsage cost a few µs).
    const bytes = { unit: 'By', valueType: 'int' } as const;
    this.rss = this.state.gauge('otel_agent.process.memory.rss', { ...bytes, description: "The agent process's resident memory." });
    this.heapUsed = this.state.gauge('otel_agent.process.heap.used', { ...bytes, description: 'V8 heap in use by live and not yet collected objects.' });
    this.heapTotal = this.state.gauge('otel_agent.process.heap.total', { ...bytes, description: 'V8 heap reserved.' });
    this.cpuTime = this.state.counter('otel_agent.process.cpu.time', { unit: 's', description: 'CPU seconds the agent process used, by mode.' });
    this.eventLoopUtilization = this.state.gauge('otel_agent.process.event_loop.utilization', {
      unit: '1',
      description: 'Share of the time since the previous collection of these metrics that the event loop was busy (no timer: free to measure).',
    });
    this.lastEventLoop = performance.eventLoopUtilization();
    if (env[EVENT_LOOP_MONITOR_ENV] === '1') {
      const histogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
      histogram.enable();
      // Gauges of the interval's percentiles rather than a histogram: the monitor's own
      // histogram is reset at each collection, and three numbers are what a dashboard plots.
      const gauge = (name: string, what: string) =>
        this.state.gauge(`otel_agent.process.event_loop.delay.${name}`, {
          unit: 's',
          description: `${what} event-loop delay since the previous collection of these metrics: how much later than due a 10 ms timer ran.`,
        });
      this.eventLoop = { histogram, p50: gauge('p50', 'Median'), p99: gauge('p99', '99th percentile of the'), max: gauge('max', 'Longest') };
    }
  }

  /** A receiver store's fold callback. */
  foldCounter(receiver: string): (metric: string) => void {
    return (metric) => this.folded.add(1, { receiver, metric });
  }

  reloaded(success: boolean): void {
    this.reloads.add(1, { result: success ? 'success' : 'failure' });
  }

  private recordProcess(): void {
    const memory = process.memoryUsage();
    this.rss.set(memory.rss);
    this.heapUsed.set(memory.heapUsed);
    this.heapTotal.set(memory.heapTotal);
    const cpu = process.cpuUsage();
    this.cpuTime.set(cpu.user / 1e6, USER_MODE);
    this.cpuTime.set(cpu.system / 1e6, SYSTEM_MODE);
    const now = performance.eventLoopUtilization();
    const since = performance.eventLoopUtilization(now, this.lastEventLoop);
    // Two collections in the same instant have no time between them: keep the last share.
    if (since.idle + since.active > 0) this.lastUtilization = since.utilization;
    this.eventLoopUtilization.set(this.lastUtilization);
    this.lastEventLoop = now;
  }

  /** Rebuild the gauges that describe the running service, then collect everything. */
  collect(snapshot: SelfTelemetrySnapshot): ScopeMetrics {
    const mark = this.state.mark();
    this.buildInfo.set(1, { version: VERSION, node_version: process.version });
    this.uptime.set((this.state.now() - this.startedAt) / 1000);
    this.health.set(HEALTH_VALUES[overallStatus(snapshot.components)]);
    for (const component of snapshot.components) {
      for (const status of STATUSES) {
        this.status.set(status === component.status ? 1 : 0, { component: component.id, kind: component.kind, status });
      }
    }
    for (const store of snapshot.stores) {
      for (const [metric, count] of store.seriesCounts()) this.series.set(count, { receiver: store.scope, metric });
    }
    this.recordProcess();
    if (this.eventLoop !== undefined) {
      // Each sample is the time between two ticks of the timer; past the resolution it is delay.
      const { histogram, p50, p99, max } = this.eventLoop;
      const delaySeconds = (ns: number) => (histogram.count === 0 ? 0 : Math.max(0, ns - EVENT_LOOP_RESOLUTION_MS * 1e6) / 1e9);
      p50.set(delaySeconds(histogram.percentile(50)));
      p99.set(delaySeconds(histogram.percentile(99)));
      max.set(delaySeconds(histogram.max));
      histogram.reset();
    }
    // Gauges of components and receivers that a reload removed go away.
    this.state.sweep(mark);
    const scope = this.state.collect();
    scope.metrics.push(...this.meter.collect().metrics);
    return scope;
  }
}
