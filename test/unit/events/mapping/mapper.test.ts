import { describe, expect, it } from 'vitest';
import { compileMapping, metricsSchema, type EventRecord, type MappingRefusal } from '../../../../src/events/mapping/index.js';
import { MetricStore, OVERFLOW_ATTRIBUTES } from '../../../../src/metrics/store.js';
import { ViewSet } from '../../../../src/metrics/views.js';
import { series } from '../../../support/metric-sink.js';

/** A histogram point's count and sum, which is what the mapping decides. */
function observations(store: MetricStore, name: string): Array<{ attributes: object; count: number; sum: number }> {
  return series(store, name).map(({ attributes, value }) => {
    const { count, sum } = value as { count: number; sum: number };
    return { attributes, count, sum };
  });
}

function setup(metrics: unknown[], options: { seriesLimit?: number } = {}) {
  let now = 1_000_000;
  const store = new MetricStore({
    scope: 'joblog/test',
    ...(options.seriesLimit !== undefined && { views: new ViewSet([], options.seriesLimit) }),
  });
  const refused: MappingRefusal[] = [];
  const mapper = compileMapping(metricsSchema.parse(metrics), {
    meter: store,
    onRefused: (reason) => refused.push(reason),
    now: () => now,
  });
  return {
    store,
    mapper,
    refused,
    /** Maps a record seen now; its time is now unless given. */
    map(record: EventRecord, timeMs = now) {
      mapper.map(record, timeMs);
    },
    advance(ms: number) {
      now += ms;
    },
    get now() {
      return now;
    },
  };
}

describe('compileMapping: one measurement per matching record', () => {
  it('counts matching records, with attributes from fields, value maps and static attributes', () => {
    const t = setup([
      {
        name: 'runner.jobs',
        type: 'counter',
        match: { event: 'completed' },
        attributes: {
          status: { field: 'result', map: { Succeeded: 'success', Failed: 'failure' }, default: 'unknown' },
          operation: 'operation',
        },
        static_attributes: { runner: 'build-01' },
      },
    ]);
    t.map({ event: 'completed', result: 'Succeeded', operation: 'build' });
    t.map({ event: 'completed', result: 'Succeeded', operation: 'build' });
    t.map({ event: 'completed', result: 'Failed', operation: 'test' });
    t.map({ event: 'completed', result: 'Exploded', operation: 'test' });
    t.map({ event: 'started', result: 'Succeeded', operation: 'build' });
    expect(series(t.store, 'runner.jobs')).toEqual([
      { attributes: { runner: 'build-01', status: 'success', operation: 'build' }, value: 2 },
      { attributes: { runner: 'build-01', status: 'failure', operation: 'test' }, value: 1 },
      { attributes: { runner: 'build-01', status: 'unknown', operation: 'test' }, value: 1 },
    ]);
    expect(t.refused).toEqual([]);
  });

  it('adds a field value to a counter, scaled, and counts 1 when there is no value', () => {
    const t = setup([
      { name: 'bytes', type: 'counter', unit: 'By', value: { field: 'kib', scale: 1024 } },
      { name: 'records', type: 'counter' },
    ]);
    t.map({ kib: '2' });
    t.map({ kib: '0.5' });
    expect(series(t.store, 'bytes')).toEqual([{ attributes: {}, value: 2560 }]);
    expect(series(t.store, 'records')).toEqual([{ attributes: {}, value: 2 }]);
  });

  it('moves an updown counter both ways', () => {
    const t = setup([{ name: 'queue.depth', type: 'updown', value: 'delta' }]);
    for (const delta of ['3', '-1', '2', '-4']) t.map({ delta });
    expect(series(t.store, 'queue.depth')).toEqual([{ attributes: {}, value: 0 }]);
  });

  it('sets a gauge to the last value, and to a mapped number for a state field', () => {
    const t = setup([
      { name: 'temperature', type: 'gauge', value: 'celsius', attributes: { room: 'room' } },
      { name: 'runner.status', type: 'gauge', value: { field: 'state', map: { online: 1, busy: 1, offline: 0 } } },
    ]);
    t.map({ room: 'a', celsius: '20.5', state: 'online' });
    t.map({ room: 'a', celsius: '21', state: 'offline' });
    expect(series(t.store, 'temperature')).toEqual([{ attributes: { room: 'a' }, value: 21 }]);
    expect(series(t.store, 'runner.status')).toEqual([{ attributes: {}, value: 0 }]);
  });

  it('records histogram observations into the configured buckets', () => {
    const t = setup([{ name: 'job.duration', type: 'histogram', unit: 's', value: 'duration_s', buckets: [1, 10] }]);
    for (const duration_s of ['0.5', '5', '50', '7']) t.map({ duration_s });
    const [point] = series(t.store, 'job.duration');
    expect(point.value).toMatchObject({ buckets: { boundaries: [1, 10], counts: [1, 2, 1] }, count: 4, sum: 62.5 });
  });

  it('takes the record time in seconds for { time: record }', () => {
    const t = setup([{ name: 'last_update', type: 'gauge', unit: 's', value: { time: 'record' } }]);
    t.map({ anything: 'x' }, 1_767_602_596_250);
    expect(series(t.store, 'last_update')).toEqual([{ attributes: {}, value: 1_767_602_596.25 }]);
  });

  it('gives a field value map default to a missing field too', () => {
    const t = setup([{ name: 'up', type: 'gauge', value: { field: 'state', map: { up: 1 }, default: 0 } }]);
    t.map({});
    expect(series(t.store, 'up')).toEqual([{ attributes: {}, value: 0 }]);
    expect(t.refused).toEqual([]);
  });
});

describe('compileMapping: refusals', () => {
  it.each<[string, unknown, EventRecord, MappingRefusal]>([
    ['a missing value field', { name: 'g', type: 'gauge', value: 'v' }, { other: '1' }, 'missing_field'],
    ['a regex group that took no part', { name: 'g', type: 'gauge', value: 'v' }, { v: undefined }, 'missing_field'],
    ['a missing attribute field', { name: 'c', type: 'counter', attributes: { s: 'status' } }, {}, 'missing_field'],
    ['a non-numeric value', { name: 'g', type: 'gauge', value: 'v' }, { v: '12ms' }, 'non_numeric_value'],
    ['an empty value', { name: 'g', type: 'gauge', value: 'v' }, { v: '' }, 'non_numeric_value'],
    ['a blank value', { name: 'g', type: 'gauge', value: 'v' }, { v: '  ' }, 'non_numeric_value'],
    ['an infinite value', { name: 'g', type: 'gauge', value: 'v' }, { v: 'Infinity' }, 'non_numeric_value'],
    ['a negative counter value', { name: 'c', type: 'counter', value: 'v' }, { v: '-1' }, 'negative_value'],
    ['a negative histogram value', { name: 'h', type: 'histogram', value: 'v' }, { v: '-0.5' }, 'negative_value'],
    ['an unmapped attribute value', { name: 'c', type: 'counter', attributes: { s: { field: 'r', map: { A: 'a' } } } }, { r: 'B' }, 'unmapped_value'],
    ['an unmapped value', { name: 'g', type: 'gauge', value: { field: 's', map: { up: 1 } } }, { s: 'sideways' }, 'unmapped_value'],
    ['a prototype member name', { name: 'g', type: 'gauge', value: 'constructor' }, JSON.parse('{"a":"1"}'), 'missing_field'],
  ])('skips %s and says why', (_name, metric, record, reason) => {
    const t = setup([metric]);
    t.map(record);
    expect(t.refused).toEqual([reason]);
    const name = (metric as { name: string }).name;
    // Nothing recorded, except the zero series a counter starts with.
    for (const point of series(t.store, name)) expect(point.value).toBe(0);
  });

  it('reports each reason once per record, and keeps the measurements that could be made', () => {
    const t = setup([
      { name: 'a', type: 'gauge', value: 'missing' },
      { name: 'b', type: 'gauge', value: 'missing' },
      { name: 'c', type: 'gauge', value: 'text' },
      { name: 'd', type: 'gauge', value: 'number' },
    ]);
    t.map({ text: 'abc', number: '7' });
    expect(t.refused).toEqual(['missing_field', 'non_numeric_value']);
    expect(series(t.store, 'd')).toEqual([{ attributes: {}, value: 7 }]);
    t.map({ text: 'abc', number: '8' });
    expect(t.refused).toEqual(['missing_field', 'non_numeric_value', 'missing_field', 'non_numeric_value']);
  });

  it('counts each attribute set exactly, past the number of sets the mapper keeps ready-made', () => {
    const t = setup([{ name: 'requests', type: 'counter', attributes: { path: 'path', method: 'method' } }], { seriesLimit: 20_000 });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 6_000; i++) t.map({ path: `/item/${i}`, method: i % 2 === 0 ? 'GET' : 'PUT' });
    }
    const all = series(t.store, 'requests');
    expect(all).toHaveLength(6_000);
    expect(all.every((point) => point.value === 2)).toBe(true);
    expect(all[5_999]).toEqual({ attributes: { path: '/item/5999', method: 'PUT' }, value: 2 });
  });

  it('leaves a free-form attribute to the series limit of the store, which folds the excess into one series', () => {
    const t = setup([{ name: 'requests', type: 'counter', attributes: { path: 'path' } }], { seriesLimit: 100 });
    for (let i = 0; i < 10_000; i++) t.map({ path: `/item/${i}` });
    const all = series(t.store, 'requests');
    expect(all).toHaveLength(101);
    expect(all.at(-1)).toEqual({ attributes: OVERFLOW_ATTRIBUTES, value: 9_900 });
  });
});

describe('compileMapping: series made when compiled', () => {
  it('sets a gauge that reads nothing from records once (an _info metric), and not again per record', () => {
    const t = setup([{ name: 'runner.info', type: 'gauge', value: 1, static_attributes: { name: 'build-01', version: '2.330.0' } }]);
    expect(series(t.store, 'runner.info')).toEqual([{ attributes: { name: 'build-01', version: '2.330.0' }, value: 1 }]);
    t.map({ event: 'x' });
    expect(series(t.store, 'runner.info')).toHaveLength(1);
  });

  it('starts counters at 0 for every attribute set their value maps allow, but not for free-form fields', () => {
    const t = setup([
      {
        name: 'jobs',
        type: 'counter',
        attributes: { status: { field: 'result', map: { Succeeded: 'success', Failed: 'failure' }, default: 'unknown' } },
        static_attributes: { runner: 'r1' },
      },
      { name: 'by_user', type: 'counter', attributes: { user: 'user' } },
    ]);
    expect(series(t.store, 'jobs')).toEqual([
      { attributes: { runner: 'r1', status: 'success' }, value: 0 },
      { attributes: { runner: 'r1', status: 'failure' }, value: 0 },
      { attributes: { runner: 'r1', status: 'unknown' }, value: 0 },
    ]);
    expect(series(t.store, 'by_user')).toEqual([]);
  });
});

describe('compileMapping: elapsed time', () => {
  it('shows seconds since the last matching record and keeps it current on refresh', () => {
    const t = setup([
      {
        name: 'runner.uptime',
        type: 'gauge',
        unit: 's',
        value: { time: 'elapsed' },
        match: { message: 'Listening for Jobs' },
        attributes: { mode: { field: 'mode', map: { ephemeral: 'ephemeral' }, default: 'persistent' } },
      },
    ]);
    const started = t.now - 30_000;
    t.map({ message: 'Listening for Jobs' }, started);
    expect(series(t.store, 'runner.uptime')).toEqual([{ attributes: { mode: 'persistent' }, value: 30 }]);
    t.advance(60_000);
    t.mapper.refresh();
    expect(series(t.store, 'runner.uptime')).toEqual([{ attributes: { mode: 'persistent' }, value: 90 }]);
    // A restart of the watched process starts its clock again.
    t.map({ message: 'Listening for Jobs' });
    expect(series(t.store, 'runner.uptime')).toEqual([{ attributes: { mode: 'persistent' }, value: 0 }]);
  });
});

describe('compileMapping: state kept across a restart', () => {
  it('brings back gauges\' last values, the value written last winning where two metrics write one series', () => {
    const config = [
      { name: 'runner.status', type: 'gauge', value: 1, match: { disconnected: { exists: false } } },
      { name: 'runner.status', type: 'gauge', value: 0, match: { disconnected: { exists: true } } },
      { name: 'queue.depth', type: 'gauge', value: 'depth', attributes: { queue: 'queue' } },
      { name: 'runner.info', type: 'gauge', value: 1, static_attributes: { version: '2' } },
    ];
    const first = setup(config);
    // Every record without `disconnected` sets the status to 1: the queue's too.
    first.map({ queue: 'a', depth: '3' });
    first.map({ queue: 'b', depth: '5' });
    first.map({ queue: 'a', depth: '4' });
    first.map({ disconnected: 'yes' });
    first.map({ line: 'back' });
    first.map({ disconnected: 'again', queue: 'b', depth: '5' });
    const saved = JSON.parse(JSON.stringify(first.mapper.saveState()));
    // Set once when compiled, from no record: nothing to keep.
    expect(Object.keys(saved).sort()).toEqual(['queue.depth gauge', 'runner.status gauge', 'runner.status gauge 2']);

    const next = setup(config);
    expect(next.mapper.restoreState(saved)).toBe(4);
    expect(series(next.store, 'runner.status')).toEqual([{ attributes: {}, value: 0 }]);
    expect(series(next.store, 'queue.depth')).toEqual([
      { attributes: { queue: 'a' }, value: 4 },
      { attributes: { queue: 'b' }, value: 5 },
    ]);
    // The restored sets are the ones records give: a new value replaces, not adds, a series.
    next.map({ queue: 'a', depth: '9' });
    expect(series(next.store, 'queue.depth')).toHaveLength(2);
    expect(Object.values(next.mapper.saveState()['queue.depth gauge'])).toHaveLength(2);
  });

  it('brings back elapsed clocks, still counting from the record that started them', () => {
    const config = [
      { name: 'runner.uptime', type: 'gauge', unit: 's', value: { time: 'elapsed' }, match: { listening: { exists: true } }, attributes: { pool: { field: 'pool', map: { a: 'alpha' }, default: 'other' } } },
    ];
    const first = setup(config);
    first.map({ listening: 'yes', pool: 'a' }, first.now - 10_000);
    const saved = JSON.parse(JSON.stringify(first.mapper.saveState()));
    const next = setup(config);
    next.advance(5_000);
    expect(next.mapper.restoreState(saved)).toBe(1);
    expect(series(next.store, 'runner.uptime')).toEqual([{ attributes: { pool: 'alpha' }, value: 15 }]);
    next.advance(1_000);
    next.mapper.refresh();
    expect(series(next.store, 'runner.uptime')).toEqual([{ attributes: { pool: 'alpha' }, value: 16 }]);
  });

  it('leaves out attribute sets the config no longer gives, and entries that are not what it wrote', () => {
    const saved = {
      'runner.uptime elapsed': [{ attributes: { pool: 'beta' }, timeMs: 0 }, { attributes: {}, timeMs: 0 }, null, { attributes: { pool: 'alpha' }, timeMs: 'x' }],
      'queue.depth gauge': [{ attributes: { queue: 7 }, value: 1, order: 1 }, { attributes: { queue: 'a' }, value: 'x', order: 2 }],
    };
    const next = setup([
      { name: 'runner.uptime', type: 'gauge', value: { time: 'elapsed' }, attributes: { pool: { field: 'pool', map: { a: 'alpha' } } } },
      { name: 'queue.depth', type: 'gauge', value: 'depth', attributes: { queue: 'queue' } },
    ]);
    expect(next.mapper.restoreState(saved)).toBe(0);
    expect(next.mapper.saveState()).toEqual({});
  });
});

describe('compileMapping: paired events', () => {
  const pairMetric = (pair: object = {}, extra: object = {}) => ({
    name: 'job.duration',
    type: 'histogram',
    unit: 's',
    pair: { key: 'job_id', start: { event: 'started' }, end: { event: 'completed' }, active: 'jobs.active', ...pair },
    ...extra,
  });

  it('records the time between a start and its end, and counts open pairs', () => {
    const t = setup([pairMetric()]);
    expect(series(t.store, 'jobs.active')).toEqual([{ attributes: {}, value: 0 }]);
    t.map({ event: 'started', job_id: 'a' }, 10_000);
    t.map({ event: 'started', job_id: 'b' }, 11_000);
    expect(series(t.store, 'jobs.active')).toEqual([{ attributes: {}, value: 2 }]);
    expect(t.mapper.openPairs()).toBe(2);
    t.map({ event: 'completed', job_id: 'b' }, 13_500);
    t.map({ event: 'completed', job_id: 'a' }, 15_000);
    expect(observations(t.store, 'job.duration')).toEqual([{ attributes: {}, count: 2, sum: 7.5 }]);
    expect(series(t.store, 'jobs.active')).toEqual([{ attributes: {}, value: 0 }]);
    expect(t.mapper.openPairs()).toBe(0);
    expect(t.refused).toEqual([]);
  });

  it('keeps open starts across a restart: saved by one mapper, opened again by the next of the same config', () => {
    const config = [pairMetric({ timeout: '1h', max_open: 2 }, { attributes: { operation: 'operation' } })];
    const first = setup(config);
    first.map({ event: 'started', job_id: 'old', operation: 'build' }, 1_000);
    first.map({ event: 'started', job_id: 'a', operation: 'build' }, 10_000);
    first.map({ event: 'started', job_id: 'b', operation: 'test' }, 11_000);
    first.advance(2_000);
    const saved = JSON.parse(JSON.stringify(first.mapper.saveState()));
    expect(Object.keys(saved)).toEqual(['job.duration pair job_id']);
    expect(saved['job.duration pair job_id']).toHaveLength(2);

    const next = setup(config);
    // Other metrics' pairs, and anything malformed, are left out.
    const restored = next.mapper.restoreState({ ...saved, 'gone pair job_id': [{ key: 'x', startMs: 1, ageMs: 0 }], 'job.duration pair job_id': [...saved['job.duration pair job_id'], { key: 7 }] });
    expect(restored).toBe(2);
    expect(series(next.store, 'jobs.active')).toEqual([{ attributes: {}, value: 2 }]);
    next.map({ event: 'completed', job_id: 'a' }, 14_000);
    next.map({ event: 'completed', job_id: 'b', operation: 'test' }, 16_000);
    expect(observations(next.store, 'job.duration')).toEqual([
      { attributes: { operation: 'build' }, count: 1, sum: 4 },
      { attributes: { operation: 'test' }, count: 1, sum: 5 },
    ]);
    expect(next.refused).toEqual([]);
  });

  it('leaves out saved starts past their timeout, counting the time they were open before', () => {
    const config = [pairMetric({ timeout: '10s' })];
    const next = setup(config);
    const restored = next.mapper.restoreState({ 'job.duration pair job_id': [{ key: 'stale', startMs: 0, ageMs: 10_000 }, { key: 'fresh', startMs: 0, ageMs: 9_000 }] });
    expect(restored).toBe(1);
    next.advance(1_000);
    next.mapper.refresh();
    expect(next.mapper.openPairs()).toBe(0);
    expect(next.refused).toEqual(['pair_expired']);
  });

  it('takes attributes from the end record, and those it lacks from the start record', () => {
    const t = setup([pairMetric({}, { attributes: { operation: 'operation', status: 'status' } })]);
    t.map({ event: 'started', job_id: 'a', operation: 'inspect', status: 'running' }, 0);
    t.map({ event: 'completed', job_id: 'a', status: 'success' }, 2_000);
    expect(observations(t.store, 'job.duration')).toEqual([{ attributes: { operation: 'inspect', status: 'success' }, count: 1, sum: 2 }]);
  });

  it('counts an end without a start and records nothing for it', () => {
    const t = setup([pairMetric()]);
    t.map({ event: 'completed', job_id: 'ghost' });
    expect(t.refused).toEqual(['unmatched_end']);
    expect(observations(t.store, 'job.duration')).toEqual([]);
  });

  it('restarts a key started again: the newer start counts, the open count does not grow', () => {
    const t = setup([pairMetric()]);
    t.map({ event: 'started', job_id: 'a' }, 0);
    t.map({ event: 'started', job_id: 'a' }, 5_000);
    expect(t.refused).toEqual(['pair_restarted']);
    expect(series(t.store, 'jobs.active')).toEqual([{ attributes: {}, value: 1 }]);
    t.map({ event: 'completed', job_id: 'a' }, 6_000);
    expect(observations(t.store, 'job.duration')).toEqual([{ attributes: {}, count: 1, sum: 1 }]);
  });

  it('expires open starts older than the timeout, on refresh and when a new start arrives', () => {
    const t = setup([pairMetric({ timeout: '1h' })]);
    t.map({ event: 'started', job_id: 'a' });
    t.advance(30 * 60_000);
    t.map({ event: 'started', job_id: 'b' });
    t.advance(30 * 60_000);
    t.mapper.refresh();
    expect(t.refused).toEqual(['pair_expired']);
    expect(t.mapper.openPairs()).toBe(1);
    t.advance(30 * 60_000);
    t.map({ event: 'started', job_id: 'c' });
    expect(t.refused).toEqual(['pair_expired', 'pair_expired']);
    expect(series(t.store, 'jobs.active')).toEqual([{ attributes: {}, value: 1 }]);
    // The expired job's end comes too late to be paired.
    t.map({ event: 'completed', job_id: 'a' });
    expect(t.refused.at(-1)).toBe('unmatched_end');
  });

  it('measures the timeout from when a start was seen, not from its record time', () => {
    const t = setup([pairMetric({ timeout: '1h' })]);
    // A backlog read at start-up: old record times, seen now.
    t.map({ event: 'started', job_id: 'a' }, t.now - 5 * 3_600_000);
    t.mapper.refresh();
    t.map({ event: 'completed', job_id: 'a' }, t.now - 4 * 3_600_000);
    expect(t.refused).toEqual([]);
    expect(observations(t.store, 'job.duration')).toEqual([{ attributes: {}, count: 1, sum: 3600 }]);
  });

  it('evicts the oldest open start when the table is full', () => {
    const t = setup([pairMetric({ max_open: 3 })]);
    for (const job_id of ['a', 'b', 'c', 'd', 'e']) t.map({ event: 'started', job_id });
    expect(t.refused).toEqual(['pair_evicted', 'pair_evicted']);
    expect(t.mapper.openPairs()).toBe(3);
    expect(series(t.store, 'jobs.active')).toEqual([{ attributes: {}, value: 3 }]);
    t.map({ event: 'completed', job_id: 'a' });
    t.map({ event: 'completed', job_id: 'c' });
    expect(t.refused).toEqual(['pair_evicted', 'pair_evicted', 'unmatched_end']);
    expect(observations(t.store, 'job.duration')[0].count).toBe(1);
  });

  it('refuses an end timed before its start, and a start or end without a key', () => {
    const t = setup([pairMetric()]);
    t.map({ event: 'started', job_id: 'a' }, 10_000);
    t.map({ event: 'completed', job_id: 'a' }, 9_000);
    t.map({ event: 'started' });
    t.map({ event: 'completed' });
    expect(t.refused).toEqual(['negative_duration', 'missing_field', 'missing_field']);
    expect(t.mapper.openPairs()).toBe(0);
    expect(observations(t.store, 'job.duration')).toEqual([]);
  });

  it('feeds a counter of busy seconds and a gauge of the last duration from pairs too', () => {
    const t = setup([
      { name: 'busy', type: 'counter', unit: 's', pair: { key: 'id', start: { e: 'begin' }, end: { e: 'end' } } },
      { name: 'last', type: 'gauge', unit: 's', pair: { key: 'id', start: { e: 'begin' }, end: { e: 'end' } } },
    ]);
    t.map({ e: 'begin', id: '1' }, 0);
    t.map({ e: 'end', id: '1' }, 4_000);
    t.map({ e: 'begin', id: '2' }, 10_000);
    t.map({ e: 'end', id: '2' }, 11_000);
    expect(series(t.store, 'busy')).toEqual([{ attributes: {}, value: 5 }]);
    expect(series(t.store, 'last')).toEqual([{ attributes: {}, value: 1 }]);
  });
});
