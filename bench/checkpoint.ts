// What one joblog checkpoint costs: the offsets of 10 files written atomically (temp file,
// fsync, rename, fsync of the directory), without and with the receiver's metric values
// (counters and histograms, with start times) in the same write, for 100 and 2000 series.
// "event loop" is the synchronous part, taken while nothing else runs (snapshot and
// serialisation); "checkpoint" is the whole write, fsyncs included, on the disk of os.tmpdir().
//
// Run alone: `npx tsc -p tsconfig.build.json && node dist/bench/checkpoint.js`.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { MetricStore } from '../src/metrics/store.js';
import { ViewSet } from '../src/metrics/views.js';
import { CheckpointStore } from '../src/receivers/joblog/checkpoint.js';
import { formatTable, summarise } from './support.js';

const RUNS = 100;
const FILES = 10;

export interface CheckpointBenchRow {
  series: number;
  values: boolean;
  bytes: number;
  eventLoopMedianMs: number;
  checkpointMedianMs: number;
  checkpointP99Ms: number;
}

/** A joblog meter's shape: three quarters counter series, a quarter histogram series (8 buckets). */
function meterWith(series: number): MetricStore {
  const meter = new MetricStore({ scope: 'joblog/bench', views: new ViewSet([], 10_000) });
  const jobs = meter.counter('runner.jobs');
  const duration = meter.histogram('runner.job.duration', { buckets: [1, 5, 10, 30, 60, 300, 900, 3600] });
  const counters = Math.round(series * 0.75);
  for (let i = 0; i < counters; i++) jobs.add(1 + (i % 17), { repository: `org/repo-${i % 200}`, status: ['ok', 'failed', 'cancelled'][i % 3], runner: `r${Math.floor(i / 600)}` });
  for (let i = 0; i < series - counters; i++) duration.record(i % 700, { repository: `org/repo-${i % 200}`, runner: `r${Math.floor(i / 200)}` });
  return meter;
}

async function measure(series: number, values: boolean): Promise<CheckpointBenchRow> {
  const directory = mkdtempSync(path.join(tmpdir(), 'otel-agent-checkpoint-bench-'));
  try {
    const file = path.join(directory, 'joblog', 'checkpoints.json');
    const store = new CheckpointStore(file);
    await store.load();
    const now = Date.now();
    for (let i = 0; i < FILES; i++) {
      store.set(`2049:${1000 + i}`, { offset: 123_456 * i, fingerprint: { length: 1024, hash: 'ab'.repeat(16) }, path: `/var/log/runner/jobs-${i}.log`, seenAt: now });
    }
    const meter = meterWith(series);
    let eventLoopMs = 0;
    store.provideReceiverState('joblog/bench', () => {
      // The provider runs inside the write's synchronous part; its serialisation is timed with the rest below.
      return values ? { metrics: meter.snapshot() } : undefined;
    });
    const eventLoop: number[] = [];
    const whole: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      // The synchronous part, as the write does it: the state taken and the document serialised.
      let started = performance.now();
      const state = values ? { metrics: meter.snapshot() } : undefined;
      JSON.stringify({ version: 1, files: store.identities().map((id) => store.get(id)), receivers: { 'joblog/bench': state } });
      eventLoopMs = performance.now() - started;
      eventLoop.push(eventLoopMs);
      started = performance.now();
      await store.flush({ force: true });
      whole.push(performance.now() - started);
    }
    const w = summarise(whole);
    return {
      series,
      values,
      bytes: statSync(file).size,
      eventLoopMedianMs: summarise(eventLoop).median,
      checkpointMedianMs: w.median,
      checkpointP99Ms: w.p99,
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

export async function runCheckpointBench(): Promise<CheckpointBenchRow[]> {
  const rows: CheckpointBenchRow[] = [];
  for (const series of [100, 2000]) for (const values of [false, true]) rows.push(await measure(series, values));
  return rows;
}

export function formatCheckpointTable(rows: CheckpointBenchRow[]): string {
  return formatTable(
    `One joblog checkpoint (${FILES} files' offsets), without and with the metric values in the same atomic write; ${RUNS} runs each`,
    ['series', 'values', 'file bytes', 'event loop median ms', 'checkpoint median ms', 'checkpoint p99 ms'],
    rows.map((r) => [r.series, r.values ? 'yes' : 'no', r.bytes, r.eventLoopMedianMs, r.checkpointMedianMs, r.checkpointP99Ms]),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(`${formatCheckpointTable(await runCheckpointBench())}\n`);
}
