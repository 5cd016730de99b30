// The joblog receiver against mtail, side by side on the same files: a 1,000,000-line job log
// in JSON, logfmt and a regex format (GitHub runner console lines), read from the start to the
// last line into the same metrics (a line counter, jobs by labels, a duration histogram).
// Each run is a fresh process, timed from spawn to exit, its peak RSS read from
// /proc/<pid>/status (VmHWM). JSON at 2,000,000 lines shows whether memory grows with the file.
//
// Run alone: `npx tsc -p tsconfig.build.json && node dist/bench/joblog.js [--lines=N] [--rounds=N]`.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MetricStore } from '../src/metrics/store.js';
import { joblogFactory } from '../src/receivers/joblog/index.js';
import { benchSettings } from './support.js';

export type Format = 'json' | 'logfmt' | 'regex';

export interface JoblogBenchOptions {
  /** Lines per file. Default 1,000,000. */
  lines?: number;
  /** Runs per tool and file; the fastest is kept. Default 1. */
  rounds?: number;
}

export interface JoblogBenchRow {
  format: Format;
  lines: number;
  tool: 'joblog' | 'mtail';
  seconds: number;
  linesPerSecond: number;
  peakRssMiB: number;
  /** Lines the tool's line counter reached: the check that both read the whole file. */
  counted: number;
}

const OPERATIONS = ['inspect', 'convert', 'resize', 'verify'];
const STATUSES = ['success', 'failure', 'cancelled'];
const RESULTS = ['Succeeded', 'Failed', 'Canceled'];
const BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048];
const MEMORY_POLL_MS = 20;

/** Line `i` of a job log: a start and a completion per job, alternating. */
function line(format: Format, i: number): string {
  const time = new Date(Date.UTC(2026, 0, 5, 8, 0, 0) + i * 250).toISOString();
  const event = i % 2 === 0 ? 'started' : 'completed';
  const jobId = `job-${(i >> 1) + 100000}`;
  const operation = OPERATIONS[(i >> 1) % OPERATIONS.length];
  const status = STATUSES[(i >> 1) % STATUSES.length];
  const duration = ((i % 997) * 0.37).toFixed(2);
  switch (format) {
    case 'json':
      return `{"time":"${time}","level":"info","event":"${event}","job_id":"${jobId}","operation":"${operation}","status":"${status}","duration_s":${duration}}`;
    case 'logfmt':
      return `time=${time} level=info event=${event} job_id=${jobId} operation=${operation} status=${status} duration_s=${duration} msg="job ${event} \\"ok\\""`;
    case 'regex': {
      const runnerTime = `${time.slice(0, 10)} ${time.slice(11, 19)}Z`;
      return i % 2 === 0
        ? `${runnerTime}: Running job: ${jobId}`
        : `${runnerTime}: Job ${jobId} completed with result: ${RESULTS[(i >> 1) % RESULTS.length]}`;
    }
  }
}

async function writeLog(file: string, format: Format, lines: number): Promise<void> {
  const out = createWriteStream(file);
  let chunk = '';
  for (let i = 0; i < lines; i++) {
    chunk += line(format, i) + '\n';
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

const RUNNER_PATTERN =
  '^(?<time>\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ): (?:Running job: (?<started>\\S+)|Job (?<job>\\S+) completed with result: (?<result>\\w+))$';

/** The receiver's config for a format: the same metrics as the mtail program below. */
function receiverConfig(format: Format, file: string): Record<string, unknown> {
  const lines = { name: 'bench.lines', type: 'counter' };
  const jobMetrics = [
    lines,
    { name: 'bench.jobs', type: 'counter', match: { event: 'completed' }, attributes: { operation: 'operation', status: 'status' } },
    {
      name: 'bench.job.duration',
      type: 'histogram',
      unit: 's',
      match: { event: 'completed' },
      value: 'duration_s',
      attributes: { operation: 'operation' },
      buckets: BUCKETS,
    },
  ];
  const common = { paths: [file], start_at: 'beginning' };
  if (format === 'regex') {
    return {
      ...common,
      format,
      regex: RUNNER_PATTERN,
      metrics: [lines, { name: 'bench.jobs', type: 'counter', match: { result: { exists: true } }, attributes: { status: 'result' } }],
    };
  }
  return { ...common, format, metrics: jobMetrics };
}

/** What an mtail user writes for the same metrics: a regex over the line in every format. */
function mtailProgram(format: Format): string {
  const header = 'counter bench_lines\n/$/ {\n  bench_lines++\n}\n';
  const histogram = `histogram bench_job_duration_seconds by operation buckets ${BUCKETS.join(', ')}\n`;
  switch (format) {
    case 'json':
      return `${header}counter bench_jobs_total by operation, status\n${histogram}
/"event":"completed".*"operation":"(?P<operation>[^"]+)","status":"(?P<status>[^"]+)","duration_s":(?P<duration>[\\d.]+)/ {
  bench_jobs_total[$operation][$status]++
  bench_job_duration_seconds[$operation] = $duration
}
`;
    case 'logfmt':
      return `${header}counter bench_jobs_total by operation, status\n${histogram}
/ event=completed .* operation=(?P<operation>\\S+) status=(?P<status>\\S+) duration_s=(?P<duration>[\\d.]+)/ {
  bench_jobs_total[$operation][$status]++
  bench_job_duration_seconds[$operation] = $duration
}
`;
    case 'regex':
      return `${header}counter bench_jobs_total by status
/^(?P<time>\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ): Job (?P<job>\\S+) completed with result: (?P<result>\\w+)$/ {
  bench_jobs_total[$result]++
}
`;
  }
}

interface Measured {
  seconds: number;
  peakKiB: number;
  stdout: string;
}

/** Runs a command to its exit, sampling its peak resident set meanwhile. */
async function measure(command: string, args: string[]): Promise<Measured> {
  const started = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  let peakKiB = 0;
  const sample = () => {
    try {
      const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (match) peakKiB = Math.max(peakKiB, Number(match[1]));
    } catch {
      // Exited between two samples: the last reading stands.
    }
  };
  const timer = setInterval(sample, MEMORY_POLL_MS);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearInterval(timer);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr.slice(-2000)}`);
  return { seconds, peakKiB, stdout };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const THIS_FILE = fileURLToPath(import.meta.url);

async function runReceiverProcess(format: Format, file: string, lines: number): Promise<Omit<JoblogBenchRow, 'format' | 'lines' | 'tool'>> {
  const run = await measure(process.execPath, [THIS_FILE, '--receiver-child', format, file, String(lines)]);
  const counted = Number(JSON.parse(run.stdout).counted);
  return { seconds: run.seconds, linesPerSecond: lines / run.seconds, peakRssMiB: run.peakKiB / 1024, counted };
}

async function runMtail(format: Format, file: string, lines: number, progs: string): Promise<Omit<JoblogBenchRow, 'format' | 'lines' | 'tool'>> {
  const port = await freePort();
  const run = await measure('mtail', [
    '--progs', progs, '--logs', file, '--one_shot', '--one_shot_format', 'prometheus',
    '--logtostderr', '--address', '127.0.0.1', '--port', String(port),
  ]).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'ENOENT' ? new Error('mtail is not installed: apt-get install mtail', { cause: error }) : error;
  });
  const counted = Number(/^bench_lines(?:\{[^}]*\})? (\S+)$/m.exec(run.stdout)?.[1] ?? NaN);
  return { seconds: run.seconds, linesPerSecond: lines / run.seconds, peakRssMiB: run.peakKiB / 1024, counted };
}

/** In the child process: the receiver reads `file` from its start until its line counter reaches `lines`. */
async function receiverChild(format: Format, file: string, lines: number): Promise<void> {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'joblog-bench-state-'));
  const meter = new MetricStore({ scope: 'joblog/bench' });
  const receiver = (await joblogFactory.load()).create(
    { ...benchSettings('joblog/bench', 'receiver', stateDir), meter },
    joblogFactory.configSchema.parse(receiverConfig(format, file)),
  );
  const counted = (): number => {
    const metric = meter.collect().metrics.find((m) => m.descriptor.name === 'bench.lines');
    return (metric?.dataPoints[0]?.value as number | undefined) ?? 0;
  };
  await receiver.start(new AbortController().signal);
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (counted() >= lines) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  await receiver.shutdown();
  rmSync(stateDir, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify({ counted: counted() })}\n`);
}

export async function runJoblogBench(options: JoblogBenchOptions = {}): Promise<JoblogBenchRow[]> {
  const lines = options.lines ?? 1_000_000;
  const rounds = options.rounds ?? 1;
  const directory = mkdtempSync(path.join(tmpdir(), 'joblog-bench-'));
  const rows: JoblogBenchRow[] = [];
  try {
    const cases: Array<{ format: Format; lines: number }> = [
      { format: 'json', lines },
      { format: 'logfmt', lines },
      { format: 'regex', lines },
      { format: 'json', lines: lines * 2 },
    ];
    for (const { format, lines: count } of cases) {
      const file = path.join(directory, `jobs-${format}-${count}.log`);
      await writeLog(file, format, count);
      const progs = path.join(directory, `progs-${format}`);
      mkdirSync(progs, { recursive: true });
      writeFileSync(path.join(progs, 'bench.mtail'), mtailProgram(format));
      let best: { joblog?: JoblogBenchRow; mtail?: JoblogBenchRow } = {};
      for (let round = 0; round < rounds; round++) {
        // Alternating, so that neither tool always runs on a warmer machine.
        const ours: JoblogBenchRow = { format, lines: count, tool: 'joblog', ...(await runReceiverProcess(format, file, count)) };
        const theirs: JoblogBenchRow = { format, lines: count, tool: 'mtail', ...(await runMtail(format, file, count, progs)) };
        if (!best.joblog || ours.seconds < best.joblog.seconds) best = { ...best, joblog: ours };
        if (!best.mtail || theirs.seconds < best.mtail.seconds) best = { ...best, mtail: theirs };
      }
      rows.push(best.joblog!, best.mtail!);
      rmSync(file);
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  return rows;
}

/** A plain-text table under a title: joblog and mtail side by side per file. */
export function formatJoblogTable(rows: JoblogBenchRow[]): string {
  const title = 'Job logs: each file read from its start to its last line, by the joblog receiver and by mtail --one_shot; a fresh process each, spawn to exit';
  const header = ['format', 'lines', 'joblog lines/s', 'joblog peak RSS MiB', 'mtail lines/s', 'mtail peak RSS MiB', 'joblog / mtail', 'counted (joblog / mtail)'];
  const body: string[][] = [];
  for (let i = 0; i < rows.length; i += 2) {
    const [ours, theirs] = [rows[i], rows[i + 1]];
    body.push([
      ours.format,
      ours.lines.toLocaleString('en-US'),
      Math.round(ours.linesPerSecond).toLocaleString('en-US'),
      ours.peakRssMiB.toFixed(0),
      Math.round(theirs.linesPerSecond).toLocaleString('en-US'),
      theirs.peakRssMiB.toFixed(0),
      `${(ours.linesPerSecond / theirs.linesPerSecond).toFixed(2)}x`,
      `${ours.counted} / ${theirs.counted}`,
    ]);
  }
  const widths = header.map((title, column) => Math.max(title.length, ...body.map((row) => row[column].length)));
  const format = (cells: string[]) => `| ${cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join(' | ')} |`;
  return [title, '', format(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...body.map(format)].join('\n');
}

function option(name: string): number | undefined {
  const found = process.argv.find((arg) => arg.startsWith(`--${name}=`));
  if (found === undefined) return undefined;
  const value = Number(found.slice(name.length + 3));
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} wants a positive whole number, got "${found}"`);
  return value;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--receiver-child') {
    const [format, file, lines] = process.argv.slice(3);
    await receiverChild(format as Format, file, Number(lines));
  } else {
    const rows = await runJoblogBench({ lines: option('lines'), rounds: option('rounds') });
    console.log(formatJoblogTable(rows));
  }
}
