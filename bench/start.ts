// Start-up cost: the agent built in dist/ run on the shipped otel-agent.yaml (its port moved
// to a free one), timed from spawn to the first 200 of /ready and to the first successful
// scrape of /metrics, with its resident memory read right after that scrape. Also how long
// `validate` and `components` take, which load schemas only, and what importing the registry
// (src/components.ts) alone costs a fresh node, in time and RSS. Best of several runs, since
// start-up is noisy; a second build (`--start-baseline=<dir>/src/cli/main.js`) runs in the
// same loop, alternating, so both are measured on the same machine in the same minutes.
//
//   npm run bench -- start [--start-runs=9] [--start-baseline=/path/to/dist/src/cli/main.js]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatTable, freePort, mib, readMemory, sleep, stopProcess } from './support.js';

const AGENT_MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const SHIPPED_CONFIG = fileURLToPath(new URL('../../otel-agent.yaml', import.meta.url));

export interface StartOptions {
  runs?: number;
  /** Another build's main.js, measured alongside. */
  baseline?: string;
}

interface RunResult {
  readyMs: number;
  scrapedMs: number;
  rssKiB: number;
  validateMs: number;
  componentsMs: number;
  registryImportMs: number;
  registryRssKiB: number;
}

export interface StartRow extends RunResult {
  build: string;
  runs: number;
}

function status(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Polls every 2 ms until `path` answers 200; the time since `from`. */
async function timeTo200(port: number, path: string, from: number, deadline: number): Promise<number> {
  while ((await status(port, path)) !== 200) {
    if (performance.now() > deadline) throw new Error(`no 200 on ${path} within the deadline`);
    await sleep(2);
  }
  return performance.now() - from;
}

/** Runs `main` with `args` to its exit; its wall time. */
async function timed(main: string, args: string[]): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [main, ...args], { stdio: 'ignore' });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${main} ${args.join(' ')} exited with ${code}`);
  return performance.now() - started;
}

/** A fresh node importing the registry next to `main`: the import's time and the process's VmRSS after it. */
async function registryImport(main: string): Promise<{ registryImportMs: number; registryRssKiB: number }> {
  const registry = pathToFileURL(join(dirname(main), '../components.js')).href;
  const script = `const started = performance.now(); await import(${JSON.stringify(registry)});
const ms = performance.now() - started;
const rss = /VmRSS:\\s+(\\d+)/.exec((await import('node:fs')).readFileSync('/proc/self/status', 'utf8'))[1];
process.stdout.write(JSON.stringify({ registryImportMs: ms, registryRssKiB: Number(rss) }));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (chunk) => (out += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`importing ${registry} exited with ${code}`);
  return JSON.parse(out) as { registryImportMs: number; registryRssKiB: number };
}

async function runOnce(main: string, dir: string): Promise<RunResult> {
  const port = await freePort();
  const config = join(dir, 'otel-agent.yaml');
  writeFileSync(config, readFileSync(SHIPPED_CONFIG, 'utf8').replaceAll('127.0.0.1:9464', `127.0.0.1:${port}`));
  const started = performance.now();
  const child = spawn(process.execPath, [main, 'run', '-c', config], { stdio: process.env.BENCH_START_DEBUG ? 'inherit' : 'ignore', env: { ...process.env, STATE_DIRECTORY: dir } });
  try {
    const deadline = started + 30_000;
    const readyMs = await timeTo200(port, '/ready', started, deadline);
    const scrapedMs = await timeTo200(port, '/metrics', started, deadline);
    const { rssKiB } = readMemory(child.pid!);
    await stopProcess(child);
    const validateMs = await timed(main, ['validate', '-c', config]);
    const componentsMs = await timed(main, ['components']);
    return { readyMs, scrapedMs, rssKiB, validateMs, componentsMs, ...(await registryImport(main)) };
  } finally {
    await stopProcess(child);
  }
}

/** The smallest of each figure over the runs: what start-up costs without the machine's noise. */
function best(results: RunResult[]): RunResult {
  const min = (key: keyof RunResult) => Math.min(...results.map((result) => result[key]));
  const keys = Object.keys(results[0]) as (keyof RunResult)[];
  return Object.fromEntries(keys.map((key) => [key, min(key)])) as unknown as RunResult;
}

export async function runStartBench(options: StartOptions = {}): Promise<StartRow[]> {
  const runs = options.runs ?? 9;
  const builds = [{ build: 'this build', main: AGENT_MAIN }, ...(options.baseline ? [{ build: 'baseline', main: options.baseline }] : [])];
  const results = new Map<string, RunResult[]>(builds.map(({ build }) => [build, []]));
  const dir = mkdtempSync(join(tmpdir(), 'otel-agent-bench-start-'));
  try {
    // Alternating, so a busy moment of the machine falls on both builds alike.
    for (let run = 0; run < runs; run++) {
      for (const { build, main } of builds) results.get(build)!.push(await runOnce(main, dir));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return builds.map(({ build }) => ({ build, runs, ...best(results.get(build)!) }));
}

export function formatStartTable(rows: StartRow[]): string {
  return formatTable(
    'Start-up on the shipped otel-agent.yaml: spawn to /ready and to the first scrape, RSS then; validate and components wall time; the registry imported alone (best of runs)',
    ['build', 'runs', 'to /ready ms', 'to first scrape ms', 'rss MiB', 'validate ms', 'components ms', 'registry import ms', 'registry rss MiB'],
    rows.map((row) => [
      row.build,
      row.runs,
      row.readyMs.toFixed(0),
      row.scrapedMs.toFixed(0),
      mib(row.rssKiB * 1024).toFixed(1),
      row.validateMs.toFixed(0),
      row.componentsMs.toFixed(0),
      row.registryImportMs.toFixed(0),
      mib(row.registryRssKiB * 1024).toFixed(1),
    ]),
  );
}
