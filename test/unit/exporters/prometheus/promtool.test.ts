// The serializer's output checked by Prometheus' own parser and linter, `promtool check
// metrics` (Prometheus text format 0.0.4; promtool 2.42 cannot read OpenMetrics, which
// serializer.test.ts checks with a strict parser instead).
import { spawnSync } from 'node:child_process';
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, test } from 'vitest';
import { serializeSync } from '../../../../src/exporters/prometheus/serializer.js';
import { exponentialHistogram, gauge, histogram, resourceMetrics, sum } from './helpers.js';

interface PromtoolResult {
  status: number | null;
  output: string;
}

function promtoolCheckMetrics(body: string): PromtoolResult {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
  if (run.error !== undefined) {
    throw new Error(`promtool could not be run (${run.error.message}): install it with apt-get install prometheus`);
  }
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

class PullReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** What a host agent collects, through the SDK, with two pipelines reading the same metrics. */
async function collectRealistic(): Promise<ResourceMetrics[]> {
  const readers = [new PullReader(), new PullReader()];
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'otel-agent', 'host.name': 'node-1', 'host.arch': 'amd64' }),
    readers,
  });
  const host = provider.getMeter('hostmetrics', '0.1.0');
  const cpu = host.createCounter('system.cpu.time', { unit: 's', description: 'Seconds each logical CPU spent on each mode.' });
  const memory = host.createUpDownCounter('system.memory.usage', { unit: 'By', description: 'Bytes of memory in use.' });
  const utilization = host.createGauge('system.cpu.utilization', { unit: '1', description: 'Fraction of CPU time in use.' });
  const packets = host.createCounter('system.network.packets', { unit: '{packets}', description: 'Packets transferred.', valueType: ValueType.INT });
  const io = host.createCounter('system.network.io', { unit: 'By', description: 'Bytes transferred.', valueType: ValueType.INT });
  for (const state of ['user', 'system', 'idle', 'iowait']) {
    for (const cpuId of ['0', '1']) cpu.add(Math.random() * 1000, { 'cpu.logical_number': cpuId, 'cpu.mode': state });
  }
  memory.add(8_589_934_592, { 'system.memory.state': 'used' });
  memory.add(4_294_967_296, { 'system.memory.state': 'free' });
  utilization.record(0.25, { 'cpu.logical_number': '0' });
  for (const device of ['eth0', 'lo']) {
    for (const direction of ['receive', 'transmit']) {
      packets.add(123_456, { 'network.interface.name': device, 'network.io.direction': direction });
      io.add(987_654_321, { 'network.interface.name': device, 'network.io.direction': direction });
    }
  }
  const jobs = provider.getMeter('joblog/runner');
  const duration = jobs.createHistogram('runner.job.duration', {
    unit: 's',
    description: 'Duration of runner jobs.',
    advice: { explicitBucketBoundaries: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048] },
  });
  const done = jobs.createCounter('runner.jobs', { description: 'Jobs finished, by status.' });
  for (const [status, seconds] of [['success', 12.5], ['success', 300], ['failure', 0.4], ['cancelled', 4000]] as const) {
    duration.record(seconds, { status, 'job.name': 'build "main"' });
    done.add(1, { status });
  }
  const collected = await Promise.all(readers.map((reader) => reader.collect()));
  await provider.shutdown();
  return collected.map(({ resourceMetrics }) => resourceMetrics);
}

/** Everything the naming and escaping rules have to repair, by hand. */
function awkwardInput(): ResourceMetrics[] {
  return [
    resourceMetrics({ 'service.name': 'a', '1.weird key': 'x\ny', '__reserved': '"q"' }, [
      {
        name: 'odd/scope',
        version: '1.0',
        metrics: [
          gauge('temp.celsius-ish', { unit: 'Cel', description: 'Back\\slash and\nnewline.' }, [
            [{ 'a.b': '1', a_b: '2', 'a-b': '3', le: 'x', '9lives': 'cat', 'tags': ['x', 'y'] }, -0.5],
            [{ zone: 'Zürich ☃' }, NaN],
            [{ zone: 'inf' }, Infinity],
          ]),
          sum('requests', { unit: '{requests}', description: 'Requests.' }, [[{ 'http.method': 'GET' }, 10]]),
          sum('requests.total', {}, [[{ 'http.method': 'POST' }, 3]]),
          gauge('requests.total', {}, [[{}, 1]]),
          histogram('latency', { unit: 'ms', description: 'Latency.', boundaries: [0.005, 1, 1e6] }, [
            [{ le: 'mine', path: '/a' }, { counts: [1, 2, 3, 4], sum: 1e7 }],
            [{}, { counts: [0, 0, 0, 0], sum: 0 }],
          ]),
          exponentialHistogram('exp', [{ a: '1' }]),
        ],
      },
    ]),
    resourceMetrics({ 'service.name': 'b' }, [
      { name: 'odd/scope', version: '1.0', metrics: [sum('requests', { unit: '{requests}' }, [[{ 'http.method': 'GET' }, 10]])] },
    ]),
  ];
}

describe('promtool check metrics', () => {
  test('passes without a single complaint on what a host agent collects', async () => {
    const metrics = await collectRealistic();
    for (const options of [{}, { namespace: 'node', constLabels: { 'dc.name': 'west' } }]) {
      const { body, dropped } = serializeSync(metrics, options);
      // The second pipeline repeats every series of the first.
      expect(dropped.duplicate_series).toBeGreaterThan(0);
      expect(body).toContain('system_cpu_time_seconds_total{');
      const result = promtoolCheckMetrics(body);
      expect(result.output).toBe('');
      expect(result.status).toBe(0);
    }
  });

  test('parses the awkward cases; only lint advice, never an error', () => {
    const { body, dropped } = serializeSync(awkwardInput());
    expect(dropped).toEqual({ type_conflict: 1, exponential_histogram: 1, duplicate_series: 1 });
    const result = promtoolCheckMetrics(body);
    // Lint advice (exit 3) is expected here: milliseconds are not a base unit.
    expect(result.output).not.toMatch(/error/i);
    expect(result.output.trim().split('\n')).toEqual(['latency_milliseconds use base unit "seconds" instead of "milliseconds"']);
    expect(result.status).toBe(3);
  });

  test('passes on series merged from distinct records that map to one label set', () => {
    const input = resourceMetrics({ 'service.name': 'a' }, [
      {
        name: 'joblog/runner',
        metrics: [
          sum('runner.jobs', { description: 'Jobs finished.' }, [[{ 'job.status': 'ok' }, 3], [{ job_status: 'ok' }, 4], [{ 'job.status': 'failed' }, 1]]),
          histogram('runner.job.duration', { unit: 's', description: 'Job duration.', boundaries: [1, 10] }, [
            [{ 'job.status': 'ok' }, { counts: [1, 2, 3], sum: 40 }],
            [{ job_status: 'ok' }, { counts: [0, 1, 0], sum: 5 }],
          ]),
          gauge('runner.queue.length', { description: 'Jobs waiting.' }, [[{ 'job.status': 'ok' }, 2], [{ job_status: 'ok' }, 9]]),
        ],
      },
    ]);
    const { body, dropped } = serializeSync([input]);
    expect(dropped).toEqual({ merged_series: 2, unmergeable_collision: 1 });
    expect(body).toContain('runner_jobs_total{job_status="ok",otel_scope_name="joblog/runner"} 7\n');
    expect(body).toContain('runner_job_duration_seconds_count{job_status="ok",otel_scope_name="joblog/runner"} 7\n');
    const result = promtoolCheckMetrics(body);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  test('the check does catch broken expositions', () => {
    const broken = '# HELP x a\n# TYPE x gauge\nx 1\n# HELP x b\n# TYPE x gauge\nx{a="1"} 2\n';
    const result = promtoolCheckMetrics(broken);
    expect(result.status).toBe(1);
    expect(result.output).toMatch(/second HELP line/);
  });
});
