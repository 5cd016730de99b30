import { describe, expect, test } from 'vitest';
import {
  bucketBoundText,
  prometheusLabels,
  prometheusMetricName,
  prometheusUnit,
  sanitizeLabelName,
  sanitizeName,
  type MetricKind,
} from '../../../src/prometheus/naming.js';

const withSuffixes = { addSuffixes: true };

describe('prometheusMetricName', () => {
  test.each<[string, string, MetricKind, string]>([
    ['system.cpu.time', 's', 'monotonic_sum', 'system_cpu_time_seconds_total'],
    ['system.network.io', 'By', 'monotonic_sum', 'system_network_io_bytes_total'],
    ['system.memory.usage', 'By', 'non_monotonic_sum', 'system_memory_usage_bytes'],
    ['http.server.request.duration', 's', 'histogram', 'http_server_request_duration_seconds'],
    ['rpc.latency', 'ms', 'histogram', 'rpc_latency_milliseconds'],
    ['buffer.size', 'KiBy', 'gauge', 'buffer_size_kibibytes'],
    ['disk.throughput', 'By/s', 'gauge', 'disk_throughput_bytes_per_second'],
    ['events.rate', '{events}/s', 'gauge', 'events_rate_per_second'],
    ['system.network.packets', '{packets}', 'monotonic_sum', 'system_network_packets_total'],
    ['system.cpu.utilization', '1', 'gauge', 'system_cpu_utilization_ratio'],
    // On sums "1" means a count, not a ratio.
    ['jobs.done', '1', 'monotonic_sum', 'jobs_done_total'],
    ['queue.depth', '1', 'non_monotonic_sum', 'queue_depth'],
    ['widgets', 'furlong.fortnight', 'gauge', 'widgets_furlong_fortnight'],
    ['temperature', 'Cel', 'gauge', 'temperature_celsius'],
    ['load', '%', 'gauge', 'load_percent'],
    // Histogram series suffixes are not left on gauges (promtool refuses them).
    ['system.cpu.logical.count', '{cpu}', 'non_monotonic_sum', 'system_cpu_logical_count_value'],
    ['checks.sum', '', 'gauge', 'checks_sum_value'],
    ['packet.count', '{packets}', 'monotonic_sum', 'packet_count_total'],
    ['request.count', '', 'histogram', 'request_count'],
  ])('%s [%s] %s -> %s', (name, unit, kind, expected) => {
    expect(prometheusMetricName(name, unit, kind, withSuffixes).name).toBe(expected);
  });

  test('invalid characters become _ and runs of _ collapse', () => {
    expect(prometheusMetricName('my-app..requests/sec', '', 'gauge', withSuffixes).name).toBe('my_app_requests_sec');
    expect(prometheusMetricName('a__b', '', 'gauge', withSuffixes).name).toBe('a_b');
    expect(prometheusMetricName('job:rate5m', '', 'gauge', withSuffixes).name).toBe('job_rate5m');
  });

  test('a name starting with a digit gets a leading _', () => {
    expect(prometheusMetricName('5xx.responses', '', 'gauge', withSuffixes).name).toBe('_5xx_responses');
  });

  test('the unit is not appended twice, nor _total', () => {
    expect(prometheusMetricName('process.cpu.seconds', 's', 'monotonic_sum', withSuffixes).name).toBe(
      'process_cpu_seconds_total',
    );
    expect(prometheusMetricName('requests_total', '', 'monotonic_sum', withSuffixes).name).toBe('requests_total');
    expect(prometheusMetricName('cpu.seconds.total', 's', 'monotonic_sum', withSuffixes).name).toBe(
      'cpu_seconds_total',
    );
    // `_total` moves behind the unit.
    expect(prometheusMetricName('io_total', 'By', 'monotonic_sum', withSuffixes).name).toBe('io_bytes_total');
    expect(prometheusMetricName('usage.ratio', '1', 'gauge', withSuffixes).name).toBe('usage_ratio');
  });

  test('namespace prefixes the name before suffixes are added', () => {
    expect(
      prometheusMetricName('system.cpu.time', 's', 'monotonic_sum', { namespace: 'node', addSuffixes: true }).name,
    ).toBe('node_system_cpu_time_seconds_total');
    expect(prometheusMetricName('up', '', 'gauge', { namespace: 'my-agent', addSuffixes: true }).name).toBe(
      'my_agent_up',
    );
  });

  test('without suffixes the sanitised name is kept as is', () => {
    const naming = prometheusMetricName('system.cpu.time', 's', 'monotonic_sum', { addSuffixes: false });
    expect(naming).toEqual({ name: 'system_cpu_time', family: 'system_cpu_time', unit: '' });
    const counted = prometheusMetricName('jobs_total', '', 'monotonic_sum', { addSuffixes: false });
    expect(counted).toEqual({ name: 'jobs_total', family: 'jobs', unit: '' });
  });

  test('family (OpenMetrics) drops _total; unit is given only when the family ends with it', () => {
    expect(prometheusMetricName('system.cpu.time', 's', 'monotonic_sum', withSuffixes)).toEqual({
      name: 'system_cpu_time_seconds_total',
      family: 'system_cpu_time_seconds',
      unit: 'seconds',
    });
    expect(prometheusMetricName('packets', '{packets}', 'monotonic_sum', withSuffixes)).toEqual({
      name: 'packets_total',
      family: 'packets',
      unit: '',
    });
  });

  test('a name with nothing usable in it is refused with an empty name', () => {
    expect(prometheusMetricName('', 's', 'gauge', withSuffixes).name).toBe('');
    expect(prometheusMetricName('...', '', 'gauge', withSuffixes).name).toBe('');
  });
});

describe('prometheusUnit', () => {
  test.each<[string, MetricKind, string]>([
    ['s', 'gauge', 'seconds'],
    ['ms', 'histogram', 'milliseconds'],
    ['By', 'monotonic_sum', 'bytes'],
    ['KiBy', 'gauge', 'kibibytes'],
    ['1', 'gauge', 'ratio'],
    ['1', 'histogram', ''],
    ['{packets}', 'monotonic_sum', ''],
    ['By/s', 'gauge', 'bytes_per_second'],
    ['{requests}/min', 'gauge', 'per_minute'],
    ['m/s', 'gauge', 'meters_per_second'],
    ['', 'gauge', ''],
    ['bogus unit!', 'gauge', 'bogus_unit'],
  ])('%s (%s) -> %s', (unit, kind, expected) => {
    expect(prometheusUnit(unit, kind)).toBe(expected);
  });
});

describe('sanitizeName', () => {
  test('keeps valid names, replaces the rest', () => {
    expect(sanitizeName('abc_DEF_123')).toBe('abc_DEF_123');
    expect(sanitizeName('é.x')).toBe('_x');
  });
});

describe('sanitizeLabelName', () => {
  test.each([
    ['host.name', 'host_name'],
    ['http.response.status_code', 'http_response_status_code'],
    ['already_valid', 'already_valid'],
    ['1st', 'key_1st'],
    ['9.x', 'key_9_x'],
    ['__name__', 'key_name_'],
    ['__secret', 'key_secret'],
    ['_private', '_private'],
    ['a..b', 'a_b'],
    ['a__b', 'a_b'],
    ['', 'key_'],
  ])('%j -> %j', (key, expected) => {
    expect(sanitizeLabelName(key)).toBe(expected);
  });
});

describe('prometheusLabels', () => {
  test('sorted by label name, non-string values stringified, arrays as JSON', () => {
    expect(
      prometheusLabels({ 'net.peer.port': 8080, zone: 'b', 'tls.ok': true, tags: ['x', 'y'], ratio: 0.5 }),
    ).toEqual([
      ['net_peer_port', '8080'],
      ['ratio', '0.5'],
      ['tags', '["x","y"]'],
      ['tls_ok', 'true'],
      ['zone', 'b'],
    ]);
  });

  test('keys mapping to one label are merged, values joined by ; in order of the original keys', () => {
    // Insertion order differs from the lexicographic one on purpose.
    expect(prometheusLabels({ a_b: 'second', 'a.b': 'first' })).toEqual([['a_b', 'first;second']]);
    expect(prometheusLabels({ 'a-b': '2', 'a.b': '1', a_b: '3' })).toEqual([['a_b', '2;1;3']]);
  });

  test('a key clashing with a reserved label is renamed exported_<label>', () => {
    const reserved = new Set(['le', 'otel_scope_name']);
    expect(prometheusLabels({ le: '5', 'otel.scope.name': 'mine', x: '1' }, reserved)).toEqual([
      ['exported_le', '5'],
      ['exported_otel_scope_name', 'mine'],
      ['x', '1'],
    ]);
  });

  test('null and undefined values are left out', () => {
    expect(prometheusLabels({ a: undefined, b: null, c: '' })).toEqual([['c', '']]);
  });
});

describe('bucketBoundText', () => {
  test.each<[number, string, string]>([
    [0, '0', '0.0'],
    [0.005, '0.005', '0.005'],
    [0.1, '0.1', '0.1'],
    [1, '1', '1.0'],
    [2.5, '2.5', '2.5'],
    [10, '10', '10.0'],
    [100000, '100000', '100000.0'],
    [1e6, '1e+06', '1e+06'],
    [1234567, '1.234567e+06', '1.234567e+06'],
    [0.0001, '0.0001', '0.0001'],
    [1e-5, '1e-05', '1e-05'],
    [1e-10, '1e-10', '1e-10'],
    [1e21, '1e+21', '1e+21'],
    [-5, '-5', '-5.0'],
    [Infinity, '+Inf', '+Inf'],
  ])('%d -> text %s, OpenMetrics %s', (bound, text, openMetrics) => {
    expect(bucketBoundText(bound, false)).toBe(text);
    expect(bucketBoundText(bound, true)).toBe(openMetrics);
  });
});
