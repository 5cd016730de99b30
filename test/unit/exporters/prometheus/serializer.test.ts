import { readFileSync } from 'node:fs';
import { AggregationTemporality } from '@opentelemetry/sdk-metrics';
import { describe, expect, test } from 'vitest';
import {
  CONTENT_TYPE_OPENMETRICS,
  CONTENT_TYPE_TEXT,
  serialize,
  serializeSync,
} from '../../../../src/exporters/prometheus/serializer.js';
import { exponentialHistogram, gauge, histogram, resourceMetrics, sum } from './helpers.js';
import { parseOpenMetrics } from './openmetrics-parser.js';

const RESOURCE = { 'service.name': 'otel-agent', 'host.name': 'node-1' };

/** Sample lines (no comments) of a body. */
function samples(body: string): string[] {
  return body.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

function count(body: string, fragment: string): number {
  return body.split(fragment).length - 1;
}

/** Input exercising most rules at once; its output is kept as golden files. */
function realisticInput() {
  return [
    resourceMetrics(RESOURCE, [
      {
        name: 'hostmetrics',
        version: '0.1.0',
        metrics: [
          sum('system.cpu.time', { unit: 's', description: 'Seconds each logical CPU spent on each mode.' }, [
            [{ cpu: '0', state: 'user' }, 1234.5],
            [{ cpu: '0', state: 'idle' }, 98765],
          ]),
          sum('system.memory.usage', { unit: 'By', monotonic: false, description: 'Bytes of memory in use.' }, [
            [{ state: 'used' }, 4_294_967_296],
          ]),
          gauge('system.cpu.utilization', { unit: '1', description: 'CPU time fraction.' }, [[{ cpu: '0' }, 0.125]]),
          sum('system.network.packets', { unit: '{packets}', description: 'Packets transferred.' }, [
            [{ device: 'eth0', 'network.io.direction': 'receive' }, 42],
          ]),
        ],
      },
      {
        name: 'joblog/runner',
        metrics: [
          histogram(
            'runner.job.duration',
            { unit: 's', description: 'Job duration.', boundaries: [0.5, 1, 2.5, 10] },
            [[{ status: 'success', 'job.name': 'build "x"\\y' }, { counts: [1, 0, 3, 2, 1], sum: 33.25 }]],
          ),
        ],
      },
    ]),
  ];
}

describe('golden output', () => {
  const golden = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

  test('Prometheus text format', () => {
    expect(serializeSync(realisticInput()).body).toBe(golden('realistic.prom'));
  });

  test('OpenMetrics', () => {
    const { body } = serializeSync(realisticInput(), { format: 'openmetrics' });
    expect(body).toBe(golden('realistic.openmetrics'));
    expect(() => parseOpenMetrics(body)).not.toThrow();
  });
});

describe('metric names and blocks', () => {
  test('system.cpu.time in seconds, monotonic -> system_cpu_time_seconds_total counter', () => {
    const { body } = serializeSync(realisticInput());
    expect(body).toContain('# TYPE system_cpu_time_seconds_total counter\n');
    expect(body).toContain('# HELP system_cpu_time_seconds_total Seconds each logical CPU spent on each mode.\n');
  });

  test('non-monotonic sums are gauges; unit 1 on a gauge gives _ratio', () => {
    const { body } = serializeSync(realisticInput());
    expect(body).toContain('# TYPE system_memory_usage_bytes gauge\n');
    expect(body).toContain('# TYPE system_cpu_utilization_ratio gauge\n');
  });

  test('one HELP/TYPE block per name, whatever resource or scope the metric comes from', () => {
    const make = (scope: string, cpu: string) =>
      resourceMetrics(RESOURCE, [
        { name: scope, metrics: [sum('system.cpu.time', { unit: 's', description: 'CPU' }, [[{ cpu }, 1]])] },
      ]);
    const other = resourceMetrics(RESOURCE, [
      { name: 'b', metrics: [gauge('load', {}, [[{}, 1]]), sum('system.cpu.time', { unit: 's' }, [[{ cpu: '9' }, 3]])] },
    ]);
    const { body, series } = serializeSync([make('a', '0'), other, make('a', '1')]);
    expect(count(body, '# TYPE system_cpu_time_seconds_total counter')).toBe(1);
    expect(count(body, '# HELP system_cpu_time_seconds_total')).toBe(1);
    // The block is contiguous: all three series follow its TYPE line before the next block.
    const block = body.slice(body.indexOf('# TYPE system_cpu_time_seconds_total'), body.indexOf('# TYPE load'));
    expect(samples(block)).toEqual([
      'system_cpu_time_seconds_total{cpu="0",otel_scope_name="a"} 1',
      'system_cpu_time_seconds_total{cpu="9",otel_scope_name="b"} 3',
      'system_cpu_time_seconds_total{cpu="1",otel_scope_name="a"} 1',
    ]);
    expect(series).toBe(5);
  });

  test('OTel names that sanitise to one Prometheus name share the block', () => {
    const input = resourceMetrics({}, [
      {
        name: 's',
        metrics: [sum('http.requests', {}, [[{ a: '1' }, 1]]), sum('http_requests', {}, [[{ a: '2' }, 2]])],
      },
    ]);
    const { body } = serializeSync([input]);
    expect(count(body, '# TYPE http_requests_total counter')).toBe(1);
    expect(samples(body)).toHaveLength(2);
  });

  test('a second type for one name is dropped and counted as type_conflict', () => {
    const input = resourceMetrics({}, [
      {
        name: 's',
        metrics: [
          sum('jobs', { description: 'Jobs done.' }, [[{}, 5]]),
          gauge('jobs.total', {}, [[{ queue: 'a' }, 1], [{ queue: 'b' }, 2]]),
        ],
      },
    ]);
    const { body, dropped } = serializeSync([input]);
    expect(body).toBe('# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total{otel_scope_name="s"} 5\n');
    expect(dropped).toEqual({ type_conflict: 2 });
  });

  test('HELP comes from the first metric of a name that has a description', () => {
    const input = resourceMetrics({}, [
      { name: 'a', metrics: [gauge('g', {}, [[{}, 1]])] },
      { name: 'b', metrics: [gauge('g', { description: 'Second says it.' }, [[{}, 2]])] },
    ]);
    expect(serializeSync([input]).body).toContain('# HELP g Second says it.\n# TYPE g gauge\n');
  });

  test('HELP is escaped: backslash and newline in text, also quotes in OpenMetrics', () => {
    const input = resourceMetrics({}, [
      { name: 's', metrics: [gauge('g', { description: 'a\\b\n"c"' }, [[{}, 1]])] },
    ]);
    expect(serializeSync([input], { targetInfo: false }).body).toContain('# HELP g a\\\\b\\n"c"\n');
    expect(serializeSync([input], { format: 'openmetrics' }).body).toContain('# HELP g a\\\\b\\n\\"c\\"\n');
  });

  test('namespace prefixes every name but target_info', () => {
    const { body } = serializeSync(realisticInput(), { namespace: 'node' });
    expect(body).toContain('# TYPE node_system_cpu_time_seconds_total counter\n');
    expect(body).toContain('\ntarget_info{');
    expect(body).not.toContain('node_target_info');
  });

  test('addMetricSuffixes: false keeps the sanitised names', () => {
    const { body } = serializeSync(realisticInput(), { addMetricSuffixes: false });
    expect(body).toContain('# TYPE system_cpu_time counter\n');
    expect(body).toContain('# TYPE system_cpu_utilization gauge\n');
  });
});

describe('labels', () => {
  test('scope name and version become otel_scope_name and otel_scope_version', () => {
    const { body } = serializeSync(realisticInput());
    expect(body).toContain('system_cpu_time_seconds_total{cpu="0",state="user",otel_scope_name="hostmetrics",otel_scope_version="0.1.0"} 1234.5\n');
    // A scope without version gets no otel_scope_version label.
    expect(body).toMatch(/runner_job_duration_seconds_count\{[^}]*otel_scope_name="joblog\/runner"\} 7\n/);
  });

  test('attribute keys are sanitised; keys mapping to one label are merged, never emitted twice', () => {
    const input = resourceMetrics({}, [
      {
        name: 's',
        metrics: [gauge('g', {}, [[{ a_b: 'second', 'a.b': 'first', '1x': 'y', __name__: 'z' }, 1]])],
      },
    ]);
    expect(samples(serializeSync([input]).body)).toContain('g{a_b="first;second",key_1x="y",key_name_="z",otel_scope_name="s"} 1');
  });

  test('label values are escaped; non-string values stringified, arrays as JSON; UTF-8 kept', () => {
    const input = resourceMetrics({}, [
      {
        name: 's',
        metrics: [
          gauge('g', {}, [
            [{ path: 'C:\\tmp\n"x"', port: 8080, ok: true, tags: ['a', 'b'], city: 'Zürich ☃ 🚀' }, 1],
          ]),
        ],
      },
    ]);
    expect(samples(serializeSync([input]).body)).toEqual([
      'g{city="Zürich ☃ 🚀",ok="true",path="C:\\\\tmp\\n\\"x\\"",port="8080",tags="[\\"a\\",\\"b\\"]",otel_scope_name="s"} 1',
    ]);
  });

  test('non-ASCII text far into a large body is decoded correctly', () => {
    const points: Array<[Record<string, string>, number]> = [];
    for (let i = 0; i < 8000; i++) points.push([{ id: String(i), name: i === 7000 ? 'Grüße' : 'plain' }, i]);
    const { body } = serializeSync([resourceMetrics({}, [{ name: 's', metrics: [gauge('g', {}, points)] }])]);
    expect(body.length).toBeGreaterThan(256 * 1024);
    expect(body).toContain('g{id="7000",name="Grüße",otel_scope_name="s"} 7000\n');
    expect(body).toContain('g{id="7999",name="plain",otel_scope_name="s"} 7999\n');
    expect(samples(body)).toHaveLength(8000);
  });

  test('a label value longer than the output buffer is written whole', () => {
    const long = 'é'.repeat(200_000);
    const input = resourceMetrics({}, [{ name: 's', metrics: [gauge('g', {}, [[{ long }, 1], [{ short: 'x' }, 2]])] }]);
    expect(samples(serializeSync([input]).body)).toEqual([`g{long="${long}",otel_scope_name="s"} 1`, 'g{short="x",otel_scope_name="s"} 2']);
  });

  test('constant labels are sanitised and added to every series; clashing attributes become exported_', () => {
    const input = resourceMetrics({ 'service.name': 'a' }, [
      { name: 's', metrics: [gauge('g', {}, [[{ 'dc.name': 'attr', other: 'v' }, 1]])] },
    ]);
    const { body } = serializeSync([input], { constLabels: { 'dc.name': 'west', '2nd': 'x' } });
    expect(samples(body)).toEqual([
      'target_info{service_name="a",dc_name="west",key_2nd="x"} 1',
      'g{exported_dc_name="attr",other="v",otel_scope_name="s",dc_name="west",key_2nd="x"} 1',
    ]);
  });

  test('attributes named like labels the exporter writes (scope, le, quantile) are kept as exported_', () => {
    const input = resourceMetrics({}, [
      { name: 's', metrics: [gauge('g', {}, [[{ 'otel.scope.name': 'x', le: '1', quantile: '0.5' }, 1]])] },
    ]);
    expect(samples(serializeSync([input]).body)).toEqual([
      'g{exported_le="1",exported_otel_scope_name="x",exported_quantile="0.5",otel_scope_name="s"} 1',
    ]);
  });

  test('a mutated (unfrozen) attributes object is noticed on the next serialisation', () => {
    const attributes: Record<string, string> = { state: 'idle' };
    const input = [resourceMetrics({}, [{ name: 's', metrics: [gauge('g', {}, [[attributes, 1]])] }])];
    expect(samples(serializeSync(input).body)).toEqual(['g{state="idle",otel_scope_name="s"} 1']);
    attributes.state = 'busy';
    attributes.extra = 'yes';
    expect(samples(serializeSync(input).body)).toEqual(['g{extra="yes",state="busy",otel_scope_name="s"} 1']);
  });

  test('frozen attribute objects give the same text on every serialisation', () => {
    const attributes = Object.freeze({ state: 'idle', 'cpu.id': 3 });
    const input = [resourceMetrics({}, [{ name: 's', metrics: [gauge('g', {}, [[attributes, 1]])] }])];
    const first = serializeSync(input).body;
    expect(serializeSync(input).body).toBe(first);
    expect(samples(first)).toEqual(['g{cpu_id="3",state="idle",otel_scope_name="s"} 1']);
  });
});

describe('duplicate series', () => {
  test('the same series from two pipelines (two ResourceMetrics) is written once', () => {
    const shared = Object.freeze({ cpu: '0' });
    const pipeline = (attributes: object) =>
      resourceMetrics(RESOURCE, [{ name: 'hostmetrics', metrics: [sum('c', {}, [[attributes as never, 7]])] }]);
    // Once with the very same attributes object, once with an equal copy.
    const { body, dropped } = serializeSync([pipeline(shared), pipeline(shared), pipeline({ cpu: '0' })]);
    expect(samples(body)).toEqual(['target_info{host_name="node-1",service_name="otel-agent"} 1', 'c_total{cpu="0",otel_scope_name="hostmetrics"} 7']);
    expect(dropped).toEqual({ duplicate_series: 2 });
  });


  test('equal attributes in different scopes are different series', () => {
    const input = resourceMetrics({}, [
      { name: 'a', metrics: [gauge('g', {}, [[{ x: '1' }, 1]])] },
      { name: 'b', metrics: [gauge('g', {}, [[{ x: '1' }, 2]])] },
    ]);
    expect(serializeSync([input]).dropped).toEqual({});
    expect(samples(serializeSync([input]).body)).toHaveLength(2);
  });
});

describe('distinct records that map to one series', () => {
  // `a.b` and `a_b` both become label a_b; two records differing only there are one series.
  test('counters are added, and the record merged in is counted as merged_series', () => {
    const input = resourceMetrics({}, [{ name: 's', metrics: [sum('jobs', {}, [[{ 'a.b': 'x' }, 3], [{ a_b: 'x' }, 4]])] }]);
    const { body, dropped, series } = serializeSync([input]);
    expect(samples(body)).toEqual(['jobs_total{a_b="x",otel_scope_name="s"} 7']);
    expect(dropped).toEqual({ merged_series: 1 });
    expect(series).toBe(1);
  });

  test('the `;` join: {a.b: 1, a_b: 2} and {a_b: "1;2"} give one series, added', () => {
    // {a.b: "1;2"} alone and {a.b: "1", a_b: "2"} both give a_b="1;2".
    const input = resourceMetrics({}, [
      { name: 's', metrics: [sum('jobs', {}, [[{ 'a.b': '1', a_b: '2' }, 10], [{ a_b: '1;2' }, 5], [{ other: 'y' }, 1]])] },
    ]);
    const { body, dropped } = serializeSync([input]);
    expect(samples(body)).toEqual(['jobs_total{a_b="1;2",otel_scope_name="s"} 15', 'jobs_total{other="y",otel_scope_name="s"} 1']);
    expect(dropped).toEqual({ merged_series: 1 });
  });

  test('non-monotonic sums are added too: they are sums, shown as gauges', () => {
    const input = resourceMetrics({}, [
      { name: 's', metrics: [sum('queue.depth', { monotonic: false }, [[{ 'a.b': 'x' }, 2], [{ a_b: 'x' }, -5]])] },
    ]);
    const { body, dropped } = serializeSync([input]);
    expect(samples(body)).toEqual(['queue_depth{a_b="x",otel_scope_name="s"} -3']);
    expect(dropped).toEqual({ merged_series: 1 });
  });

  test('histograms of equal bounds are added bucket by bucket, with _sum and _count', () => {
    const input = resourceMetrics({}, [
      {
        name: 's',
        metrics: [
          histogram('wait', { boundaries: [1, 10] }, [
            [{ 'a.b': 'x' }, { counts: [1, 2, 3], sum: 40 }],
            [{ a_b: 'x' }, { counts: [4, 0, 1], sum: 20.5 }],
          ]),
        ],
      },
    ]);
    const { body, dropped } = serializeSync([input]);
    expect(samples(body)).toEqual([
      'wait_bucket{a_b="x",otel_scope_name="s",le="1"} 5',
      'wait_bucket{a_b="x",otel_scope_name="s",le="10"} 7',
      'wait_bucket{a_b="x",otel_scope_name="s",le="+Inf"} 11',
      'wait_sum{a_b="x",otel_scope_name="s"} 60.5',
      'wait_count{a_b="x",otel_scope_name="s"} 11',
    ]);
    expect(dropped).toEqual({ merged_series: 1 });
  });

  test('the merge leaves the collected data as it was', () => {
    const input = resourceMetrics({}, [
      { name: 's', metrics: [histogram('wait', { boundaries: [1] }, [[{ 'a.b': 'x' }, { counts: [1, 1], sum: 3 }], [{ a_b: 'x' }, { counts: [5, 5], sum: 9 }]])] },
    ]);
    const before = JSON.stringify(input.scopeMetrics);
    const once = serializeSync([input]).body;
    expect(JSON.stringify(input.scopeMetrics)).toBe(before);
    expect(serializeSync([input]).body).toBe(once);
    expect(once).toContain('wait_count{a_b="x",otel_scope_name="s"} 12\n');
  });

  test('gauges are not added (readings of distinct things have no sum): the first is kept, the other counted', () => {
    const input = resourceMetrics({}, [{ name: 's', metrics: [gauge('g', {}, [[{ 'a.b': 'x' }, 1], [{ a_b: 'x' }, 2]])] }]);
    const { body, dropped } = serializeSync([input]);
    expect(samples(body)).toEqual(['g{a_b="x",otel_scope_name="s"} 1']);
    expect(dropped).toEqual({ unmergeable_collision: 1 });
  });

  test('histograms of different bounds keep the first, the other counted', () => {
    const input = resourceMetrics({}, [
      {
        name: 's',
        metrics: [
          histogram('wait', { boundaries: [1] }, [[{ 'a.b': 'x' }, { counts: [1, 1], sum: 3 }]]),
          histogram('wait', { boundaries: [2] }, [[{ a_b: 'x' }, { counts: [7, 7], sum: 30 }]]),
        ],
      },
    ]);
    const { body, dropped } = serializeSync([input]);
    expect(samples(body)).toEqual([
      'wait_bucket{a_b="x",otel_scope_name="s",le="1"} 1',
      'wait_bucket{a_b="x",otel_scope_name="s",le="+Inf"} 2',
      'wait_sum{a_b="x",otel_scope_name="s"} 3',
      'wait_count{a_b="x",otel_scope_name="s"} 2',
    ]);
    expect(dropped).toEqual({ unmergeable_collision: 1 });
  });

  test('a gauge and a non-monotonic sum under one name are not added', () => {
    const input = resourceMetrics({}, [
      { name: 's', metrics: [gauge('depth', {}, [[{ q: 'a' }, 1]]), sum('depth', { monotonic: false }, [[{ q: 'a' }, 5]])] },
    ]);
    const { body, dropped } = serializeSync([input]);
    expect(samples(body)).toEqual(['depth{q="a",otel_scope_name="s"} 1']);
    expect(dropped).toEqual({ unmergeable_collision: 1 });
  });

  test('metrics whose names sanitise to one are distinct records: their equal series are added', () => {
    const input = resourceMetrics({}, [
      { name: 's', metrics: [sum('http.requests', {}, [[{ a: '1' }, 1]]), sum('http_requests', {}, [[{ a: '1' }, 2]])] },
    ]);
    const { body, dropped } = serializeSync([input]);
    expect(samples(body)).toEqual(['http_requests_total{a="1",otel_scope_name="s"} 3']);
    expect(dropped).toEqual({ merged_series: 1 });
  });

  test('two pipelines delivering the same colliding records: added once, the repeats are duplicates', () => {
    const pipeline = () =>
      resourceMetrics(RESOURCE, [{ name: 's', metrics: [sum('jobs', {}, [[{ 'a.b': 'x' }, 3], [{ a_b: 'x' }, 4], [{ a_b: 'y' }, 1]])] }]);
    const { body, dropped } = serializeSync([pipeline(), pipeline()]);
    expect(samples(body)).toEqual([
      'target_info{host_name="node-1",service_name="otel-agent"} 1',
      'jobs_total{a_b="x",otel_scope_name="s"} 7',
      'jobs_total{a_b="y",otel_scope_name="s"} 1',
    ]);
    expect(dropped).toEqual({ merged_series: 1, duplicate_series: 3 });
  });

  test('records in different scopes stay apart; other families and drops are untouched', () => {
    const input = resourceMetrics({}, [
      {
        name: 'a',
        metrics: [
          gauge('before', {}, [[{ k: 'v' }, 1]]),
          sum('jobs', {}, [[{ 'a.b': 'x' }, 1], [{ a_b: 'x' }, 2], [{ bad: 'v' }, NaN]]),
          gauge('after', {}, [[{ k: 'v' }, 2]]),
        ],
      },
      { name: 'b', metrics: [sum('jobs', {}, [[{ a_b: 'x' }, 10]])] },
    ]);
    const { body, dropped, series } = serializeSync([input]);
    expect(samples(body)).toEqual([
      'before{k="v",otel_scope_name="a"} 1',
      'jobs_total{a_b="x",otel_scope_name="a"} 3',
      'jobs_total{a_b="x",otel_scope_name="b"} 10',
      'after{k="v",otel_scope_name="a"} 2',
    ]);
    expect(body.match(/# TYPE jobs_total counter/g)).toHaveLength(1);
    expect(dropped).toEqual({ merged_series: 1, non_finite: 1 });
    expect(series).toBe(4);
  });

  test('a collision after more than an output chunk of the family: the family is written once, merged', async () => {
    const points: Array<[Record<string, string>, number]> = [];
    for (let i = 0; i < 8000; i++) points.push([{ 'job.id': String(i), name: 'padding'.repeat(4) }, i]);
    points.push([{ job_id: '0', name: 'padding'.repeat(4) }, 1000]);
    const input = [
      resourceMetrics({}, [{ name: 's', metrics: [gauge('before', {}, [[{}, 1]]), sum('c', {}, points), gauge('after', {}, [[{}, 2]])] }]),
    ];
    const result = serializeSync(input);
    expect(result.body.length).toBeGreaterThan(256 * 1024);
    const lines = samples(result.body);
    expect(lines).toHaveLength(8002);
    expect(lines[0]).toBe('before{otel_scope_name="s"} 1');
    expect(lines[1]).toBe(`c_total{job_id="0",name="${'padding'.repeat(4)}",otel_scope_name="s"} 1000`);
    expect(lines[8000]).toBe(`c_total{job_id="7999",name="${'padding'.repeat(4)}",otel_scope_name="s"} 7999`);
    expect(lines[8001]).toBe('after{otel_scope_name="s"} 2');
    expect(count(result.body, '# TYPE c_total counter')).toBe(1);
    expect(result.dropped).toEqual({ merged_series: 1 });
    expect(result.series).toBe(8002);
    expect(await serialize(input, {}, 7)).toEqual(result);
  });

  test('OpenMetrics: the merged family parses, one series per label set', () => {
    const input = resourceMetrics({}, [
      {
        name: 's',
        metrics: [
          sum('jobs', {}, [[{ 'a.b': 'x' }, 3], [{ a_b: 'x' }, 4]]),
          histogram('wait', { unit: 's', boundaries: [1] }, [[{ 'a.b': 'x' }, { counts: [1, 1], sum: 3 }], [{ a_b: 'x' }, { counts: [0, 2], sum: 9 }]]),
        ],
      },
    ]);
    const { body, dropped } = serializeSync([input], { format: 'openmetrics' });
    expect(() => parseOpenMetrics(body)).not.toThrow();
    expect(body).toContain('jobs_total{a_b="x",otel_scope_name="s"} 7\n');
    expect(body).toContain('wait_seconds_count{a_b="x",otel_scope_name="s"} 4\n');
    expect(dropped).toEqual({ merged_series: 2 });
  });
});

describe('histograms', () => {
  test('cumulative buckets, +Inf equal to _count, _sum and _count', () => {
    const { body } = serializeSync(realisticInput());
    const labels = 'job_name="build \\"x\\"\\\\y",status="success",otel_scope_name="joblog/runner"';
    const lines = samples(body).filter((line) => line.startsWith('runner_job_duration_seconds'));
    expect(lines).toEqual([
      `runner_job_duration_seconds_bucket{${labels},le="0.5"} 1`,
      `runner_job_duration_seconds_bucket{${labels},le="1"} 1`,
      `runner_job_duration_seconds_bucket{${labels},le="2.5"} 4`,
      `runner_job_duration_seconds_bucket{${labels},le="10"} 6`,
      `runner_job_duration_seconds_bucket{${labels},le="+Inf"} 7`,
      `runner_job_duration_seconds_sum{${labels}} 33.25`,
      `runner_job_duration_seconds_count{${labels}} 7`,
    ]);
    expect(body).toContain('# TYPE runner_job_duration_seconds histogram\n');
  });

  test('a histogram without attributes or scope labels; an attribute named le is exported_le', () => {
    const input = resourceMetrics({}, [
      {
        name: '',
        metrics: [
          histogram('h', { boundaries: [1e6] }, [
            [{}, { counts: [2, 1], sum: 5 }],
            [{ le: 'mine' }, { counts: [0, 1], sum: 3e6 }],
          ]),
        ],
      },
    ]);
    expect(samples(serializeSync([input]).body)).toEqual([
      'h_bucket{le="1e+06"} 2',
      'h_bucket{le="+Inf"} 3',
      'h_sum 5',
      'h_count 3',
      'h_bucket{exported_le="mine",le="1e+06"} 0',
      'h_bucket{exported_le="mine",le="+Inf"} 1',
      'h_sum{exported_le="mine"} 3000000',
      'h_count{exported_le="mine"} 1',
    ]);
  });

  test('negative bucket bounds: no _sum (it would not be a counter)', () => {
    const input = resourceMetrics({}, [
      { name: '', metrics: [histogram('t', { boundaries: [-10, 0, 10] }, [[{}, { counts: [1, 1, 1, 1], sum: -3 }]])] },
    ]);
    const lines = samples(serializeSync([input]).body);
    expect(lines).toEqual(['t_bucket{le="-10"} 1', 't_bucket{le="0"} 2', 't_bucket{le="10"} 3', 't_bucket{le="+Inf"} 4', 't_count 4']);
  });

  test('exponential histograms are not written, and counted', () => {
    const input = resourceMetrics({}, [{ name: 's', metrics: [exponentialHistogram('e', [{ a: '1' }, { a: '2' }]), gauge('g', {}, [[{}, 1]])] }]);
    const { body, dropped, series } = serializeSync([input]);
    expect(body).not.toContain('# TYPE e');
    expect(dropped).toEqual({ exponential_histogram: 2 });
    expect(series).toBe(1);
  });

  test('OpenMetrics le values are canonical floats', () => {
    const { body } = serializeSync(realisticInput(), { format: 'openmetrics' });
    expect(body).toContain(',le="1.0"} 1\n');
    expect(body).toContain(',le="10.0"} 6\n');
    expect(body).toContain(',le="0.5"} 1\n');
  });
});

describe('values', () => {
  test('integers without .0, floats in shortest round-trip form, +Inf, -Inf, NaN; no timestamps', () => {
    const values = [
      0, -0, 3, -7, 2 ** 53, 2 ** 53 + 2, 0.1, 1 / 3, 1e21, 1.5e-7, -2.5, -1.2345678901234567e-6, -Number.MAX_VALUE,
      Infinity, -Infinity, NaN,
    ];
    const input = resourceMetrics({}, [{ name: '', metrics: [gauge('g', {}, values.map((value, i) => [{ i: String(i) }, value]))] }]);
    const written = samples(serializeSync([input]).body).map((line) => line.split(' '));
    for (const parts of written) expect(parts).toHaveLength(2);
    expect(written.map((parts) => parts[1])).toEqual([
      '0', '0', '3', '-7', '9007199254740992', '9007199254740994', '0.1', '0.3333333333333333', '1e+21', '1.5e-7',
      '-2.5', '-0.0000012345678901234567', '-1.7976931348623157e+308', '+Inf', '-Inf', 'NaN',
    ]);
    for (const [index, value] of values.entries()) {
      if (!Number.isNaN(value)) expect(Number(written[index][1].replace('Inf', 'Infinity'))).toBe(value === 0 ? 0 : value);
    }
  });

  test('non-finite counter values and histograms are dropped as non_finite', () => {
    const input = resourceMetrics({}, [
      {
        name: '',
        metrics: [
          sum('c', {}, [[{ a: '1' }, NaN], [{ a: '2' }, Infinity], [{ a: '3' }, 4]]),
          histogram('h', { boundaries: [1] }, [[{ a: '1' }, { counts: [1, 0], sum: NaN }], [{ a: '2' }, { counts: [1, 0], sum: 0.5 }]]),
        ],
      },
    ]);
    const { body, dropped } = serializeSync([input]);
    expect(samples(body)).toEqual([
      'c_total{a="3"} 4',
      'h_bucket{a="2",le="1"} 1',
      'h_bucket{a="2",le="+Inf"} 1',
      'h_sum{a="2"} 0.5',
      'h_count{a="2"} 1',
    ]);
    expect(dropped).toEqual({ non_finite: 3 });
  });

  test('delta sums are dropped: Prometheus has no delta', () => {
    const input = resourceMetrics({}, [
      { name: '', metrics: [sum('d', { temporality: AggregationTemporality.DELTA }, [[{}, 1], [{ a: '1' }, 2]])] },
    ]);
    expect(serializeSync([input])).toEqual({ body: '', series: 0, dropped: { delta_temporality: 2 } });
  });
});

describe('target_info', () => {
  test('gauge 1 with the resource attributes, HELP Target metadata', () => {
    const { body } = serializeSync(realisticInput());
    expect(body.startsWith('# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info{host_name="node-1",service_name="otel-agent"} 1\n')).toBe(true);
  });

  test('one series per distinct resource; none when disabled or empty', () => {
    const scope = (value: number) => [{ name: 's', metrics: [gauge('g', {}, [[{ n: String(value) }, value]])] }];
    const a = resourceMetrics({ 'host.name': 'a' }, scope(1));
    const b = resourceMetrics({ 'host.name': 'b' }, scope(2));
    const empty = resourceMetrics({}, scope(3));
    const { body, series } = serializeSync([a, b, resourceMetrics({ 'host.name': 'a' }, scope(4)), empty]);
    expect(samples(body).filter((line) => line.startsWith('target_info'))).toEqual(['target_info{host_name="a"} 1', 'target_info{host_name="b"} 1']);
    expect(series).toBe(2 + 4);
    expect(serializeSync([a], { targetInfo: false }).body).not.toContain('target_info');
    expect(serializeSync([empty]).body).not.toContain('target_info');
  });

  test('none for a resource without data points: a filter that dropped all of a pipeline leaves no stray target_info', () => {
    const withPoints = resourceMetrics({ 'host.name': 'a' }, [{ name: 's', metrics: [gauge('g', {}, [[{}, 1]])] }]);
    const noScopes = resourceMetrics({ 'host.name': 'b' }, []);
    const noMetrics = resourceMetrics({ 'host.name': 'c' }, [{ name: 's', metrics: [] }]);
    const noPoints = resourceMetrics({ 'host.name': 'd' }, [{ name: 's', metrics: [gauge('g', {}, [])] }]);
    const { body } = serializeSync([noScopes, withPoints, noMetrics, noPoints]);
    expect(samples(body).filter((line) => line.startsWith('target_info'))).toEqual(['target_info{host_name="a"} 1']);
    expect(serializeSync([noScopes, noMetrics, noPoints]).body).not.toContain('target_info');
  });

  test('a metric named target_info conflicts with it', () => {
    const input = resourceMetrics({ a: '1' }, [{ name: 's', metrics: [gauge('target.info', {}, [[{}, 2]])] }]);
    expect(serializeSync([input]).dropped).toEqual({ type_conflict: 1 });
    expect(serializeSync([input], { targetInfo: false }).body).toContain('target_info{otel_scope_name="s"} 2');
  });
});

describe('OpenMetrics', () => {
  test('counter metadata without _total, samples with it, UNIT line, info-typed target, # EOF', () => {
    const { body } = serializeSync(realisticInput(), { format: 'openmetrics' });
    expect(body).toContain('# TYPE system_cpu_time_seconds counter\n# UNIT system_cpu_time_seconds seconds\n# HELP system_cpu_time_seconds Seconds');
    expect(body).toContain('\nsystem_cpu_time_seconds_total{cpu="0",state="user",');
    expect(body).toContain('# TYPE system_network_packets counter\n# HELP');
    expect(body).toContain('# TYPE target info\n# HELP target Target metadata\ntarget_info{');
    expect(body.endsWith('\n# EOF\n')).toBe(true);
    const families = parseOpenMetrics(body);
    expect(families.map((family) => [family.name, family.type, family.unit ?? ''])).toEqual([
      ['target', 'info', ''],
      ['system_cpu_time_seconds', 'counter', 'seconds'],
      ['system_memory_usage_bytes', 'gauge', 'bytes'],
      ['system_cpu_utilization_ratio', 'gauge', 'ratio'],
      ['system_network_packets', 'counter', ''],
      ['runner_job_duration_seconds', 'histogram', 'seconds'],
    ]);
  });

  test('a counter family and a gauge with the same OpenMetrics family name conflict', () => {
    const input = resourceMetrics({}, [{ name: '', metrics: [sum('x', {}, [[{}, 1]]), gauge('x', {}, [[{}, 2]])] }]);
    const { body, dropped } = serializeSync([input], { format: 'openmetrics' });
    expect(dropped).toEqual({ type_conflict: 1 });
    expect(parseOpenMetrics(body).map((family) => family.name)).toEqual(['x']);
    // In the text format they are two names, x_total and x.
    expect(serializeSync([input]).dropped).toEqual({});
  });

  test('an empty scrape is just # EOF', () => {
    expect(serializeSync([], { format: 'openmetrics' }).body).toBe('# EOF\n');
  });

  test('the test parser refuses what OpenMetrics forbids', () => {
    expect(() => parseOpenMetrics('# TYPE x counter\nx_total 1\n')).toThrow(/EOF/);
    expect(() => parseOpenMetrics('# TYPE x counter\n# UNIT x seconds\nx_total 1\n# EOF\n')).toThrow(/suffix/);
    expect(() => parseOpenMetrics('# TYPE x counter\nx 1\n# EOF\n')).toThrow(/fit/);
    expect(() => parseOpenMetrics('# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx 2\n# EOF\n')).toThrow(/interleaved/);
    expect(() => parseOpenMetrics('# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n# EOF\n')).toThrow(/duplicate/);
    expect(() => parseOpenMetrics('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n# EOF\n')).toThrow(/cumulative/);
    expect(() => parseOpenMetrics('# TYPE x gauge\nx{a="\\t"} 1\n# EOF\n')).toThrow(/malformed/);
  });
});

describe('serialize (async)', () => {
  test('same result as serializeSync', async () => {
    for (const format of ['text', 'openmetrics'] as const) {
      expect(await serialize(realisticInput(), { format }, 1)).toEqual(serializeSync(realisticInput(), { format }));
    }
  });

  test('gives the event loop a turn every yieldEvery data points', async () => {
    const points: Array<[Record<string, string>, number]> = [];
    for (let i = 0; i < 100; i++) points.push([{ i: String(i) }, i]);
    const input = [resourceMetrics({}, [{ name: '', metrics: [gauge('g', {}, points)] }])];
    let finished = false;
    const pending = serialize(input, {}, 10).then((result) => {
      finished = true;
      return result;
    });
    let turns = 0;
    while (!finished) {
      await new Promise((resolve) => setImmediate(resolve));
      turns++;
    }
    expect(turns).toBeGreaterThanOrEqual(9);
    expect((await pending).series).toBe(100);
  });

  test('a histogram point weighs as many data points as the lines it writes', async () => {
    const points: Array<[Record<string, string>, { counts: number[]; sum: number }]> = [];
    for (let i = 0; i < 20; i++) points.push([{ i: String(i) }, { counts: [1, 1, 1, 1], sum: 1 }]);
    // 3 bounds: 4 bucket lines + _sum + _count = 6 lines a point; 20 points, a turn every 12 lines.
    const input = [resourceMetrics({}, [{ name: '', metrics: [histogram('h', { boundaries: [1, 2, 3] }, points)] }])];
    let finished = false;
    const pending = serialize(input, {}, 12).then(() => (finished = true));
    let turns = 0;
    while (!finished) {
      await new Promise((resolve) => setImmediate(resolve));
      turns++;
    }
    await pending;
    expect(turns).toBeGreaterThanOrEqual(9);
  });

  test('bad arguments are refused with a clear error', async () => {
    await expect(serialize([], {}, 0)).rejects.toThrow(/yieldEvery must be a positive integer/);
    expect(() => serializeSync([], { format: 'json' as never })).toThrow(/format must be 'text' or 'openmetrics'/);
  });
});

test('content types', () => {
  expect(CONTENT_TYPE_TEXT).toBe('text/plain; version=0.0.4; charset=utf-8');
  expect(CONTENT_TYPE_OPENMETRICS).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
});
