// A real Prometheus (Debian package `prometheus`) scrapes the serializer's output in both
// formats. Prometheus parses OpenMetrics strictly (promtool 2.42 cannot), so this is the
// check that our OpenMetrics is what a real ingestor accepts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  CONTENT_TYPE_OPENMETRICS,
  CONTENT_TYPE_TEXT,
  serializeSync,
} from '../../../../src/exporters/prometheus/serializer.js';
import { eventually } from '../../../support/eventually.js';
import { startPrometheus, type PrometheusServer } from '../../../support/prometheus.js';
import { gauge, histogram, resourceMetrics, sum } from '../../../unit/exporters/prometheus/helpers.js';

const input = [
  resourceMetrics({ 'service.name': 'otel-agent', 'host.name': 'node-1' }, [
    {
      name: 'hostmetrics',
      version: '0.1.0',
      metrics: [
        sum('system.cpu.time', { unit: 's', description: 'CPU seconds.' }, [
          [{ cpu: '0', state: 'user' }, 1234.5],
          [{ cpu: '0', state: 'idle' }, 98765],
        ]),
        gauge('system.cpu.utilization', { unit: '1', description: 'CPU "busy"\nfraction.' }, [[{ 'a.b': '1', a_b: '2' }, 0.25]]),
        sum('system.network.packets', { unit: '{packets}', description: 'Packets.' }, [[{ device: 'eth0' }, 42]]),
        histogram('latency', { unit: 'ms', description: 'Latency.', boundaries: [0.005, 1, 1e6] }, [
          [{ le: 'mine', path: '/a' }, { counts: [1, 2, 3, 4], sum: 1e7 }],
          [{ city: 'Zürich' }, { counts: [0, 0, 0, 1], sum: 2e6 }],
        ]),
      ],
    },
  ]),
];

interface Target {
  labels: Record<string, string>;
  health: string;
  lastError: string;
}
interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe('Prometheus scrapes the serializer output', () => {
  let http: Server;
  let prometheus: PrometheusServer;

  beforeAll(async () => {
    const openMetrics = serializeSync(input, { format: 'openmetrics' }).body;
    const text = serializeSync(input).body;
    const bodies: Record<string, [string, string]> = {
      '/openmetrics': [CONTENT_TYPE_OPENMETRICS, openMetrics],
      '/text': [CONTENT_TYPE_TEXT, text],
      // The same OpenMetrics without its final line: Prometheus must refuse it.
      '/truncated': [CONTENT_TYPE_OPENMETRICS, openMetrics.replace('# EOF\n', '')],
    };
    http = createServer((request, response) => {
      const found = bodies[request.url ?? ''];
      if (found === undefined) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'content-type': found[0] }).end(found[1]);
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const target = `127.0.0.1:${(http.address() as AddressInfo).port}`;
    prometheus = await startPrometheus({
      scrapeConfigs: Object.keys(bodies).map((path) => ({
        job_name: path.slice(1),
        metrics_path: path,
        static_configs: [{ targets: [target] }],
      })),
    });
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await new Promise((resolve) => http?.close(resolve));
  });

  test('both formats are scraped without error; the truncated one is refused', async () => {
    const byJob = await eventually(async () => {
      const { activeTargets } = await prometheus.api<{ activeTargets: Target[] }>('/api/v1/targets');
      const found = new Map(activeTargets.map((t) => [t.labels.job, t]));
      for (const job of ['openmetrics', 'text']) expect(found.get(job)?.health).toBe('up');
      expect(found.get('truncated')?.health).toBe('down');
      return found;
    }, 30_000, 250);
    expect(byJob.get('openmetrics')?.lastError).toBe('');
    expect(byJob.get('text')?.lastError).toBe('');
    expect(byJob.get('truncated')?.lastError).toMatch(/EOF/);
  }, 40_000);

  test('series, labels and values arrive the same through both formats', async () => {
    const query = async (promql: string) =>
      (await prometheus.api<{ result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`)).result;
    for (const job of ['openmetrics', 'text']) {
      const cpu = await eventually(async () => {
        const result = await query(`system_cpu_time_seconds_total{job="${job}"}`);
        expect(result).toHaveLength(2);
        return result;
      }, 30_000, 250);
      expect(cpu.find((s) => s.metric.state === 'user')?.value[1]).toBe('1234.5');
      expect(cpu[0].metric.otel_scope_name).toBe('hostmetrics');
      const [ratio] = await query(`system_cpu_utilization_ratio{job="${job}"}`);
      expect(ratio.metric.a_b).toBe('1;2');
      const [inf] = await query(`latency_milliseconds_bucket{job="${job}",city="Zürich",le="+Inf"}`);
      expect(inf.value[1]).toBe('1');
      const [own] = await query(`latency_milliseconds_count{job="${job}",exported_le="mine"}`);
      expect(own.value[1]).toBe('10');
      const [target] = await query(`target_info{job="${job}"}`);
      expect(target.metric).toMatchObject({ service_name: 'otel-agent', host_name: 'node-1' });
    }
  }, 40_000);

  test('OpenMetrics metadata: counter family without _total, units, info-typed target', async () => {
    const metadata = await prometheus.api<Array<{ metric: string; type: string; unit: string; help: string }>>(
      `/api/v1/targets/metadata?match_target=${encodeURIComponent('{job="openmetrics"}')}`,
    );
    const byName = new Map(metadata.map((entry) => [entry.metric, entry]));
    expect(byName.get('system_cpu_time_seconds')).toMatchObject({ type: 'counter', unit: 'seconds', help: 'CPU seconds.' });
    expect(byName.get('system_cpu_utilization_ratio')).toMatchObject({ type: 'gauge', unit: 'ratio', help: 'CPU "busy"\nfraction.' });
    expect(byName.get('latency_milliseconds')).toMatchObject({ type: 'histogram', unit: 'milliseconds' });
    expect(byName.get('target')).toMatchObject({ type: 'info', help: 'Target metadata' });
  });
});
