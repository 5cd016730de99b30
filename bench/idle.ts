// Idle cost on this machine: the agent (host metrics every 30 s) and prometheus-node-exporter
// side by side, each a separate process scraped every 15 s, with CPU and memory read from
// /proc/<pid> every second. Also: where the agent's resident memory goes.
//
//   npm run bench -- idle [--idle-seconds=60]      npm run bench -- memory
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  countSamples,
  formatTable,
  freePort,
  keepAliveAgent,
  mib,
  ProcessSampler,
  readMemory,
  scrape,
  sleep,
  stopProcess,
  ticksPerSecond,
  waitForMetrics,
  type Cell,
} from './support.js';

export const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
/** The built CLI, next to this file once compiled (dist/bench -> dist/src). */
const AGENT_MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
/** The repository root, where node_modules resolves. */
const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The agent run with extra Node flags. They go on the node command line: some V8 flags
 * (--lite-mode) are refused in NODE_OPTIONS, so a unit would put them in ExecStart.
 */
export interface AgentVariant {
  nodeFlags: string[];
}

/**
 * The flags compared by default: none; the young generation capped at 1 MiB per semi-space
 * (V8 grows it to 16 MiB during start-up and keeps it); and that plus --lite-mode (no
 * optimising compilers: less code memory, slower hot loops).
 */
export const DEFAULT_VARIANTS: AgentVariant[] = [
  { nodeFlags: [] },
  { nodeFlags: ['--max-semi-space-size=1'] },
  { nodeFlags: ['--max-semi-space-size=1', '--lite-mode'] },
];

export interface IdleOptions {
  /** Length of the measured window, after one warm-up scrape. */
  durationS?: number;
  scrapeEveryS?: number;
  /** How often the agent reads the host (its collection_interval). */
  hostmetricsEveryS?: number;
  variants?: AgentVariant[];
}

export interface IdleRow {
  process: string;
  cpuPercent: number;
  cpuMs: number;
  rssEndMiB: number;
  rssMaxMiB: number;
  /** VmHWM: peak since the process started, start-up included. */
  peakMiB: number;
  anonEndMiB: number;
  fileEndMiB: number;
  scrapes: number;
  samplesPerScrape: number;
  bytesPerScrape: number;
}

interface Subject {
  name: string;
  child: ChildProcess;
  port: number;
  log: () => string;
}

/** Spawns a process whose stderr is kept (the last 4 KiB) for error messages. */
function launch(command: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; log: () => string } {
  const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-4096);
  });
  child.on('error', (error) => (tail += `\n${error.message}`));
  return { child, log: () => tail };
}


function requireTools(): void {
  if (!existsSync(NODE_EXPORTER)) {
    throw new Error(`${NODE_EXPORTER} not found: apt-get install prometheus-node-exporter`);
  }
  if (!existsSync(AGENT_MAIN)) throw new Error(`${AGENT_MAIN} not found: run npm run build first`);
}

function agentConfig(port: number, hostmetricsEveryS: number): string {
  return [
    'receivers:',
    '  hostmetrics:',
    `    collection_interval: ${hostmetricsEveryS}s`,
    'exporters:',
    '  prometheus:',
    `    endpoint: 127.0.0.1:${port}`,
    'service:',
    '  pipelines:',
    '    metrics:',
    '      receivers: [hostmetrics]',
    '      exporters: [prometheus]',
    '',
  ].join('\n');
}

function agentName(variant: AgentVariant): string {
  return ['otel-agent', ...variant.nodeFlags].join(' ');
}

/** Environment of a child: ours, minus anything that would change how Node or the agent runs. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.JOURNAL_STREAM;
  return env;
}

async function startAgent(dir: string, variant: AgentVariant, index: number, hostmetricsEveryS: number): Promise<Subject> {
  const port = await freePort();
  const config = join(dir, `agent-${index}.yaml`);
  writeFileSync(config, agentConfig(port, hostmetricsEveryS));
  // Agents run side by side: one state directory each (a second agent on one is refused).
  const env = { ...childEnv(), STATE_DIRECTORY: join(dir, `state-${index}`) };
  const { child, log } = launch(process.execPath, [...variant.nodeFlags, AGENT_MAIN, 'run', '-c', config], env);
  return { name: agentName(variant), child, port, log };
}

async function startNodeExporter(): Promise<Subject> {
  const port = await freePort();
  const { child, log } = launch(NODE_EXPORTER, [`--web.listen-address=127.0.0.1:${port}`], childEnv());
  return { name: 'prometheus-node-exporter', child, port, log };
}

function checkAlive(subject: Subject): void {
  if (subject.child.exitCode !== null || subject.child.signalCode !== null) {
    throw new Error(`${subject.name} exited (${subject.child.exitCode ?? subject.child.signalCode}); its log:\n${subject.log()}`);
  }
}

export async function runIdleBench(options: IdleOptions = {}): Promise<IdleRow[]> {
  const { durationS = 60, scrapeEveryS = 15, hostmetricsEveryS = 30, variants = DEFAULT_VARIANTS } = options;
  requireTools();
  const dir = mkdtempSync(join(tmpdir(), 'otel-agent-bench-'));
  const subjects: Subject[] = [];
  let samplers: ProcessSampler[] = [];
  try {
    subjects.push(await startNodeExporter());
    for (const [index, variant] of variants.entries()) subjects.push(await startAgent(dir, variant, index, hostmetricsEveryS));
    for (const subject of subjects) {
      await waitForMetrics(subject.port, 20_000, () => `${subject.name} log: ${subject.log() || '(empty)'}`);
    }
    const agents = subjects.map(() => keepAliveAgent());
    const scraped: Array<Array<{ samples: number; bytes: number }>> = subjects.map(() => []);
    const scrapeAll = async (record: boolean) => {
      for (const [index, subject] of subjects.entries()) {
        checkAlive(subject);
        const reply = await scrape(subject.port, '/metrics', agents[index]);
        if (reply.status !== 200) throw new Error(`${subject.name} answered ${reply.status}: ${reply.body.toString('utf8', 0, 300)}`);
        if (record) scraped[index].push({ samples: countSamples(reply.body), bytes: reply.body.length });
      }
    };
    // Warm-up: the first scrape compiles the serialisation path and fills caches.
    await scrapeAll(false);
    await sleep(1000);

    samplers = subjects.map((subject) => new ProcessSampler(subject.child.pid!));
    for (const sampler of samplers) sampler.start();
    const first = samplers.map((sampler) => sampler.samples[0]);
    const windowStart = performance.now();
    const windowEnd = windowStart + durationS * 1000;
    for (let k = 0; k * scrapeEveryS < durationS; k++) {
      await sleep(windowStart + k * scrapeEveryS * 1000 - performance.now());
      await scrapeAll(true);
    }
    await sleep(windowEnd - performance.now());
    const last = samplers.map((sampler) => sampler.sample());
    for (const agent of agents) agent.destroy();

    return subjects.map((subject, index) => {
      checkAlive(subject);
      const end = last[index].memory;
      const peak = readMemory(subject.child.pid!).peakKiB;
      const scrapes = scraped[index];
      const mean = (pick: (s: { samples: number; bytes: number }) => number) => scrapes.reduce((sum, s) => sum + pick(s), 0) / scrapes.length;
      return {
        process: subject.name,
        cpuPercent: ProcessSampler.cpuPercent(first[index], last[index]),
        cpuMs: ((last[index].cpuTicks - first[index].cpuTicks) * 1000) / ticksPerSecond(),
        rssEndMiB: end.rssKiB / 1024,
        rssMaxMiB: samplers[index].maxRssKiB(windowStart) / 1024,
        peakMiB: peak / 1024,
        anonEndMiB: end.anonKiB / 1024,
        fileEndMiB: end.fileKiB / 1024,
        scrapes: scrapes.length,
        samplesPerScrape: Math.round(mean((s) => s.samples)),
        bytesPerScrape: Math.round(mean((s) => s.bytes)),
      };
    });
  } finally {
    for (const sampler of samplers) sampler.stop();
    await Promise.all(subjects.map((subject) => stopProcess(subject.child)));
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatIdleTable(rows: IdleRow[], options: IdleOptions = {}): string {
  const { durationS = 60, scrapeEveryS = 15, hostmetricsEveryS = 30 } = options;
  const title =
    `Idle cost: ${durationS} s window after one warm-up scrape, scraped every ${scrapeEveryS} s, ` +
    `agent reading the host every ${hostmetricsEveryS} s; CPU from utime+stime (10 ms ticks), memory from /proc/<pid>/status`;
  const headers = ['process', 'cpu % core', 'cpu ms', 'rss end MiB', 'rss max MiB', 'peak (HWM) MiB', 'anon MiB', 'file MiB', 'scrapes', 'samples/scrape', 'bytes/scrape'];
  const body: Cell[][] = rows.map((r) => [
    r.process,
    r.cpuPercent.toFixed(3),
    Math.round(r.cpuMs),
    r.rssEndMiB.toFixed(1),
    r.rssMaxMiB.toFixed(1),
    r.peakMiB.toFixed(1),
    r.anonEndMiB.toFixed(1),
    r.fileEndMiB.toFixed(1),
    r.scrapes,
    r.samplesPerScrape,
    r.bytesPerScrape,
  ]);
  return formatTable(title, headers, body);
}

// ---- Where the agent's resident memory goes ----

export interface MemoryRow {
  what: string;
  rssMiB: number;
  anonMiB: number;
  fileMiB: number;
  heapTotalMiB: number;
  heapUsedMiB: number;
  newSpaceMiB: number;
}

/**
 * Loaded with --import into every measured process: after `delay` ms it prints one line with
 * the process's own view of its memory (V8 heap spaces) and the kernel's (/proc/self/status).
 */
const PROBE = `
import { readFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
setTimeout(() => {
  const usage = process.memoryUsage();
  const newSpace = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = (name) => Number(new RegExp('^' + name + ':\\\\s+(\\\\d+)', 'm').exec(status)[1]);
  process.stdout.write('memory-probe ' + JSON.stringify({
    rss: kib('VmRSS'), anon: kib('RssAnon'), file: kib('RssFile'),
    heapTotal: usage.heapTotal, heapUsed: usage.heapUsed, newSpace: newSpace ? newSpace.space_size : 0,
  }) + '\\n');
}, Number(process.env.MEMORY_PROBE_DELAY_MS)).unref();
`;

interface MemoryCase {
  what: string;
  args: string[];
  /** Set for agents: their port, scraped once before the probe fires. */
  port?: number;
}

function runtimeDependencies(): string[] {
  const manifest = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  return Object.keys(manifest.dependencies ?? {}).sort();
}

/** A program that imports `modules` and then idles, so its cost is the modules' alone. */
function importing(modules: string[]): string[] {
  const imports = modules.map((name) => `await import(${JSON.stringify(name)});`).join(' ');
  return ['--input-type=module', '-e', `${imports} setInterval(() => {}, 1000);`];
}

/**
 * Resident memory of: Node with an empty program, Node importing each runtime dependency
 * alone and all of them together, and the agent itself (scraped once) with each variant's
 * flags. All run at the same time; each reports its memory `settleMs` after it started.
 */
export async function runMemoryBreakdown(variants: AgentVariant[] = DEFAULT_VARIANTS, settleMs = 10_000): Promise<MemoryRow[]> {
  requireTools();
  const dir = mkdtempSync(join(tmpdir(), 'otel-agent-bench-'));
  const probe = join(dir, 'probe.mjs');
  writeFileSync(probe, PROBE);
  const dependencies = runtimeDependencies();
  const cases: MemoryCase[] = [
    { what: 'node, empty program', args: importing([]) },
    ...dependencies.map((name) => ({ what: `node + import ${name}`, args: importing([name]) })),
    { what: 'node + import every runtime dependency', args: importing(dependencies) },
  ];
  for (const [index, variant] of variants.entries()) {
    const port = await freePort();
    const config = join(dir, `agent-${index}.yaml`);
    writeFileSync(config, agentConfig(port, 30));
    cases.push({ what: agentName(variant), args: [...variant.nodeFlags, AGENT_MAIN, 'run', '-c', config], port });
  }
  const running = cases.map((c) => {
    const env = { ...childEnv(), MEMORY_PROBE_DELAY_MS: String(settleMs) };
    const child = spawn(process.execPath, [`--import=${pathToFileURL(probe).href}`, ...c.args], { cwd: PACKAGE_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4096)));
    child.on('error', (error) => (stderr += `\n${error.message}`));
    const report = new Promise<MemoryRow>((resolve, reject) => {
      const poll = setInterval(() => {
        const line = stdout.split('\n').find((text) => text.startsWith('memory-probe '));
        if (line === undefined && child.exitCode === null) return;
        clearInterval(poll);
        if (line === undefined) return reject(new Error(`${c.what} exited (${child.exitCode}) before reporting: ${stderr}`));
        const m = JSON.parse(line.slice('memory-probe '.length)) as Record<string, number>;
        resolve({
          what: c.what,
          rssMiB: m.rss / 1024,
          anonMiB: m.anon / 1024,
          fileMiB: m.file / 1024,
          heapTotalMiB: mib(m.heapTotal),
          heapUsedMiB: mib(m.heapUsed),
          newSpaceMiB: mib(m.newSpace),
        });
      }, 100);
    });
    return { c, child, report, log: () => stderr };
  });
  // Agents serve one scrape before they report, as they would in service.
  const scraped = running
    .filter((r) => r.c.port !== undefined)
    .map(async (r) => {
      await waitForMetrics(r.c.port!, settleMs - 1000, () => `${r.c.what} log: ${r.log() || '(empty)'}`);
      await scrape(r.c.port!);
    });
  try {
    const [rows] = await Promise.all([Promise.all(running.map((r) => r.report)), ...scraped]);
    return rows;
  } finally {
    await Promise.all(running.map((r) => stopProcess(r.child)));
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatMemoryTable(rows: MemoryRow[]): string {
  const title = 'Where resident memory goes: each process measured by itself (an --import probe) 10 s after start; agents scraped once';
  const headers = ['process', 'rss MiB', 'anon MiB', 'file MiB', 'heap total MiB', 'heap used MiB', 'new space MiB'];
  return formatTable(
    title,
    headers,
    rows.map((r) => [r.what, ...[r.rssMiB, r.anonMiB, r.fileMiB, r.heapTotalMiB, r.heapUsedMiB, r.newSpaceMiB].map((v) => v.toFixed(1))]),
  );
}
