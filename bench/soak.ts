// Soak: the built agent as a real process for a set time, under the load of a busy host. It
// tails a JSON job log written at a steady rate and renamed away every minute (logrotate's
// `create`), reads the host every 30 s, serves 100,000 series scraped every 5 s, and is sent a
// SIGHUP every few minutes, which with the default schedule lands on a rotation (the case
// where a reload once lost the renamed file's unread lines). Measured from outside: lines
// written against lines the agent counted, resident memory every 10 s, CPU from
// /proc/<pid>/stat, and the longest event-loop delay the agent reports itself
// (OTEL_AGENT_EVENT_LOOP_MONITOR=1, which costs about 0.3 % of a core on top of what is
// measured).
//
// The 100,000 series are the job log's own: each line names one of 100,000 slots, and a
// counter per slot (a view raises its series limit) makes one series per slot, as a
// free-form label would. Every metric restarts empty after a SIGHUP, so for a few seconds
// after each reload a scrape has fewer series; lines are counted by the receiver's
// otel_agent_joblog_lines_total, which lives as long as the process.
//
//   npm run bench -- soak [--soak-seconds=3600] [--soak-rate=30000] [--soak-sighup-seconds=180]
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  countSamples,
  formatTable,
  freePort,
  keepAliveAgent,
  mib,
  percentile,
  ProcessSampler,
  scrape,
  sleep,
  ticksPerSecond,
  waitForMetrics,
  type Cell,
  type ProcessSample,
} from './support.js';

/** The built CLI, next to this file once compiled (dist/bench -> dist/src). */
const AGENT_MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const RECEIVER = 'joblog/soak';
const LINES_COUNTER = new RegExp(`^otel_agent_joblog_lines_total\\{[^}]*receiver="${RECEIVER}"[^}]*\\} (\\S+)$`, 'm');
const LOOP_DELAY = /^otel_agent_process_event_loop_delay_max_seconds(?:\{[^}]*\})? (\S+)$/m;
const REFUSED = /^otel_agent_receiver_refused_total\{[^}]*\} (\S+)$/gm;
const RELOADS_OK = /^otel_agent_config_reloads_total\{[^}]*result="success"[^}]*\} (\S+)$/m;

export interface SoakOptions {
  /** Length of the run, the catch-up after it not included. Default 3600. */
  durationS?: number;
  /** Lines a second written to the job log. Default 30,000. */
  linesPerSecond?: number;
  /** Distinct slots in the lines: the series of the per-slot counter. Default 100,000. */
  series?: number;
  scrapeEveryS?: number;
  rotateEveryS?: number;
  sighupEveryS?: number;
  rssEveryS?: number;
}

export interface SoakResult {
  options: Required<SoakOptions>;
  /** Whole seconds before the RSS slope is taken: a third of the run, at most 10 minutes. */
  warmupS: number;
  linesWritten: number;
  linesCounted: number;
  refused: number;
  /** Seconds from the writer's stop until the agent had counted every line (or gave up). */
  catchUpS: number;
  rotations: number;
  sighups: number;
  reloadsSucceeded: number;
  scrapes: number;
  /** Scrapes that got no 200: expected only while a reload rebinds the port. */
  scrapesFailed: number;
  samplesMedian: number;
  samplesMax: number;
  scrapeMedianMs: number;
  scrapeMaxMs: number;
  longestStallMs: number;
  rssStartMiB: number;
  rssWarmMiB: number;
  rssEndMiB: number;
  rssMaxAfterWarmupMiB: number;
  rssSlopeMiBPerMin: number;
  /** RSS at the start and at each whole minute of the run. */
  rssByMinuteMiB: number[];
  cpuPercent: number;
  cpuMsPerThousandLines: number;
}

const DEFAULTS: Required<SoakOptions> = {
  durationS: 3600,
  linesPerSecond: 30_000,
  series: 100_000,
  scrapeEveryS: 5,
  rotateEveryS: 60,
  sighupEveryS: 180,
  rssEveryS: 10,
};

const STATUSES = ['ok', 'ok', 'ok', 'failed', 'cancelled'];
const WRITE_EVERY_MS = 50;

function agentConfig(dir: string, logFile: string, port: number, series: number): string {
  return [
    'receivers:',
    '  hostmetrics:',
    '    collection_interval: 30s',
    `  ${RECEIVER}:`,
    `    paths: [${JSON.stringify(logFile)}]`,
    '    start_at: beginning',
    '    format: json',
    '    metrics:',
    '      - { name: soak.jobs, type: counter, attributes: { slot: slot } }',
    '      - { name: soak.jobs.by_status, type: counter, attributes: { status: status } }',
    '      - name: soak.job.duration',
    '        type: histogram',
    '        unit: s',
    '        value: duration_s',
    '        attributes: { status: status }',
    '        buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60]',
    'views:',
    '  - instrument: soak.jobs',
    `    series_limit: ${series + 1000}`,
    'exporters:',
    '  prometheus:',
    `    endpoint: 127.0.0.1:${port}`,
    'service:',
    `  state_directory: ${JSON.stringify(join(dir, 'state'))}`,
    '  pipelines:',
    '    metrics:',
    `      receivers: [hostmetrics, ${RECEIVER}]`,
    '      exporters: [prometheus]',
    '',
  ].join('\n');
}

/**
 * Appends lines at a steady rate: each tick writes what the clock says is due, so a late
 * tick catches up instead of lowering the rate. Rotation renames the file and starts a new
 * one; a renamed file is deleted two rotations later, long after the agent finished it.
 */
class JobLogWriter {
  written = 0;
  rotations = 0;
  private fd: number;
  private timer?: NodeJS.Timeout;
  private startedAt = 0;
  private readonly rotated: string[] = [];

  constructor(
    private readonly file: string,
    private readonly linesPerSecond: number,
    private readonly slots: number,
  ) {
    this.fd = openSync(file, 'a');
  }

  start(): void {
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.writeDue(), WRITE_EVERY_MS);
  }

  rotate(): void {
    this.writeDue();
    closeSync(this.fd);
    const renamed = `${this.file}.${++this.rotations}`;
    renameSync(this.file, renamed);
    this.fd = openSync(this.file, 'a');
    this.rotated.push(renamed);
    if (this.rotated.length > 2) rmSync(this.rotated.shift()!, { force: true });
  }

  /** Stops writing, after the lines due up to now; again, does nothing. */
  stop(): void {
    clearInterval(this.timer);
    if (this.fd < 0) return;
    this.writeDue();
    closeSync(this.fd);
    this.fd = -1;
  }

  private writeDue(): void {
    if (this.fd < 0) return;
    const due = Math.floor(((performance.now() - this.startedAt) / 1000) * this.linesPerSecond);
    let chunk = '';
    while (this.written < due) {
      const i = this.written++;
      const status = STATUSES[i % STATUSES.length];
      chunk += `{"ts":${Date.now()},"event":"job.finished","slot":"s${i % this.slots}","status":"${status}","duration_s":${((i % 613) / 10).toFixed(1)}}\n`;
      if (chunk.length >= 1 << 20) {
        writeSync(this.fd, chunk);
        chunk = '';
      }
    }
    if (chunk !== '') writeSync(this.fd, chunk);
  }
}

interface AgentUnderTest {
  child: ChildProcess;
  log(): string;
}

function startAgent(config: string): AgentUnderTest {
  const env: NodeJS.ProcessEnv = { ...process.env, OTEL_AGENT_EVENT_LOOP_MONITOR: '1' };
  delete env.NODE_OPTIONS;
  delete env.JOURNAL_STREAM;
  const child = spawn(process.execPath, [AGENT_MAIN, 'run', '-c', config], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-8192);
  });
  child.on('error', (error) => (tail += `\n${error.message}`));
  return { child, log: () => tail };
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

async function stopAgent(child: ChildProcess): Promise<void> {
  if (!alive(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
  await exited;
  clearTimeout(timer);
}

function numberIn(body: string, pattern: RegExp): number | undefined {
  const match = pattern.exec(body);
  return match === null ? undefined : Number(match[1]);
}

/** Least-squares slope of RSS against time, in MiB per minute. */
function rssSlope(samples: readonly ProcessSample[]): number {
  if (samples.length < 2) return NaN;
  const xs = samples.map((s) => s.atMs / 60_000);
  const ys = samples.map((s) => mib(s.memory.rssKiB * 1024));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return num / den;
}

/** The first sample at or after the start and each whole minute since. */
function rssByMinute(samples: readonly ProcessSample[], startedAt: number): number[] {
  const readings: number[] = [];
  for (let minute = 0; ; minute++) {
    const sample = samples.find((s) => s.atMs >= startedAt + minute * 60_000);
    if (sample === undefined) return readings;
    readings.push(sample.memory.rssKiB);
  }
}

export async function runSoakBench(options: SoakOptions = {}): Promise<SoakResult> {
  const settings: Required<SoakOptions> = { ...DEFAULTS, ...options };
  const { durationS, linesPerSecond, series, scrapeEveryS, rotateEveryS, sighupEveryS, rssEveryS } = settings;
  if (!existsSync(AGENT_MAIN)) throw new Error(`${AGENT_MAIN} not found: run npm run build first`);
  const warmupS = Math.min(600, Math.floor(durationS / 3));
  const dir = mkdtempSync(join(tmpdir(), 'otel-agent-soak-'));
  let agent: AgentUnderTest | undefined;
  let writer: JobLogWriter | undefined;
  let sampler: ProcessSampler | undefined;
  const connection = keepAliveAgent();
  // Ctrl-C or a crash of this process must not leave the agent running.
  const killOnExit = () => agent?.child.kill('SIGKILL');
  process.once('exit', killOnExit);
  try {
    mkdirSync(join(dir, 'logs'));
    mkdirSync(join(dir, 'state'));
    const logFile = join(dir, 'logs', 'jobs.log');
    writeFileSync(logFile, '');
    const port = await freePort();
    const config = join(dir, 'otel-agent.yaml');
    writeFileSync(config, agentConfig(dir, logFile, port, series));
    agent = startAgent(config);
    const pid = agent.child.pid!;
    const describe = () => `agent log: ${agent!.log() || '(empty)'}`;
    await waitForMetrics(port, 20_000, describe);

    const samples: number[] = [];
    const latencies: number[] = [];
    let scrapesFailed = 0;
    let longestStallS = 0;
    const scrapeOnce = async (): Promise<string | undefined> => {
      if (!alive(agent!.child)) throw new Error(`the agent exited (${agent!.child.exitCode ?? agent!.child.signalCode}); ${describe()}`);
      try {
        const reply = await scrape(port, '/metrics', connection, 30_000);
        if (reply.status !== 200) {
          scrapesFailed++;
          return undefined;
        }
        latencies.push(reply.ms);
        samples.push(countSamples(reply.body));
        const body = reply.body.toString('utf8');
        longestStallS = Math.max(longestStallS, numberIn(body, LOOP_DELAY) ?? 0);
        return body;
      } catch {
        // A reload closes the listening socket for a moment; the next scrape finds the new one.
        scrapesFailed++;
        return undefined;
      }
    };

    const startedAt = performance.now();
    sampler = new ProcessSampler(pid, rssEveryS * 1000);
    sampler.start();
    writer = new JobLogWriter(logFile, linesPerSecond, series);
    writer.start();
    const endAt = startedAt + durationS * 1000;
    let nextScrape = startedAt + scrapeEveryS * 1000;
    let nextRotation = startedAt + rotateEveryS * 1000;
    let nextSighup = startedAt + sighupEveryS * 1000;
    let sighups = 0;
    while (performance.now() < endAt) {
      const now = performance.now();
      if (now >= nextRotation) {
        writer.rotate();
        nextRotation += rotateEveryS * 1000;
      }
      if (now >= nextSighup) {
        agent.child.kill('SIGHUP');
        sighups++;
        nextSighup += sighupEveryS * 1000;
      }
      if (now >= nextScrape) {
        await scrapeOnce();
        // A scrape that took longer than the interval is not followed by a burst of them.
        nextScrape = Math.max(nextScrape + scrapeEveryS * 1000, performance.now());
      }
      await sleep(Math.max(0, Math.min(nextScrape, nextRotation, nextSighup, endAt) - performance.now()));
    }
    writer.stop();
    const runEnd = sampler.sample();
    const stoppedAt = performance.now();

    // The agent catches up on what was written last; done when every line is counted, or
    // when the count has not moved for 15 s.
    let counted = 0;
    let lastBody = '';
    let lastProgress = performance.now();
    while (performance.now() - lastProgress < 15_000 && performance.now() - stoppedAt < 180_000) {
      const body = await scrapeOnce();
      if (body !== undefined) {
        lastBody = body;
        const now = numberIn(body, LINES_COUNTER) ?? 0;
        if (now !== counted) lastProgress = performance.now();
        counted = now;
        if (counted >= writer.written) break;
      }
      await sleep(1000);
    }
    const caughtUp = sampler.sample();
    const catchUpS = (performance.now() - stoppedAt) / 1000;
    sampler.stop();

    const all = sampler.samples.filter((s) => s.atMs <= runEnd.atMs);
    const first = all[0];
    const warmAt = startedAt + warmupS * 1000;
    const afterWarmup = all.filter((s) => s.atMs >= warmAt);
    const atWarmup = afterWarmup[0] ?? runEnd;
    const lines = Math.max(1, counted);
    // Every line counted was read by then, so CPU per line runs to the end of the catch-up.
    const cpuSeconds = (caughtUp.cpuTicks - first.cpuTicks) / ticksPerSecond();
    const sortedLatencies = [...latencies].sort((a, b) => a - b);
    const sortedSamples = [...samples].sort((a, b) => a - b);
    let refused = 0;
    for (const match of lastBody.matchAll(REFUSED)) refused += Number(match[1]);
    return {
      options: settings,
      warmupS,
      linesWritten: writer.written,
      linesCounted: counted,
      refused,
      catchUpS,
      rotations: writer.rotations,
      sighups,
      reloadsSucceeded: numberIn(lastBody, RELOADS_OK) ?? 0,
      scrapes: latencies.length,
      scrapesFailed,
      samplesMedian: sortedSamples.length > 0 ? percentile(sortedSamples, 50) : 0,
      samplesMax: sortedSamples.at(-1) ?? 0,
      scrapeMedianMs: sortedLatencies.length > 0 ? percentile(sortedLatencies, 50) : NaN,
      scrapeMaxMs: sortedLatencies.at(-1) ?? NaN,
      longestStallMs: longestStallS * 1000,
      rssStartMiB: first.memory.rssKiB / 1024,
      rssWarmMiB: atWarmup.memory.rssKiB / 1024,
      rssEndMiB: runEnd.memory.rssKiB / 1024,
      rssMaxAfterWarmupMiB: Math.max(...afterWarmup.map((s) => s.memory.rssKiB), runEnd.memory.rssKiB) / 1024,
      rssSlopeMiBPerMin: rssSlope(afterWarmup),
      rssByMinuteMiB: rssByMinute(all, startedAt).map((kib) => kib / 1024),
      cpuPercent: ProcessSampler.cpuPercent(first, runEnd),
      cpuMsPerThousandLines: (cpuSeconds * 1000 * 1000) / lines,
    };
  } finally {
    sampler?.stop();
    connection.destroy();
    try {
      writer?.stop();
    } finally {
      try {
        if (agent !== undefined) await stopAgent(agent.child);
      } finally {
        process.removeListener('exit', killOnExit);
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
}

export function formatSoakTable(result: SoakResult): string {
  const r = result;
  const o = r.options;
  const title =
    `Soak: the agent process for ${o.durationS} s, a JSON job log written at ${o.linesPerSecond} lines/s and renamed every ${o.rotateEveryS} s, ` +
    `host metrics every 30 s, ${o.series} job-log series scraped every ${o.scrapeEveryS} s, SIGHUP every ${o.sighupEveryS} s; ` +
    `RSS every ${o.rssEveryS} s (warm-up ${r.warmupS} s), CPU from utime+stime, stall from the agent's otel_agent_process_event_loop_delay_max_seconds`;
  const lost = r.linesWritten - r.linesCounted;
  const rssGrowth = (100 * (r.rssMaxAfterWarmupMiB - r.rssWarmMiB)) / r.rssWarmMiB;
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT MET');
  const rows: Cell[][] = [
    ['lines written / counted', `${r.linesWritten} / ${r.linesCounted}`, 'nothing lost', verdict(lost === 0)],
    ['lines refused', r.refused, '0', verdict(r.refused === 0)],
    ['catch-up after the writer stopped s', r.catchUpS.toFixed(1), '', ''],
    ['rotations / SIGHUPs / reloads ok', `${r.rotations} / ${r.sighups} / ${r.reloadsSucceeded}`, '', verdict(r.reloadsSucceeded === r.sighups)],
    ['RSS start / at warm-up / end MiB', `${r.rssStartMiB.toFixed(1)} / ${r.rssWarmMiB.toFixed(1)} / ${r.rssEndMiB.toFixed(1)}`, '', ''],
    ['RSS max after warm-up MiB (vs at warm-up)', `${r.rssMaxAfterWarmupMiB.toFixed(1)} (${rssGrowth >= 0 ? '+' : ''}${rssGrowth.toFixed(1)} %)`, 'within 10 %', verdict(rssGrowth <= 10)],
    ['RSS slope after warm-up MiB/min', r.rssSlopeMiBPerMin.toFixed(3), '', ''],
    ['longest event-loop stall ms', r.longestStallMs.toFixed(1), 'no stall over 50 ms', verdict(r.longestStallMs <= 50)],
    ['CPU % of a core', r.cpuPercent.toFixed(1), '', ''],
    ['CPU ms per 1,000 lines', r.cpuMsPerThousandLines.toFixed(2), '', ''],
    ['scrapes ok / failed', `${r.scrapes} / ${r.scrapesFailed}`, 'failed only around reloads', ''],
    ['samples per scrape median / max', `${r.samplesMedian} / ${r.samplesMax}`, '', ''],
    ['scrape latency median / max ms', `${r.scrapeMedianMs.toFixed(1)} / ${r.scrapeMaxMs.toFixed(1)}`, '', ''],
  ];
  const timeline = `RSS at the start and each minute, MiB: ${r.rssByMinuteMiB.map((value) => value.toFixed(0)).join(' ')}`;
  return `${formatTable(title, ['measure', 'value', 'target', 'result'], rows)}\n${timeline}`;
}
