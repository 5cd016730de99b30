// End-to-end scrape cost: GET /metrics over loopback HTTP from the agent's own pieces (a
// MetricStore behind a PipelineSource, served by the real prometheus exporter) against the
// stock @opentelemetry/exporter-prometheus serving the same series built with SDK
// instruments. Both servers run in this process's main thread, so the event-loop stall a
// scrape causes is seen by the loop that serves it; the scraping client runs on a worker
// thread.
//
//   npm run bench -- scrape
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Attributes } from '@opentelemetry/api';
import { PrometheusExporter as StockPrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes as sdkResourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { DEFAULT_BUCKETS, MetricStore } from '../src/metrics/store.js';
import { ViewSet } from '../src/metrics/views.js';
import { serveStore } from './serve.js';
import { countSamples, formatTable, freePort, keepAliveAgent, percentile, scrape, sleep, summarise, type Cell } from './support.js';

export type Shape = 'counter' | 'histogram';

interface Case {
  shape: Shape;
  series: number;
  oursScrapes: number;
  /** Fewer where the stock exporter takes a second or more per scrape, to keep the run within minutes. */
  stockScrapes: number;
  /** Scrapes whose event-loop stall is measured, per side (0: not measured). */
  stallScrapes: number;
}

export const CASES: readonly Case[] = [
  { shape: 'counter', series: 1_000, oursScrapes: 200, stockScrapes: 200, stallScrapes: 0 },
  { shape: 'counter', series: 10_000, oursScrapes: 200, stockScrapes: 100, stallScrapes: 0 },
  { shape: 'counter', series: 100_000, oursScrapes: 200, stockScrapes: 10, stallScrapes: 10 },
  { shape: 'histogram', series: 1_000, oursScrapes: 200, stockScrapes: 100, stallScrapes: 0 },
  { shape: 'histogram', series: 10_000, oursScrapes: 200, stockScrapes: 5, stallScrapes: 10 },
];

/** The stock exporter's stall is measured on fewer scrapes: each takes seconds and stalls throughout. */
const STOCK_STALL_SCRAPES = 2;
/** Series are spread over this many metrics, as a receiver's would be. */
const METRICS = 10;
const RECORDS_PER_HISTOGRAM_SERIES = 5;
const RESOURCE = { 'service.name': 'otel-agent', 'host.name': 'bench-host' };

export interface Side {
  scrapes: number;
  medianMs: number;
  p99Ms: number;
  bytes: number;
  samples: number;
  /** Event-loop stall of each measured scrape (monitorEventLoopDelay max), ascending. */
  stallsMs: number[];
  /** Largest gap of a 1 ms ticker over the same scrapes. */
  tickerGapMs?: number;
}

export interface ScrapeRow {
  shape: Shape;
  series: number;
  ours: Side;
  stock: Side;
  /**
   * The same stall measurement with no scrape, over as long as one of ours takes: what the
   * machine itself does to the loop (other processes, timers), to read the stalls against.
   */
  idleStallMs?: number;
}

/** Four attributes, unique per index: host, device, direction and state. */
function attributeSets(count: number): Attributes[] {
  const states = ['ok', 'dropped', 'errors', 'retrans'];
  const sets: Attributes[] = [];
  for (let i = 0; i < count; i++) {
    sets.push({
      'host.name': `node-${i % 7}`,
      device: `eth${Math.floor(i / 8)}`,
      'network.io.direction': i % 2 === 0 ? 'receive' : 'transmit',
      state: states[Math.floor(i / 2) % 4],
    });
  }
  return sets;
}

/** The same measurements, written into whichever instruments `sink` makes. */
function fill(
  shape: Shape,
  series: number,
  sink: {
    counter(name: string): (value: number, attributes: Attributes) => void;
    histogram(name: string): (value: number, attributes: Attributes) => void;
  },
): void {
  const perMetric = Math.ceil(series / METRICS);
  const sets = attributeSets(perMetric);
  for (let m = 0; m < METRICS; m++) {
    if (shape === 'counter') {
      const add = sink.counter(`bench.network.packets.m${m}`);
      for (let i = 0; i < perMetric; i++) add(i * 3 + 1, sets[i]);
    } else {
      const record = sink.histogram(`bench.request.duration.m${m}`);
      for (let i = 0; i < perMetric; i++) {
        for (let r = 0; r < RECORDS_PER_HISTOGRAM_SERIES; r++) record((i * 37 + r * 911) % 12000, sets[i]);
      }
    }
  }
}

interface Server {
  port: number;
  close(): Promise<void>;
}

/** The agent's path: MetricStore -> PipelineSource -> prometheus exporter, on a loopback port. */
async function startOurs(shape: Shape, series: number): Promise<Server> {
  // A view lifts the per-metric series limit, as an operator's `series_limit` would.
  const store = new MetricStore({ scope: 'bench', views: new ViewSet([{ instrument: '*', seriesLimit: series }]) });
  fill(shape, series, {
    counter: (name) => {
      const counter = store.counter(name, { unit: '{packets}', description: 'Packets seen.', valueType: 'int' });
      return (value, attributes) => counter.add(value, attributes);
    },
    histogram: (name) => {
      const histogram = store.histogram(name, { unit: 'ms', description: 'Request duration.', buckets: DEFAULT_BUCKETS });
      return (value, attributes) => histogram.record(value, attributes);
    },
  });
  return serveStore(store, RESOURCE);
}

/** What a user would pick instead: SDK instruments read by the stock Prometheus exporter. */
async function startStock(shape: Shape, series: number): Promise<Server> {
  const port = await freePort();
  const exporter = new StockPrometheusExporter({ host: '127.0.0.1', port, preventServerStart: true });
  const provider = new MeterProvider({
    resource: sdkResourceFromAttributes(RESOURCE),
    readers: [exporter],
    // The SDK keeps 2000 series per metric unless told otherwise.
    views: [{ instrumentName: '*', aggregationCardinalityLimit: series + 1 }],
  });
  const meter = provider.getMeter('bench');
  fill(shape, series, {
    counter: (name) => {
      const counter = meter.createCounter(name, { unit: '{packets}', description: 'Packets seen.' });
      return (value, attributes) => counter.add(value, attributes);
    },
    histogram: (name) => {
      const histogram = meter.createHistogram(name, { unit: 'ms', description: 'Request duration.', advice: { explicitBucketBoundaries: [...DEFAULT_BUCKETS] } });
      return (value, attributes) => histogram.record(value, attributes);
    },
  });
  await exporter.startServer();
  return { port, close: () => provider.shutdown() };
}

/**
 * The longest the event loop went unserved while `work` ran: the max of a 1 ms-resolution
 * monitorEventLoopDelay histogram, and the largest gap between ticks of a 1 ms interval.
 */
async function stallDuring(work: () => Promise<unknown>): Promise<{ stallMs: number; tickerGapMs: number }> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let last = performance.now();
  let longestGap = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  }, 1);
  delay.enable();
  await sleep(20);
  delay.reset();
  last = performance.now();
  longestGap = 0;
  try {
    await work();
    // One more turn so a stall at the very end is seen by the ticker too.
    await sleep(2);
    return { stallMs: delay.max / 1e6, tickerGapMs: longestGap };
  } finally {
    delay.disable();
    clearInterval(ticker);
  }
}

interface ClientResult {
  durationsMs: number[];
  /** Size and sample lines of the last response. */
  bytes: number;
  samples: number;
}

type ClientReply = ClientResult | { error: string };

/**
 * The scraping side, on a worker thread: it has its own event loop, so reading a response
 * (tens of MB for the large cases) neither delays the server's loop nor counts as its stall,
 * as when Prometheus scrapes from another process.
 */
class ScrapeClient {
  private readonly worker: Worker;

  constructor(port: number) {
    // No inherited Node flags: the client needs none of the parent's.
    this.worker = new Worker(new URL(import.meta.url), { workerData: { scrapeClientPort: port }, execArgv: [] });
  }

  /** `count` scrapes, one after another; fails on any answer but 200. */
  async run(count: number): Promise<ClientResult> {
    const reply = new Promise<ClientReply>((resolve, reject) => {
      this.worker.once('message', resolve);
      this.worker.once('error', reject);
    });
    this.worker.postMessage(count);
    const result = await reply;
    this.worker.removeAllListeners('error');
    if ('error' in result) throw new Error(result.error);
    return result;
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

if (!isMainThread && typeof workerData?.scrapeClientPort === 'number') {
  const port: number = workerData.scrapeClientPort;
  const agent = keepAliveAgent();
  parentPort!.on('message', async (count: number) => {
    try {
      const durationsMs: number[] = [];
      let last: Buffer = Buffer.alloc(0);
      for (let i = 0; i < count; i++) {
        const reply = await scrape(port, '/metrics', agent);
        if (reply.status !== 200) throw new Error(`/metrics answered ${reply.status}: ${reply.body.toString('utf8', 0, 300)}`);
        durationsMs.push(reply.ms);
        last = reply.body;
      }
      parentPort!.postMessage({ durationsMs, bytes: last.length, samples: countSamples(last) } satisfies ClientReply);
    } catch (error) {
      parentPort!.postMessage({ error: (error as Error).message } satisfies ClientReply);
    }
  });
}

async function measure(server: Server, scrapes: number, stallScrapes: number, label: string): Promise<Side> {
  const client = new ScrapeClient(server.port);
  try {
    // Two warm-up scrapes: the first compiles the serialisation path and fills caches.
    const warmUp = await client.run(2);
    const { median, p99 } = summarise((await client.run(scrapes)).durationsMs);
    const side: Side = { scrapes, medianMs: median, p99Ms: p99, bytes: warmUp.bytes, samples: warmUp.samples, stallsMs: [] };
    for (let i = 0; i < stallScrapes; i++) {
      const { stallMs, tickerGapMs } = await stallDuring(() => client.run(1));
      side.stallsMs.push(stallMs);
      side.tickerGapMs = Math.max(side.tickerGapMs ?? 0, tickerGapMs);
    }
    side.stallsMs.sort((a, b) => a - b);
    return side;
  } catch (error) {
    throw new Error(`${label}: ${(error as Error).message}`);
  } finally {
    await client.close();
  }
}

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export async function runScrapeBench(cases: readonly Case[] = CASES): Promise<ScrapeRow[]> {
  const rows: ScrapeRow[] = [];
  for (const c of cases) {
    const label = `${c.series} ${c.shape} series`;
    collectGarbage();
    const oursServer = await startOurs(c.shape, c.series);
    let ours: Side;
    try {
      ours = await measure(oursServer, c.oursScrapes, c.stallScrapes, `otel-agent, ${label}`);
    } finally {
      await oursServer.close();
    }
    collectGarbage();
    const stockServer = await startStock(c.shape, c.series);
    let stock: Side;
    try {
      stock = await measure(stockServer, c.stockScrapes, Math.min(c.stallScrapes, STOCK_STALL_SCRAPES), `stock exporter, ${label}`);
    } finally {
      await stockServer.close();
    }
    let idleStallMs: number | undefined;
    for (let i = 0; i < c.stallScrapes; i++) {
      const { stallMs } = await stallDuring(() => sleep(ours.medianMs));
      idleStallMs = Math.max(idleStallMs ?? 0, stallMs);
    }
    rows.push({ shape: c.shape, series: c.series, ours, stock, idleStallMs });
  }
  return rows;
}

export function formatScrapeTable(rows: ScrapeRow[]): string {
  const title =
    'End-to-end scrape: GET /metrics over loopback HTTP (keep-alive, one at a time, text format, no gzip), ' +
    'otel-agent exporter vs stock @opentelemetry/exporter-prometheus on the same series; stall = longest event-loop delay during one scrape';
  const headers = [
    'shape',
    'series',
    'scrapes ours / stock',
    'ours median / p99 ms',
    'stock median / p99 ms',
    'speedup',
    'bytes ours / stock',
    'samples ours / stock',
    'stall ours median / max ms',
    'stall stock max ms',
    'ticker gap ours / stock ms',
    'stall, no scrape ms',
  ];
  const ms = (value: number) => value.toFixed(value < 10 ? 2 : 1);
  const pair = (ours: number | undefined, stock: number | undefined) => (ours === undefined || stock === undefined ? '' : `${ms(ours)} / ${ms(stock)}`);
  const body: Cell[][] = rows.map((r) => [
    r.shape,
    r.series,
    `${r.ours.scrapes} / ${r.stock.scrapes}`,
    `${ms(r.ours.medianMs)} / ${ms(r.ours.p99Ms)}`,
    `${ms(r.stock.medianMs)} / ${ms(r.stock.p99Ms)}`,
    `${(r.stock.medianMs / r.ours.medianMs).toFixed(1)}x`,
    `${r.ours.bytes} / ${r.stock.bytes}`,
    `${r.ours.samples} / ${r.stock.samples}`,
    r.ours.stallsMs.length === 0 ? '' : `${ms(percentile(r.ours.stallsMs, 50))} / ${ms(r.ours.stallsMs[r.ours.stallsMs.length - 1])}`,
    r.stock.stallsMs.length === 0 ? '' : ms(r.stock.stallsMs[r.stock.stallsMs.length - 1]),
    pair(r.ours.tickerGapMs, r.stock.tickerGapMs),
    r.idleStallMs === undefined ? '' : ms(r.idleStallMs),
  ]);
  return formatTable(title, headers, body);
}
