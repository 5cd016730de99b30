// Shared pieces of the benchmarks: component settings, aligned plain-text tables, percentiles,
// free ports, HTTP scrapes, and CPU and memory of another process read from /proc/<pid>.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';

import type { CreateSettings, Kind } from '../src/component/types.js';
import { MetricStore } from '../src/metrics/store.js';
import { StateDirectory } from '../src/state/store.js';
import { silentLogger } from '../src/telemetry/silent-logger.js';

/**
 * Quiet settings of component `id` (a receiver adds its `meter`). Its state lives in
 * `stateDir`; by default a directory that does not exist, for components that keep none.
 */
export function benchSettings(id: string, kind: Kind = 'receiver', stateDir = '/nonexistent'): CreateSettings {
  return {
    id,
    telemetry: new MetricStore({ scope: 'otel-agent' }),
    logger: silentLogger(),
    status: { report() {} },
    store: new StateDirectory(stateDir, silentLogger()).storeFor(kind, id),
  };
}

export type Cell = string | number;

/** Cells that read as numbers (`12.5`, `8.1x`, `3 / 40`, or empty) are right-aligned. */
const NUMERIC = /^(-?[\d.]+[x%]?( \/ -?[\d.]+[x%]?)*)?$/;

/**
 * A plain-text table: a title line, a header, a rule, one line per row. Columns are padded
 * to their widest cell; numbers are right-aligned, text left-aligned.
 */
export function formatTable(title: string, headers: string[], rows: Cell[][]): string {
  const numeric = headers.map((_, column) => rows.length > 0 && rows.every((row) => typeof row[column] === 'number' || NUMERIC.test(row[column])));
  const text = rows.map((row) => row.map((cell) => (typeof cell === 'number' ? formatNumber(cell) : cell)));
  const widths = headers.map((header, column) => Math.max(header.length, ...text.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (numeric[column] ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd();
  return [title, line(headers), widths.map((width) => '-'.repeat(width)).join('  '), ...text.map(line)].join('\n');
}

/** Whole numbers as they are and from 1000 up; one decimal from 10 up; two below. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) || Math.abs(value) >= 1000) return Math.round(value).toString();
  return value.toFixed(Math.abs(value) >= 10 ? 1 : 2);
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('percentile of no values');
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function mib(bytes: number): number {
  return bytes / (1024 * 1024);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A free loopback port, found by binding port 0 and releasing it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Scrape {
  status: number;
  body: Buffer;
  ms: number;
}

/** One GET on loopback; `agent` keeps the connection open between scrapes, as Prometheus does. */
export function scrape(port: number, path = '/metrics', agent?: Agent, timeoutMs = 30_000): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request({ host: '127.0.0.1', port, path, agent: agent ?? false });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET 127.0.0.1:${port}${path} took over ${timeoutMs}ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - started }));
    });
    req.end();
  });
}

/** Sample lines (not comments, not blank) of a text exposition: what Prometheus stores. */
export function countSamples(body: Buffer): number {
  let samples = 0;
  let start = 0;
  while (start < body.length) {
    let end = body.indexOf(0x0a, start);
    if (end === -1) end = body.length;
    if (end > start && body[start] !== 0x23 /* # */) samples += 1;
    start = end + 1;
  }
  return samples;
}

/** Polls `port` until /metrics answers 200, or throws with what `describe()` says about the process. */
export async function waitForMetrics(port: number, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const reply = await scrape(port, '/metrics', undefined, 2000);
      if (reply.status === 200) return;
      last = `status ${reply.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`127.0.0.1:${port}/metrics not up within ${timeoutMs}ms (${last}); ${describe()}`);
}

let clockTicks: number | undefined;

/** Kernel clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
export function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime of the whole process (every thread, live or exited), in clock ticks. */
export function readCpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of proc(5); fields[0] is field 3 (state).
  return Number(fields[11]) + Number(fields[12]);
}

export interface MemoryReading {
  /** Resident set (VmRSS). */
  rssKiB: number;
  /** Peak resident set since the process started (VmHWM). */
  peakKiB: number;
  /** Private anonymous memory: heaps, stacks (RssAnon). */
  anonKiB: number;
  /** File pages mapped in, mostly the executable and libraries; shared and reclaimable (RssFile). */
  fileKiB: number;
}

export function readMemory(pid: number): MemoryReading {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!match) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(match[1]);
  };
  return { rssKiB: field('VmRSS'), peakKiB: field('VmHWM'), anonKiB: field('RssAnon'), fileKiB: field('RssFile') };
}

export interface ProcessSample {
  atMs: number;
  cpuTicks: number;
  memory: MemoryReading;
}

/** Reads a process's CPU ticks and memory every `intervalMs`, and on demand. */
export class ProcessSampler {
  readonly samples: ProcessSample[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    readonly pid: number,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => {
      // A process that is gone stops the sampling; the caller finds out when it samples next.
      try {
        this.sample();
      } catch {
        this.stop();
      }
    }, this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  sample(): ProcessSample {
    const sample = { atMs: performance.now(), cpuTicks: readCpuTicks(this.pid), memory: readMemory(this.pid) };
    this.samples.push(sample);
    return sample;
  }

  /** CPU time between two samples, as a percentage of one core. */
  static cpuPercent(from: ProcessSample, to: ProcessSample): number {
    const cpuSeconds = (to.cpuTicks - from.cpuTicks) / ticksPerSecond();
    return (100 * cpuSeconds) / ((to.atMs - from.atMs) / 1000);
  }

  /** Largest RSS among samples taken at or after `fromMs`. */
  maxRssKiB(fromMs = 0): number {
    let max = 0;
    for (const sample of this.samples) if (sample.atMs >= fromMs) max = Math.max(max, sample.memory.rssKiB);
    return max;
  }
}

/** Collection statistics for a duration list: median, p99, max (ms). */
export function summarise(durationsMs: number[]): { median: number; p99: number; max: number } {
  const sorted = [...durationsMs].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] };
}

/** A keep-alive HTTP agent with one connection: scrapes run one after another on it. */
export function keepAliveAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1 });
}

/** SIGTERM, then SIGKILL if it has not exited within 8 s; resolves once it has exited. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
  await exited;
  clearTimeout(timer);
}
