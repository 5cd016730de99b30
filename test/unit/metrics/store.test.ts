import { describe, expect, it } from 'vitest';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { MetricStore, OVERFLOW_ATTRIBUTES } from '../../../src/metrics/store.js';
import { ViewSet } from '../../../src/metrics/views.js';
import { metric, series } from '../../support/metric-sink.js';

describe('MetricStore', () => {
  it('exports counters as monotonic cumulative sums and up-down counters as non-monotonic', () => {
    const store = new MetricStore({ scope: 'test' });
    store.counter('jobs', { unit: '{jobs}' }).add(2, { status: 'ok' });
    store.counter('jobs').add(3, { status: 'ok' });
    store.upDownCounter('active').add(-1);
    const jobs = metric(store, 'jobs')!;
    expect(jobs.dataPointType).toBe(DataPointType.SUM);
    expect(jobs.dataPointType === DataPointType.SUM && jobs.isMonotonic).toBe(true);
    expect(jobs.descriptor.unit).toBe('{jobs}');
    expect(series(store, 'jobs')).toEqual([{ attributes: { status: 'ok' }, value: 5 }]);
    const active = metric(store, 'active')!;
    expect(active.dataPointType === DataPointType.SUM && active.isMonotonic).toBe(false);
    expect(series(store, 'active')).toEqual([{ attributes: {}, value: -1 }]);
  });

  it('gives a set counter the start its source names, and a new one when the source restarted', () => {
    let now = 1_000_000;
    const store = new MetricStore({ scope: 'test', now: () => now });
    const commands = store.counter('commands');
    commands.set(500, {}, 900_000);
    const start = () => {
      const data = metric(store, 'commands')!;
      const point = data.dataPoints[0];
      return point.startTime[0] * 1000 + point.startTime[1] / 1e6;
    };
    expect(start()).toBe(900_000);
    now += 10_000;
    commands.set(600, {}, 900_000); // same source run: the start stays
    expect(start()).toBe(900_000);
    commands.set(3, {}, 1_009_000); // the server restarted: its counts begin anew there
    expect(start()).toBe(1_009_000);
    expect(series(store, 'commands')).toEqual([{ attributes: {}, value: 3 }]);
    commands.set(4); // without a start, the series keeps the one it has
    expect(start()).toBe(1_009_000);
  });

  it('sweeps every instrument but those it is told to keep', () => {
    const store = new MetricStore({ scope: 'test' });
    const mark = store.mark();
    store.gauge('info').set(1);
    store.histogram('ping').record(0.001);
    const next = store.mark();
    store.sweep(next, new Set(['ping']));
    expect(series(store, 'info')).toEqual([]);
    expect(metric(store, 'ping')?.dataPoints).toHaveLength(1);
    store.sweep(next);
    expect(metric(store, 'ping')).toBeUndefined();
    expect(mark).toBeLessThan(next);
  });

  it('keys series by attribute content, not by key order or object identity', () => {
    const store = new MetricStore({ scope: 'test' });
    const c = store.counter('c');
    c.add(1, { a: '1', b: '2' });
    c.add(1, { b: '2', a: '1' });
    c.add(1, { a: 1, b: '2' }); // number 1 is not string "1"
    expect(series(store, 'c')).toHaveLength(2);
  });

  it('copies attributes, so a caller mutating its object does not rewrite the series', () => {
    const store = new MetricStore({ scope: 'test' });
    const attrs: Record<string, string> = { status: 'ok' };
    store.counter('c').add(1, attrs);
    attrs.status = 'changed';
    expect(series(store, 'c')).toEqual([{ attributes: { status: 'ok' }, value: 1 }]);
  });

  it('removes a series so the next collection no longer shows it', () => {
    const store = new MetricStore({ scope: 'test' });
    const g = store.gauge('if.up');
    g.set(1, { device: 'eth0' });
    g.set(1, { device: 'eth1' });
    g.remove({ device: 'eth0' });
    expect(series(store, 'if.up')).toEqual([{ attributes: { device: 'eth1' }, value: 1 }]);
    g.remove({ device: 'eth1' });
    expect(metric(store, 'if.up')).toBeUndefined();
  });

  it('sweeps every series not written since the mark', () => {
    const store = new MetricStore({ scope: 'test' });
    const bytes = store.counter('net.io');
    bytes.set(10, { device: 'a' });
    bytes.set(20, { device: 'b' });
    const mark = store.mark();
    bytes.set(11, { device: 'a' });
    store.sweep(mark);
    expect(series(store, 'net.io')).toEqual([{ attributes: { device: 'a' }, value: 11 }]);
  });

  it('restarts a removed series from zero with a new start time', () => {
    let now = 1_000;
    const store = new MetricStore({ scope: 'test', now: () => now });
    const c = store.counter('c');
    c.add(5, { k: 'v' });
    c.remove({ k: 'v' });
    now = 2_000;
    c.add(1, { k: 'v' });
    const point = metric(store, 'c')!.dataPoints[0];
    expect(point.value).toBe(1);
    expect(point.startTime).toEqual([2, 0]);
  });

  it('writes a removed or swept series afresh when the same frozen attributes object comes again', () => {
    const store = new MetricStore({ scope: 'test' });
    const c = store.counter('c');
    const attributes = Object.freeze({ k: 'v' });
    c.add(5, attributes);
    c.add(1, attributes);
    expect(series(store, 'c')).toEqual([{ attributes: { k: 'v' }, value: 6 }]);
    c.remove({ k: 'v' });
    c.add(1, attributes);
    expect(series(store, 'c')).toEqual([{ attributes: { k: 'v' }, value: 1 }]);
    const mark = store.mark();
    store.sweep(mark);
    expect(series(store, 'c')).toEqual([]);
    c.add(2, attributes);
    expect(series(store, 'c')).toEqual([{ attributes: { k: 'v' }, value: 2 }]);
  });

  it('folds a frozen attributes object past the series limit on every write, not only its first', () => {
    const folded: string[] = [];
    const store = new MetricStore({ scope: 'test', views: new ViewSet([{ instrument: 'c', seriesLimit: 1 }]), onFold: (name) => folded.push(name) });
    const c = store.counter('c');
    c.add(1, Object.freeze({ id: 'kept' }));
    const extra = Object.freeze({ id: 'extra' });
    for (let i = 0; i < 3; i++) c.add(1, extra);
    expect(folded).toHaveLength(3);
    expect(series(store, 'c')).toContainEqual({ attributes: OVERFLOW_ATTRIBUTES, value: 3 });
  });

  it('bounds series for the life of the process and folds the rest into one overflow series', () => {
    const folded: string[] = [];
    const store = new MetricStore({
      scope: 'test',
      views: new ViewSet([{ instrument: 'c', seriesLimit: 3 }]),
      onFold: (name) => folded.push(name),
    });
    const c = store.counter('c');
    for (let i = 0; i < 10; i++) c.add(1, { id: String(i) });
    // A later collection does not reset the bound (the SDK's limit is per collection).
    store.collect();
    for (let i = 10; i < 20; i++) c.add(1, { id: String(i) });
    const all = series(store, 'c');
    expect(all).toHaveLength(4);
    expect(all.at(-1)).toEqual({ attributes: OVERFLOW_ATTRIBUTES, value: 17 });
    expect(folded).toHaveLength(17);
    expect(store.seriesCounts().get('c')).toBe(4);
    // Removing a series frees a slot for a new one.
    c.remove({ id: '0' });
    c.add(1, { id: 'new' });
    expect(series(store, 'c').map((p) => p.attributes)).toContainEqual({ id: 'new' });
  });

  it('records histograms into explicit buckets with sum, count, min and max', () => {
    const store = new MetricStore({ scope: 'test' });
    const h = store.histogram('d', { unit: 's', buckets: [1, 2, 4] });
    for (const v of [0.5, 1, 1.5, 3, 100]) h.record(v);
    expect(series(store, 'd')[0].value).toEqual({
      buckets: { boundaries: [1, 2, 4], counts: [2, 1, 1, 1] },
      sum: 106,
      count: 5,
      min: 0.5,
      max: 100,
    });
  });

  it('refuses one name used for two instrument kinds', () => {
    const store = new MetricStore({ scope: 'r' });
    store.counter('x');
    expect(() => store.gauge('x')).toThrow('instrument "x" of r is already a counter, not a gauge');
  });
});

describe('views', () => {
  it('rename, describe, rebucket and drop, matched by instrument and receiver globs', () => {
    const views = new ViewSet([
      { instrument: 'runner.job.duration', name: 'github_runner_job_duration', buckets: [1, 2048] },
      { instrument: 'noise.*', drop: true },
      { instrument: 'jobs', receiver: 'joblog/*', description: 'Jobs seen' },
    ]);
    const a = new MetricStore({ scope: 'joblog/runner', views });
    a.histogram('runner.job.duration', { buckets: [5] }).record(3);
    a.counter('noise.level').add(1);
    a.counter('jobs').add(1);
    const names = a.collect().metrics.map((m) => m.descriptor.name);
    expect(names).toEqual(['github_runner_job_duration', 'jobs']);
    expect(series(a, 'github_runner_job_duration')[0].value).toMatchObject({ buckets: { boundaries: [1, 2048], counts: [0, 1, 0] } });
    expect(metric(a, 'jobs')!.descriptor.description).toBe('Jobs seen');
    const b = new MetricStore({ scope: 'redis', views });
    b.counter('jobs', { description: 'own' }).add(1);
    expect(metric(b, 'jobs')!.descriptor.description).toBe('own');
  });

  it('allow and deny attribute keys, merging the series that become equal', () => {
    const views = new ViewSet([
      { instrument: 'allowed', attributes: { allow: ['status'] } },
      { instrument: 'denied', attributes: { deny: ['job_id'] } },
    ]);
    const store = new MetricStore({ scope: 'r', views });
    store.counter('allowed').add(1, { status: 'ok', job_id: '1' });
    store.counter('allowed').add(1, { status: 'ok', job_id: '2' });
    store.counter('denied').add(1, { status: 'ok', job_id: '1', op: 'x' });
    expect(series(store, 'allowed')).toEqual([{ attributes: { status: 'ok' }, value: 2 }]);
    expect(series(store, 'denied')).toEqual([{ attributes: { status: 'ok', op: 'x' }, value: 1 }]);
  });

  it('sums cumulative values set by sources a filter merged, and drops a removed source', () => {
    const views = new ViewSet([{ instrument: 'cpu.time', attributes: { allow: ['state'] } }]);
    const store = new MetricStore({ scope: 'host', views });
    const cpu = store.counter('cpu.time');
    cpu.set(10, { cpu: '0', state: 'user' });
    cpu.set(20, { cpu: '1', state: 'user' });
    cpu.set(12, { cpu: '0', state: 'user' }); // a later reading replaces, not adds
    expect(series(store, 'cpu.time')).toEqual([{ attributes: { state: 'user' }, value: 32 }]);
    cpu.remove({ cpu: '1', state: 'user' });
    expect(series(store, 'cpu.time')).toEqual([{ attributes: { state: 'user' }, value: 12 }]);
  });
});
