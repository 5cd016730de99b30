// Cost of one hostmetrics scrape on this machine: all scrapers together and each alone,
// median and p99 of 200 scrapes, series produced, and heap growth over the run.
// Run alone: `npx tsc -p tsconfig.build.json && node dist/bench/hostmetrics.js`.
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ReceiverSettings } from '../src/component/types.js';
import { MetricStore } from '../src/metrics/store.js';
import { configSchema, DEFAULT_SCRAPERS, type ScraperName } from '../src/receivers/hostmetrics/config.js';
import { HostmetricsReceiver } from '../src/receivers/hostmetrics/receiver.js';
import { benchSettings } from './support.js';

export type BenchRow = Record<string, string | number>;

function receiverFor(scrapers: readonly ScraperName[]): { receiver: HostmetricsReceiver; meter: MetricStore } {
  const meter = new MetricStore({ scope: 'hostmetrics' });
  const settings: ReceiverSettings = { ...benchSettings('hostmetrics'), meter };
  return { receiver: new HostmetricsReceiver(settings, configSchema.parse({ scrapers })), meter };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** A full collection cycle forced between runs, so heap figures are live data, not garbage. */
function garbageCollector(): () => void {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function time(scrapers: readonly ScraperName[], scrapes: number): Promise<BenchRow> {
  const { receiver, meter } = receiverFor(scrapers);
  for (let i = 0; i < 10; i++) await receiver.scrape();
  const durations: number[] = [];
  for (let i = 0; i < scrapes; i++) {
    const started = performance.now();
    const result = await receiver.scrape();
    durations.push(performance.now() - started);
    if (result.failed.size > 0) throw new Error(`scrape failed: ${[...result.failed.values()].join('; ')}`);
  }
  durations.sort((a, b) => a - b);
  let series = 0;
  for (const count of meter.seriesCounts().values()) series += count;
  await receiver.shutdown();
  return {
    scrapers: scrapers.length === DEFAULT_SCRAPERS.length ? 'all' : scrapers.join(','),
    scrapes,
    median_ms: Number(percentile(durations, 50).toFixed(3)),
    p99_ms: Number(percentile(durations, 99).toFixed(3)),
    series,
  };
}

async function heapGrowth(scrapes: number): Promise<BenchRow> {
  const gc = garbageCollector();
  const { receiver } = receiverFor(DEFAULT_SCRAPERS);
  for (let i = 0; i < 10; i++) await receiver.scrape();
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < scrapes; i++) await receiver.scrape();
  gc();
  const after = process.memoryUsage().heapUsed;
  await receiver.shutdown();
  return { scrapers: 'all', scrapes, heap_growth_kib: Math.round((after - before) / 1024) };
}

export async function runHostmetricsBench(scrapes = 200): Promise<BenchRow[]> {
  // The process scraper needs processes to pick: bench/process.ts measures it.
  const rows: BenchRow[] = [await time(DEFAULT_SCRAPERS, scrapes)];
  for (const name of DEFAULT_SCRAPERS) rows.push(await time([name], scrapes));
  rows.push(await heapGrowth(scrapes));
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(await runHostmetricsBench());
}
