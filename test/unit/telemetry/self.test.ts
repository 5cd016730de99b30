// The agent's own process metrics, read from the process at each collection, and its overall
// health gauge, read from the components' statuses.
import { describe, expect, it } from 'vitest';
import type { ComponentHealth, ComponentStatus } from '../../../src/component/types.js';
import { healthReport } from '../../../src/telemetry/health.js';
import { EVENT_LOOP_MONITOR_ENV, SelfTelemetry } from '../../../src/telemetry/self.js';
import { metric, metricNames, series, valueOf } from '../../support/metric-sink.js';

const collect = (telemetry: SelfTelemetry) => telemetry.collect({ components: [], stores: [] });

describe('the agent process in its own metrics', () => {
  it('reports RSS, heap, CPU time by mode and event-loop utilisation, read at each collection', async () => {
    const telemetry = new SelfTelemetry(Date.now, {});
    const first = collect(telemetry);
    const rss = valueOf(first, 'otel_agent.process.memory.rss')!;
    expect(rss).toBeGreaterThan(10 * 1024 * 1024);
    expect(Math.abs(rss - process.memoryUsage.rss())).toBeLessThan(64 * 1024 * 1024);
    const used = valueOf(first, 'otel_agent.process.heap.used')!;
    expect(used).toBeGreaterThan(0);
    expect(valueOf(first, 'otel_agent.process.heap.total')).toBeGreaterThanOrEqual(used);
    const userBefore = valueOf(first, 'otel_agent.process.cpu.time', { 'cpu.mode': 'user' })!;
    expect(valueOf(first, 'otel_agent.process.cpu.time', { 'cpu.mode': 'system' })).toBeGreaterThanOrEqual(0);

    // Busy for 50 ms, then idle: CPU time grows, and the loop was busy part of the time.
    const until = performance.now() + 50;
    while (performance.now() < until);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = collect(telemetry);
    expect(valueOf(second, 'otel_agent.process.cpu.time', { 'cpu.mode': 'user' })).toBeGreaterThan(userBefore);
    const utilization = valueOf(second, 'otel_agent.process.event_loop.utilization')!;
    expect(utilization).toBeGreaterThan(0);
    expect(utilization).toBeLessThanOrEqual(1);
    expect(metricNames(second).filter((name) => name.includes('event_loop.delay'))).toEqual([]);
  });

  it(`reports the event-loop delay's median, 99th percentile and maximum with ${EVENT_LOOP_MONITOR_ENV}=1`, async () => {
    const telemetry = new SelfTelemetry(Date.now, { [EVENT_LOOP_MONITOR_ENV]: '1' });
    collect(telemetry);
    // Let the 10 ms timer tick, then hold the loop for 100 ms: the longest delay is most of that.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const until = performance.now() + 100;
    while (performance.now() < until);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const scope = collect(telemetry);
    const max = valueOf(scope, 'otel_agent.process.event_loop.delay.max')!;
    expect(max).toBeGreaterThan(0.05);
    expect(valueOf(scope, 'otel_agent.process.event_loop.delay.p50')).toBeLessThanOrEqual(valueOf(scope, 'otel_agent.process.event_loop.delay.p99')!);
    expect(valueOf(scope, 'otel_agent.process.event_loop.delay.p99')).toBeLessThanOrEqual(max);
  });
});

describe('otel_agent.health.status', () => {
  const components = (...statuses: ComponentStatus[]): ComponentHealth[] =>
    statuses.map((status, index) => ({ id: `receiver/${index}`, kind: 'receiver', status, since: '2026-01-01T00:00:00.000Z' }));
  const healthOf = (list: ComponentHealth[]) => {
    const scope = new SelfTelemetry(Date.now, {}).collect({ components: list, stores: [] });
    return { series: series(scope, 'otel_agent.health.status'), report: healthReport({ components: () => list, ready: () => true }).status };
  };

  it.each([
    // The worst status wins, as in /health; 0 exactly when /health answers 503.
    { statuses: [], overall: 'ok', value: 1 },
    { statuses: ['ok', 'ok'], overall: 'ok', value: 1 },
    { statuses: ['ok', 'degraded'], overall: 'degraded', value: 0.5 },
    { statuses: ['starting', 'ok'], overall: 'starting', value: 0.5 },
    { statuses: ['ok', 'stopping'], overall: 'stopping', value: 0.5 },
    { statuses: ['stopped', 'ok'], overall: 'stopped', value: 0.5 },
    { statuses: ['stopped', 'degraded'], overall: 'degraded', value: 0.5 },
    { statuses: ['ok', 'failed'], overall: 'failed', value: 0 },
    { statuses: ['degraded', 'failed', 'starting'], overall: 'failed', value: 0 },
  ] as Array<{ statuses: ComponentStatus[]; overall: ComponentStatus; value: number }>)('$statuses: /health says $overall, the gauge $value', ({ statuses, overall, value }) => {
    const { series: points, report } = healthOf(components(...statuses));
    expect(report).toBe(overall);
    expect(points).toEqual([{ attributes: {}, value }]);
  });

  it('is one gauge without a unit, so that Prometheus names it otel_agent_health_status', () => {
    const scope = new SelfTelemetry(Date.now, {}).collect({ components: components('ok'), stores: [] });
    expect(metric(scope, 'otel_agent.health.status')!.descriptor).toMatchObject({ unit: '' });
  });

  it('follows the components from one collection to the next', () => {
    const telemetry = new SelfTelemetry(Date.now, {});
    const list = components('ok', 'ok');
    expect(valueOf(telemetry.collect({ components: list, stores: [] }), 'otel_agent.health.status')).toBe(1);
    list[1] = { ...list[1], status: 'degraded', reason: 'connection refused' };
    expect(valueOf(telemetry.collect({ components: list, stores: [] }), 'otel_agent.health.status')).toBe(0.5);
    list[1] = { ...list[1], status: 'ok' };
    expect(valueOf(telemetry.collect({ components: list, stores: [] }), 'otel_agent.health.status')).toBe(1);
  });
});
