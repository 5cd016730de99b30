// Views of the agent's own metrics (instrument `otel_agent.*`), applied to what the
// self-telemetry collects: rename, description and drop, in config order.
import type { ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { isOwnMetricView, ownMetricsView, ViewSet } from '../../../src/metrics/views.js';
import { SelfTelemetry } from '../../../src/telemetry/self.js';
import { metric, metricNames, valueOf } from '../../support/metric-sink.js';

const collect = (): ScopeMetrics =>
  new SelfTelemetry(Date.now, {}).collect({
    components: [{ id: 'redis', kind: 'receiver', status: 'degraded', reason: 'connection refused', since: '2026-01-01T00:00:00.000Z' }],
    stores: [],
  });

describe('views of the agent\'s own metrics', () => {
  it('are those whose instrument begins with otel_agent.', () => {
    expect(['otel_agent.health.status', 'otel_agent.*', 'redis.connected', '*', 'otel_agent'].map((instrument) => isOwnMetricView({ instrument }))).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
  });

  it('rename and redescribe one metric, keeping its points, and leave the others as they are', () => {
    const scope = collect();
    const viewed = ownMetricsView([
      { instrument: 'otel_agent.health.status', name: 'portsyncd.health.status', description: 'Health of portsyncd' },
    ])(scope);
    expect(metricNames(viewed)).toEqual(metricNames(scope).map((name) => (name === 'otel_agent.health.status' ? 'portsyncd.health.status' : name)));
    const renamed = metric(viewed, 'portsyncd.health.status')!;
    expect(renamed.descriptor).toMatchObject({ name: 'portsyncd.health.status', description: 'Health of portsyncd', unit: '' });
    expect(valueOf(viewed, 'portsyncd.health.status')).toBe(0.5);
    // The collected metric itself is not changed, and the unviewed ones are passed through.
    expect(metric(scope, 'otel_agent.health.status')!.descriptor.name).toBe('otel_agent.health.status');
    expect(metric(viewed, 'otel_agent.uptime')).toBe(metric(scope, 'otel_agent.uptime'));
  });

  it('drop by pattern; a later view\'s keys win, as for receivers', () => {
    const viewed = ownMetricsView([
      { instrument: 'otel_agent.process.*', drop: true },
      { instrument: 'otel_agent.process.memory.rss', drop: false },
      { instrument: 'otel_agent.health.status', name: 'first' },
      { instrument: 'otel_agent.health.status', name: 'second' },
    ])(collect());
    expect(metricNames(viewed).filter((name) => name.startsWith('otel_agent.process.'))).toEqual(['otel_agent.process.memory.rss']);
    expect(metricNames(viewed)).toContain('second');
    expect(metricNames(viewed)).not.toContain('first');
  });

  it('leave the agent\'s metrics alone when every view is a receivers\' one', () => {
    const scope = collect();
    const rules = [{ instrument: '*', drop: true }, { instrument: 'otel_agent_health_status', drop: true }];
    expect(ownMetricsView(rules)(scope)).toBe(scope);
    // And the receivers' side still takes them: a receiver store resolves them as before.
    expect(new ViewSet(rules).resolve('redis', 'redis.connected').drop).toBe(true);
  });
});
