// Authorised scrapes while someone floods /metrics with wrong basic-auth passwords: the
// agent's prometheus exporter (basic_auth with a cost-10 bcrypt hash) serving 1,000 series,
// scraped once every 250 ms with the right credentials, first alone and then while a flood
// client sends 50 requests a second, each with a different wrong password, on new
// connections. prometheus-node-exporter with the same hash in its web config is measured
// the same way when it is installed. The agent runs on this process's main thread; both
// clients run on a worker thread, so a stalled server does not slow the measuring side.
//
//   npm run bench -- authflood
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request, type Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import bcrypt from 'bcryptjs';
import { MetricStore } from '../src/metrics/store.js';
import { ViewSet } from '../src/metrics/views.js';
import { serveStore } from './serve.js';
import { formatTable, freePort, keepAliveAgent, sleep, stopProcess, summarise, type Cell } from './support.js';

const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
const USERNAME = 'prometheus';
const PASSWORD = 'right horse battery staple';
/** htpasswd -B's default cost; about 67 ms per check in bcryptjs on the machine of RESULTS.md. */
const BCRYPT_COST = 10;
const SERIES = 1_000;
const METRICS = 10;

export interface AuthFloodOptions {
  scrapes?: number;
  scrapeEveryMs?: number;
  floodPerSecond?: number;
  /** A phase ends after this long even when its scrapes are not all done (a stalled server). */
  phaseLimitMs?: number;
}

interface Phase {
  scrapes: number;
  scrapeEveryMs: number;
  /** 0: no flood. */
  floodPerSecond: number;
  phaseLimitMs: number;
  goodHeader: string;
}

interface PhaseResult {
  durationsMs: number[];
  /** Authorised scrapes that did not get a 200 (status or error), by what they got. */
  scrapeFailures: Record<string, number>;
  /** Flood requests by what they got: a status code, or `error`, `timeout`. */
  floodAnswers: Record<string, number>;
  floodSent: number;
}

export interface AuthFloodRow {
  subject: string;
  flood: string;
  wanted: number;
  result: PhaseResult;
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

interface Server {
  name: string;
  port: number;
  close(): Promise<void>;
}

/** The agent's path: MetricStore -> PipelineSource -> prometheus exporter with basic_auth. */
async function startAgent(passwordHash: string): Promise<Server> {
  const store = new MetricStore({ scope: 'bench', views: new ViewSet([{ instrument: '*', seriesLimit: SERIES }]) });
  const perMetric = SERIES / METRICS;
  for (let m = 0; m < METRICS; m++) {
    const counter = store.counter(`bench.network.packets.m${m}`, { unit: '{packets}', description: 'Packets seen.', valueType: 'int' });
    for (let i = 0; i < perMetric; i++) counter.add(i * 3 + 1, { device: `eth${Math.floor(i / 2)}`, 'network.io.direction': i % 2 === 0 ? 'receive' : 'transmit' });
  }
  const served = await serveStore(store, { 'service.name': 'otel-agent', 'host.name': 'bench-host' }, {
    basic_auth: { username: USERNAME, password_hash: passwordHash },
  });
  return { name: 'otel-agent', ...served };
}


/** node_exporter with `basic_auth_users` in its web config: what a user would run instead. */
async function startNodeExporter(passwordHash: string): Promise<Server> {
  const dir = await mkdtemp(join(tmpdir(), 'otel-agent-bench-authflood-'));
  const webConfig = join(dir, 'web.yml');
  await writeFile(webConfig, `basic_auth_users:\n  ${USERNAME}: '${passwordHash}'\n`);
  const port = await freePort();
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn(NODE_EXPORTER, [`--web.listen-address=127.0.0.1:${port}`, `--web.config.file=${webConfig}`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString('utf8')).slice(-4096)));
  const close = async () => {
    await stopProcess(child);
    await rm(dir, { recursive: true, force: true });
  };
  const header = basic(USERNAME, PASSWORD);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answer = await get(port, header, undefined, 2000).catch((error: Error) => error.message);
    if (typeof answer !== 'string' && answer.status === 200) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      await close();
      throw new Error(`${NODE_EXPORTER} did not serve /metrics with basic auth within 10 s (${typeof answer === 'string' ? answer : answer.status}); its log:\n${log}`);
    }
    await sleep(100);
  }
  return { name: 'prometheus-node-exporter', port, close };
}

function get(port: number, authorization: string, agent: Agent | undefined, timeoutMs: number): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request({ host: '127.0.0.1', port, path: '/metrics', agent: agent ?? false, headers: { authorization } });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.on('response', (res) => {
      res.on('data', () => undefined);
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.end();
  });
}

const tally = (counts: Record<string, number>, key: string) => void (counts[key] = (counts[key] ?? 0) + 1);

/** One phase, run on the worker: the scrapes one after another, and the flood beside them until they end. */
async function runPhase(port: number, phase: Phase): Promise<PhaseResult> {
  const result: PhaseResult = { durationsMs: [], scrapeFailures: {}, floodAnswers: {}, floodSent: 0 };
  const started = performance.now();
  let flooding = phase.floodPerSecond > 0;
  const inFlight = new Set<Promise<void>>();
  const flood = (async () => {
    const everyMs = 1000 / phase.floodPerSecond;
    while (flooding) {
      // Each password differs, so no verdict the server cached can answer it.
      const header = basic(USERNAME, `wrong-${result.floodSent}-${Math.random().toString(36).slice(2)}`);
      result.floodSent += 1;
      const sent = get(port, header, undefined, 30_000).then(
        ({ status }) => tally(result.floodAnswers, String(status)),
        (error: Error) => tally(result.floodAnswers, error.message === 'timeout' ? 'timeout' : 'error'),
      );
      inFlight.add(sent);
      void sent.finally(() => inFlight.delete(sent));
      await sleep(Math.max(0, started + result.floodSent * everyMs - performance.now()));
    }
  })();
  const agent = keepAliveAgent();
  try {
    for (let i = 0; i < phase.scrapes && performance.now() - started < phase.phaseLimitMs; i++) {
      await sleep(Math.max(0, started + i * phase.scrapeEveryMs - performance.now()));
      const left = Math.max(1000, phase.phaseLimitMs - (performance.now() - started));
      try {
        const { status, ms } = await get(port, phase.goodHeader, agent, left);
        if (status === 200) result.durationsMs.push(ms);
        else tally(result.scrapeFailures, String(status));
      } catch (error) {
        tally(result.scrapeFailures, (error as Error).message === 'timeout' ? 'timeout' : 'error');
      }
    }
  } finally {
    flooding = false;
    agent.destroy();
    await flood;
    // The flood's last requests finish or time out on their own (30 s at most).
    await Promise.all(inFlight);
  }
  return result;
}

if (!isMainThread && workerData?.authFloodClient) {
  parentPort!.on('message', async ({ port, phase }: { port: number; phase: Phase }) => {
    try {
      parentPort!.postMessage({ result: await runPhase(port, phase) });
    } catch (error) {
      parentPort!.postMessage({ error: (error as Error).message });
    }
  });
}

class FloodClient {
  private readonly worker = new Worker(new URL(import.meta.url), { workerData: { authFloodClient: true }, execArgv: [] });

  async run(port: number, phase: Phase): Promise<PhaseResult> {
    const reply = await new Promise<{ result?: PhaseResult; error?: string }>((resolve, reject) => {
      this.worker.once('message', resolve);
      this.worker.once('error', reject);
      this.worker.postMessage({ port, phase });
    });
    this.worker.removeAllListeners('error');
    if (reply.error !== undefined) throw new Error(reply.error);
    return reply.result!;
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

export async function runAuthFloodBench(options: AuthFloodOptions = {}): Promise<AuthFloodRow[]> {
  const { scrapes = 60, scrapeEveryMs = 250, floodPerSecond = 50, phaseLimitMs = 60_000 } = options;
  const passwordHash = await bcrypt.hash(PASSWORD, BCRYPT_COST);
  const goodHeader = basic(USERNAME, PASSWORD);
  const starters: Array<(hash: string) => Promise<Server>> = [startAgent];
  if (existsSync(NODE_EXPORTER)) starters.push(startNodeExporter);
  const rows: AuthFloodRow[] = [];
  const client = new FloodClient();
  try {
    for (const start of starters) {
      const server = await start(passwordHash);
      try {
        // Warm-up: the first scrape verifies the good credentials and compiles the serialising path.
        await client.run(server.port, { scrapes: 2, scrapeEveryMs: 0, floodPerSecond: 0, phaseLimitMs, goodHeader });
        for (const flood of [0, floodPerSecond]) {
          const result = await client.run(server.port, { scrapes, scrapeEveryMs, floodPerSecond: flood, phaseLimitMs, goodHeader });
          rows.push({ subject: server.name, flood: flood === 0 ? 'none' : `${flood}/s wrong passwords`, wanted: scrapes, result });
          // Let the server finish whatever the flood left it before the next phase.
          await sleep(2000);
        }
      } finally {
        await server.close();
      }
    }
  } finally {
    await client.close();
  }
  return rows;
}

export function formatAuthFloodTable(rows: AuthFloodRow[]): string {
  const title =
    `Authorised scrapes (basic auth, bcrypt cost ${BCRYPT_COST}, ${SERIES} series, one every 250 ms on a keep-alive connection) ` +
    'with and without a flood of distinct wrong passwords on new connections';
  const ms = (value: number) => value.toFixed(value < 10 ? 2 : 1);
  const counts = (record: Record<string, number>) =>
    Object.entries(record)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, count]) => `${key}: ${count}`)
      .join(', ');
  const body: Cell[][] = rows.map(({ subject, flood, wanted, result }) => {
    const stats = result.durationsMs.length > 0 ? summarise(result.durationsMs) : undefined;
    return [
      subject,
      flood,
      `${result.durationsMs.length} / ${wanted}`,
      stats ? ms(stats.median) : '',
      stats ? ms(stats.p99) : '',
      stats ? ms(stats.max) : '',
      counts(result.scrapeFailures) || 'none',
      result.floodSent === 0 ? '' : `${result.floodSent} sent; ${counts(result.floodAnswers)}`,
    ];
  });
  return formatTable(title, ['subject', 'flood', 'scrapes 200 / wanted', 'median ms', 'p99 ms', 'max ms', 'scrapes refused', 'flood answers'], body);
}
