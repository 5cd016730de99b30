// What each processor adds to a collection: 100,000 counter series (10 metrics of 10,000,
// four attributes each) collected from a metric store, then run through each processor as a
// pipeline runs it, every collection. The first run fills the processors' memories (the
// attributes processor's output per input attributes object, the globs' answer per metric
// name); later runs are what a steady scrape costs.
//
// Run alone: `npx tsc -p tsconfig.build.json && node dist/bench/processors.js`.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Attributes, Processor, ProcessorFactory } from '../src/component/types.js';
import { PROCESSORS } from '../src/components.js';
import { MetricStore } from '../src/metrics/store.js';
import { resourceFromAttributes } from '../src/metrics/otel.js';
import { ViewSet } from '../src/metrics/views.js';
import { benchSettings, formatTable, summarise } from './support.js';

const METRICS = 10;
const SERIES_PER_METRIC = 10_000;
const RUNS = 30;

/** Each processor type with the config an operator would write for it. */
const CONFIGS: Array<{ label: string; type: string; config: unknown }> = [
  { label: 'attributes: upsert site on every point', type: 'attributes', config: { actions: [{ key: 'site', value: 'dc1', action: 'upsert' }] } },
  { label: 'attributes: insert a key every point has', type: 'attributes', config: { actions: [{ key: 'state', value: 'x', action: 'insert' }] } },
  { label: 'attributes: on 1 metric of 10 (glob)', type: 'attributes', config: { metrics: ['bench.m0'], actions: [{ key: 'site', value: 'dc1', action: 'upsert' }] } },
  { label: 'filter: drop 1 metric of 10 (glob)', type: 'filter', config: { metrics: { exclude: ['bench.m9'] } } },
  { label: 'resource: upsert an attribute', type: 'resource', config: { attributes: [{ key: 'deployment.environment', value: 'production', action: 'upsert' }] } },
];

export interface ProcessorBenchRow {
  processor: string;
  firstMs: number;
  medianMs: number;
  p99Ms: number;
  points: number;
}

function collected(): ResourceMetrics {
  const store = new MetricStore({ scope: 'bench', views: new ViewSet([{ instrument: '*', seriesLimit: SERIES_PER_METRIC }]) });
  const states = ['ok', 'dropped', 'errors', 'retrans'];
  const sets: Attributes[] = Array.from({ length: SERIES_PER_METRIC }, (_, i) =>
    Object.freeze({ 'host.name': `node-${i % 7}`, device: `eth${Math.floor(i / 8)}`, direction: i % 2 === 0 ? 'receive' : 'transmit', state: states[i % 4] }),
  );
  for (let m = 0; m < METRICS; m++) {
    const counter = store.counter(`bench.m${m}`);
    for (const attributes of sets) counter.add(1, attributes);
  }
  // The store hands out the same attributes objects on every collection, as here.
  return { resource: resourceFromAttributes({ 'service.name': 'otel-agent' }), scopeMetrics: [store.collect()] };
}

function pointsOf(metrics: ResourceMetrics): number {
  let points = 0;
  for (const scope of metrics.scopeMetrics) for (const metric of scope.metrics) points += metric.dataPoints.length;
  return points;
}

export async function runProcessorsBench(): Promise<ProcessorBenchRow[]> {
  const input = collected();
  const rows: ProcessorBenchRow[] = [];
  for (const { label, type, config } of CONFIGS) {
    const factory = PROCESSORS.find((candidate) => candidate.type === type) as ProcessorFactory;
    const settings = benchSettings(type, 'processor');
    const processor: Processor = (await factory.load()).create(settings, factory.configSchema.parse(config));
    const times: number[] = [];
    let output = input;
    for (let run = 0; run < RUNS; run++) {
      const started = performance.now();
      output = processor.process(input);
      times.push(performance.now() - started);
    }
    const steady = summarise(times.slice(1));
    rows.push({ processor: label, firstMs: times[0], medianMs: steady.median, p99Ms: steady.p99, points: pointsOf(output) });
  }
  return rows;
}

export function formatProcessorsTable(rows: ProcessorBenchRow[]): string {
  return formatTable(
    `Processors: one collection of ${METRICS * SERIES_PER_METRIC} counter points through each, ${RUNS} runs (the first fills their memories)`,
    ['processor', 'first run ms', 'median ms', 'p99 ms', 'points out'],
    rows.map((row) => [row.processor, row.firstMs, row.medianMs, row.p99Ms, row.points]),
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatProcessorsTable(await runProcessorsBench()));
}
