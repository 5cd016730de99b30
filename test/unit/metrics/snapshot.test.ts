// A metric store's values saved and brought back (what joblog writes with its offsets):
// every kind, with start times, bounded by the series limit, and only into instruments that
// still exist with the same kind, exported name and buckets.
import { describe, expect, it } from 'vitest';
import type { DataPoint, Histogram as HistogramPoint } from '@opentelemetry/sdk-metrics';
import type { MeterSnapshot } from '../../../src/component/types.js';
import { MetricStore, OVERFLOW_ATTRIBUTES } from '../../../src/metrics/store.js';
import { ViewSet } from '../../../src/metrics/views.js';

function storeAt(ms: number, views?: ViewSet): MetricStore {
  return new MetricStore({ scope: 'joblog/test', now: () => ms, ...(views && { views }) });
}

function dataPoints(store: MetricStore, name: string): DataPoint<unknown>[] {
  return (store.collect().metrics.find((m) => m.descriptor.name === name)?.dataPoints ?? []) as DataPoint<unknown>[];
}

/** A JSON round trip, as through the state file. */
const throughFile = (snapshot: MeterSnapshot): unknown => JSON.parse(JSON.stringify(snapshot));

function instruments(store: MetricStore) {
  return {
    jobs: store.counter('jobs'),
    queue: store.upDownCounter('queue'),
    last: store.gauge('last'),
    duration: store.histogram('duration', { buckets: [1, 10] }),
  };
}

describe('MetricStore snapshot and restore', () => {
  it('brings back every kind of series with its value and start time', () => {
    const first = storeAt(1_000_000);
    const a = instruments(first);
    a.jobs.add(5, { status: 'ok' });
    a.jobs.add(2, { status: 'failed' });
    a.queue.add(3);
    a.queue.add(-1);
    a.last.set(42.5, { host: 'a' });
    a.duration.record(0.5);
    a.duration.record(20);
    const saved = throughFile(first.snapshot());

    const second = storeAt(2_000_000);
    const b = instruments(second);
    b.jobs.add(0, { status: 'ok' }); // the mapping's initial series, at 0 from now
    expect(second.restore(saved)).toEqual({ series: 5, dropped: 0 });
    b.jobs.add(1, { status: 'ok' });
    for (const name of ['jobs', 'queue', 'last', 'duration']) {
      expect(dataPoints(second, name).map((p) => [p.attributes, p.value, p.startTime])).toEqual(
        dataPoints(first, name).map((p) => [p.attributes, name === 'jobs' && p.attributes.status === 'ok' ? 6 : p.value, [1000, 0]]),
      );
    }
    const histogram = dataPoints(second, 'duration')[0].value as HistogramPoint;
    expect(histogram).toMatchObject({ count: 2, sum: 20.5, min: 0.5, max: 20, buckets: { boundaries: [1, 10], counts: [1, 0, 1] } });
  });

  it('leaves out the instruments asked to, and those a view drops', () => {
    const store = storeAt(1000, new ViewSet([{ instrument: 'noise', drop: true }]));
    store.counter('jobs').add(1);
    store.upDownCounter('pairs.open').add(2);
    store.counter('noise').add(3);
    expect(store.snapshot({ exclude: new Set(['pairs.open']) }).instruments.map((i) => i.instrument)).toEqual(['jobs']);
  });

  it('drops values of instruments gone, or of another kind, name or buckets now', () => {
    const first = storeAt(1000);
    first.counter('jobs').add(1);
    first.counter('gone').add(1);
    first.counter('was.counter').add(1);
    first.histogram('latency', { buckets: [1, 2] }).record(1);
    const saved = throughFile(first.snapshot());

    const second = storeAt(2000, new ViewSet([{ instrument: 'jobs', name: 'jobs.renamed' }]));
    second.counter('jobs');
    second.gauge('was.counter');
    second.histogram('latency', { buckets: [1, 5] });
    expect(second.restore(saved)).toEqual({ series: 0, dropped: 4 });
    expect(second.collect().metrics).toEqual([]);
  });

  it('is bounded by the series limit: past a smaller limit sums fold into the overflow series, totals whole', () => {
    const first = storeAt(1000, new ViewSet([], 10));
    const jobs = first.counter('jobs');
    for (let i = 0; i < 12; i++) jobs.add(1, { job: `j${i}` });
    const saved = first.snapshot();
    // 10 series and the overflow one, never more.
    expect(saved.instruments[0].series).toHaveLength(11);
    expect(saved.instruments[0].series.at(-1)).toMatchObject({ overflow: true, value: 2 });

    const second = storeAt(2000, new ViewSet([], 4));
    second.counter('jobs');
    second.restore(throughFile(saved));
    const restored = dataPoints(second, 'jobs');
    expect(restored).toHaveLength(5);
    expect(restored.at(-1)!.attributes).toEqual(OVERFLOW_ATTRIBUTES);
    expect(restored.reduce((total, p) => total + (p.value as number), 0)).toBe(12);
  });

  it('runs restored attributes through the view’s attribute filter', () => {
    const first = storeAt(1000);
    first.counter('jobs').add(2, { status: 'ok', host: 'a' });
    const second = storeAt(2000, new ViewSet([{ instrument: 'jobs', attributes: { allow: ['status'] } }]));
    second.counter('jobs');
    second.restore(throughFile(first.snapshot()));
    expect(dataPoints(second, 'jobs').map((p) => [p.attributes, p.value])).toEqual([[{ status: 'ok' }, 2]]);
  });

  it('ignores what is not a snapshot, and series that are not valid, counting them', () => {
    const store = storeAt(1000);
    store.counter('jobs');
    store.histogram('h', { buckets: [1] });
    for (const junk of [undefined, null, 'x', { version: 2, instruments: [] }, { version: 1, instruments: 'x' }]) {
      expect(store.restore(junk)).toEqual({ series: 0, dropped: 0 });
    }
    const counts = store.restore({
      version: 1,
      instruments: [
        null,
        { instrument: 'jobs', kind: 'counter', name: 'jobs', series: [null, { attributes: { a: {} }, startMs: 1, value: 1 }, { attributes: {}, startMs: 'x', value: 1 }, { attributes: {}, startMs: 1, value: 3 }] },
        { instrument: 'h', kind: 'histogram', name: 'h', buckets: [1], series: [{ attributes: {}, startMs: 1, value: 1, counts: [1], sum: 1 }] },
      ],
    });
    expect(counts).toEqual({ series: 1, dropped: 4 });
    expect(dataPoints(store, 'jobs').map((p) => p.value)).toEqual([3]);
  });
});
