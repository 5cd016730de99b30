// Prometheus serialisation: our serializer against the stock PrometheusSerializer of
// @opentelemetry/exporter-prometheus, on the same collected data.
//
//   npx tsc -p tsconfig.build.json && node dist/bench/serializer.js
//
// The data comes from the SDK itself (MeterProvider + a pull reader), with frozen attribute
// objects reused across collections as the agent's metric store does. Times are one
// serialisation of everything a scrape returns; "stall" is the longest gap seen by a 1 ms
// interval timer while one serialisation of the largest case runs.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { Attributes } from '@opentelemetry/api';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { serialize } from '../src/exporters/prometheus/serializer.js';

export interface Row {
  shape: 'counter' | 'histogram';
  series: number;
  oursRuns: number;
  stockRuns: number;
  oursMedianMs: number;
  oursP99Ms: number;
  stockMedianMs: number;
  stockP99Ms: number;
  /** Stock median / ours median. */
  speedup: number;
  oursBytes: number;
  stockBytes: number;
  /** Longest event-loop stall during one serialisation (measured on the largest cases only). */
  oursStallMs?: number;
  stockStallMs?: number;
}

interface Case {
  shape: Row['shape'];
  series: number;
  oursRuns: number;
  stockRuns: number;
  measureStall: boolean;
}

// The stock serializer needs ~0.4 s per 100k counter series and ~0.7 s per 10k histogram
// series, so its large cases get fewer runs to keep the whole bench within minutes.
const CASES: Case[] = [
  { shape: 'counter', series: 1_000, oursRuns: 200, stockRuns: 200, measureStall: false },
  { shape: 'counter', series: 10_000, oursRuns: 200, stockRuns: 200, measureStall: false },
  { shape: 'counter', series: 100_000, oursRuns: 200, stockRuns: 30, measureStall: true },
  { shape: 'histogram', series: 1_000, oursRuns: 200, stockRuns: 200, measureStall: false },
  { shape: 'histogram', series: 10_000, oursRuns: 200, stockRuns: 30, measureStall: true },
  { shape: 'histogram', series: 100_000, oursRuns: 50, stockRuns: 5, measureStall: true },
];

const METRICS_PER_SHAPE = 10;
// OpenTelemetry's default explicit bucket boundaries: 16 buckets per series.
const BOUNDARIES = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

class PullReader extends MetricReader {
  constructor() {
    super({ cardinalitySelector: () => 1_000_000 });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** Attribute sets shaped like a host agent's: device, direction, state and a host label. */
function attributeSets(count: number): Attributes[] {
  const sets: Attributes[] = [];
  for (let i = 0; i < count; i++) {
    sets.push(
      Object.freeze({
        'host.name': `node-${i % 7}`,
        device: `eth${Math.floor(i / 8)}`,
        'network.io.direction': i % 2 === 0 ? 'receive' : 'transmit',
        state: ['ok', 'dropped', 'errors', 'retrans'][Math.floor(i / 2) % 4],
      }),
    );
  }
  return sets;
}

async function collect(shape: Row['shape'], series: number): Promise<ResourceMetrics> {
  const reader = new PullReader();
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'otel-agent', 'host.name': 'bench-host' }),
    readers: [reader],
  });
  const perMetric = Math.ceil(series / METRICS_PER_SHAPE);
  const sets = attributeSets(perMetric);
  for (let m = 0; m < METRICS_PER_SHAPE; m++) {
    const meter = provider.getMeter(`receiver/${m % 3}`, '1.0.0');
    if (shape === 'counter') {
      const counter = meter.createCounter(`system.network.packets.m${m}`, { unit: '{packets}', description: 'Packets seen' });
      for (let i = 0; i < perMetric; i++) counter.add(i * 3 + 0.5 * (i % 2), sets[i]);
    } else {
      const histogram = meter.createHistogram(`http.server.request.duration.m${m}`, {
        unit: 'ms',
        description: 'Request duration',
        advice: { explicitBucketBoundaries: BOUNDARIES },
      });
      for (let i = 0; i < perMetric; i++) {
        for (let r = 0; r < 5; r++) histogram.record((i * 37 + r * 911) % 12000, sets[i]);
      }
    }
  }
  const { resourceMetrics, errors } = await reader.collect();
  if (errors.length > 0) throw new Error(`collection failed: ${String(errors[0])}`);
  await provider.shutdown();
  return resourceMetrics;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function timeRuns(runs: number, run: () => Promise<unknown> | unknown): Promise<{ median: number; p99: number }> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { median: percentile(times, 50), p99: percentile(times, 99) };
}

/** Longest gap between ticks of a 1 ms interval timer while `work` runs. */
async function longestStall(work: () => Promise<unknown> | unknown): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  // Let the ticker start before the work does.
  await new Promise((resolve) => setTimeout(resolve, 20));
  last = performance.now();
  longest = 0;
  await new Promise<void>((resolve, reject) => {
    setImmediate(() => {
      Promise.resolve(work()).then(() => resolve(), reject);
    });
  });
  await new Promise((resolve) => setTimeout(resolve, 5));
  clearInterval(ticker);
  return longest;
}

/** `onRow` sees each row as soon as it is measured (the whole run takes minutes). */
export async function runSerializerBench(onRow?: (row: Row) => void): Promise<Row[]> {
  const rows: Row[] = [];
  const stock = new PrometheusSerializer();
  for (const c of CASES) {
    const data = await collect(c.shape, c.series);
    const stockSerialize = () => stock.serialize(data);
    const oursSerialize = () => serialize([data]);
    // Warm both up, and check that they see the same number of series.
    const first = await oursSerialize();
    if (first.series !== c.series + 1) {
      throw new Error(`expected ${c.series + 1} series (with target_info), serialised ${first.series}`);
    }
    const stockBody = stockSerialize();
    for (let i = 0; i < 3; i++) await oursSerialize();
    // The slow stock cases are warm enough after the call above.
    if (c.stockRuns >= 100) for (let i = 0; i < 3; i++) stockSerialize();
    const ours = await timeRuns(c.oursRuns, oursSerialize);
    const theirs = await timeRuns(c.stockRuns, stockSerialize);
    const row: Row = {
      shape: c.shape,
      series: c.series,
      oursRuns: c.oursRuns,
      stockRuns: c.stockRuns,
      oursMedianMs: ours.median,
      oursP99Ms: ours.p99,
      stockMedianMs: theirs.median,
      stockP99Ms: theirs.p99,
      speedup: theirs.median / ours.median,
      oursBytes: Buffer.byteLength(first.body),
      stockBytes: Buffer.byteLength(stockBody),
    };
    if (c.measureStall) {
      row.oursStallMs = await longestStall(oursSerialize);
      row.stockStallMs = await longestStall(stockSerialize);
    }
    rows.push(row);
    onRow?.(row);
  }
  return rows;
}

export function formatSerializerTable(rows: Row[]): string {
  const header = '| shape | series | runs ours/stock | ours median / p99 ms | stock median / p99 ms | speedup | bytes ours / stock | stall ours / stock ms |';
  const lines = [header, '|---|---:|---:|---:|---:|---:|---:|---:|'];
  const ms = (value: number) => value.toFixed(value < 10 ? 2 : 1);
  for (const r of rows) {
    const stall = r.oursStallMs === undefined ? '' : `${ms(r.oursStallMs)} / ${ms(r.stockStallMs ?? 0)}`;
    lines.push(
      `| ${r.shape} | ${r.series} | ${r.oursRuns}/${r.stockRuns} | ${ms(r.oursMedianMs)} / ${ms(r.oursP99Ms)} | ` +
        `${ms(r.stockMedianMs)} / ${ms(r.stockP99Ms)} | ${r.speedup.toFixed(1)}x | ${r.oursBytes} / ${r.stockBytes} | ${stall} |`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`node ${process.version}, serializing SDK-collected data`);
  const rows = await runSerializerBench((row) => console.error(formatSerializerTable([row]).split('\n')[2]));
  console.log(formatSerializerTable(rows));
}
