// Cost of the process scraper per collection for N processes picked by command line, side by
// side with prometheus-process-exporter (node_exporter has no per-process metrics) picking the
// same processes by the same regular expression. Both walk /proc at each collection.
//
// Ours: one scrape of a hostmetrics receiver with only the process scraper, in this process,
// alone and followed by writing its Prometheus text (no HTTP), CPU from process.cpuUsage(). process-exporter: one GET of its
// /metrics (it reads /proc when scraped), CPU from its utime+stime, with -threads=false and
// -gather-smaps=false so it reads what we read (its defaults also read every thread and smaps).
// Run alone: `npx tsc -p tsconfig.build.json && node dist/bench/process.js`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReceiverSettings } from '../src/component/types.js';
import { serializeSync } from '../src/exporters/prometheus/serializer.js';
import { MetricStore } from '../src/metrics/store.js';
import { configSchema } from '../src/receivers/hostmetrics/config.js';
import { HostmetricsReceiver } from '../src/receivers/hostmetrics/receiver.js';
import {
  benchSettings,
  formatTable,
  freePort,
  keepAliveAgent,
  readCpuTicks,
  scrape,
  stopProcess,
  summarise,
  ticksPerSecond,
  waitForMetrics,
  type Cell,
} from './support.js';

export interface ProcessBenchRow {
  tool: string;
  processes: number;
  /** Processes on the host, all of which both walk. */
  hostProcesses: number;
  collections: number;
  medianMs: number;
  p99Ms: number;
  cpuMsPerCollection: number;
  series: number;
}

const PROCESS_EXPORTER = 'prometheus-process-exporter';

function receiverFor(pattern: string): { receiver: HostmetricsReceiver; meter: MetricStore } {
  const meter = new MetricStore({ scope: 'hostmetrics' });
  const settings: ReceiverSettings = { ...benchSettings('hostmetrics'), meter };
  const config = configSchema.parse({ scrapers: ['process'], process: { include: [{ command: pattern }] } });
  return { receiver: new HostmetricsReceiver(settings, config), meter };
}

/** `serialise`: each collection also writes the Prometheus text, as a scrape of the agent would. */
async function ours(pattern: string, processes: number, hostProcesses: number, collections: number, serialise: boolean): Promise<ProcessBenchRow> {
  const { receiver, meter } = receiverFor(pattern);
  const resource = resourceFromAttributes({ 'service.name': 'otel-agent', 'host.name': 'bench-host' });
  const collectOnce = async () => {
    await receiver.scrape();
    if (serialise) serializeSync([{ resource, scopeMetrics: [meter.collect()] }]);
  };
  for (let i = 0; i < 10; i++) await collectOnce();
  const durations: number[] = [];
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < collections; i++) {
    const started = performance.now();
    await collectOnce();
    durations.push(performance.now() - started);
  }
  const cpu = process.cpuUsage(cpuBefore);
  let series = 0;
  for (const count of meter.seriesCounts().values()) series += count;
  await receiver.shutdown();
  const { median, p99 } = summarise(durations);
  return {
    tool: serialise ? 'otel-agent process scraper + text' : 'otel-agent process scraper',
    processes,
    hostProcesses,
    collections,
    medianMs: median,
    p99Ms: p99,
    cpuMsPerCollection: (cpu.user + cpu.system) / 1000 / collections,
    series,
  };
}

async function processExporter(pattern: string, processes: number, hostProcesses: number, collections: number, dir: string): Promise<ProcessBenchRow | undefined> {
  if (spawnSync(PROCESS_EXPORTER, ['-version']).error !== undefined) return undefined;
  const config = path.join(dir, 'process-exporter.yml');
  // One group per PID, so its series are per process as ours are.
  writeFileSync(config, `process_names:\n  - name: "{{.Comm}}-{{.PID}}"\n    cmdline:\n      - '${pattern}'\n`);
  const port = await freePort();
  const child: ChildProcess = spawn(
    PROCESS_EXPORTER,
    ['-config.path', config, '-web.listen-address', `127.0.0.1:${port}`, '-threads=false', '-gather-smaps=false', '-children=false'],
    { stdio: 'ignore' },
  );
  try {
    await waitForMetrics(port, 10_000, () => `${PROCESS_EXPORTER} did not answer on ${port}`);
    const agent = keepAliveAgent();
    for (let i = 0; i < 10; i++) await scrape(port, '/metrics', agent);
    const durations: number[] = [];
    const ticksBefore = readCpuTicks(child.pid!);
    let body: Buffer = Buffer.alloc(0);
    for (let i = 0; i < collections; i++) {
      const started = performance.now();
      body = (await scrape(port, '/metrics', agent)).body;
      durations.push(performance.now() - started);
    }
    const cpuMs = ((readCpuTicks(child.pid!) - ticksBefore) / ticksPerSecond()) * 1000;
    agent.destroy();
    // Its per-group series only (namedprocess_*), not its own Go runtime's.
    const text = body.toString('utf8');
    const series = text.split('\n').filter((line) => line.startsWith('namedprocess_namegroup_')).length;
    const { median, p99 } = summarise(durations);
    return { tool: `${PROCESS_EXPORTER} (HTTP scrape)`, processes, hostProcesses, collections, medianMs: median, p99Ms: p99, cpuMsPerCollection: cpuMs / collections, series };
  } finally {
    await stopProcess(child);
  }
}

export async function runProcessBench(counts: readonly number[] = [10, 100], collections = 200): Promise<ProcessBenchRow[]> {
  const rows: ProcessBenchRow[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-process-'));
  const children: ChildProcess[] = [];
  try {
    for (const count of counts) {
      const marker = randomBytes(4).toString('hex');
      const seconds = (i: number) => `86400.${parseInt(marker, 16)}${String(i).padStart(4, '0')}`;
      for (let i = 0; i < count; i++) children.push(spawn('sleep', [seconds(i)], { stdio: 'ignore' }));
      const pattern = `^sleep 86400\\.${parseInt(marker, 16)}\\d{4}$`;
      await new Promise((resolve) => setTimeout(resolve, 200));
      const hostProcesses = spawnSync('sh', ['-c', 'ls -d /proc/[0-9]* | wc -l'], { encoding: 'utf8' }).stdout.trim();
      rows.push(await ours(pattern, count, Number(hostProcesses), collections, false));
      rows.push(await ours(pattern, count, Number(hostProcesses), collections, true));
      const theirs = await processExporter(pattern, count, Number(hostProcesses), collections, dir);
      if (theirs !== undefined) rows.push(theirs);
      await Promise.all(children.splice(0).map((child) => stopProcess(child)));
    }
  } finally {
    await Promise.all(children.map((child) => stopProcess(child)));
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function formatProcessTable(rows: ProcessBenchRow[]): string {
  const body: Cell[][] = rows.map((r) => [
    r.tool,
    r.processes,
    r.hostProcesses,
    r.collections,
    r.medianMs.toFixed(2),
    r.p99Ms.toFixed(2),
    r.cpuMsPerCollection.toFixed(2),
    r.series,
  ]);
  return formatTable(
    'Per-process metrics: one collection for N processes picked by command line (both walk all of /proc); ours in-process, process-exporter over HTTP',
    ['tool', 'picked', 'on host', 'collections', 'median ms', 'p99 ms', 'CPU ms / collection', 'series'],
    body,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatProcessTable(await runProcessBench()));
}
