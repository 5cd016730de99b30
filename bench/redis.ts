// A Redis collection by the redis receiver, side by side with prometheus-redis-exporter
// (Debian's redis_exporter) configured for the same keys, against one redis-server started
// here on a free port: with 10 list keys, and with a pattern over 100,000 keys. Per contender:
// collection latency median / p99, CPU per collection, series produced, and the longest any
// one command held the server (its SLOWLOG, threshold 0.5 ms).
//
// The receiver is timed in-process (one scrape(): PING, INFO x3, key pipelines, SCANs);
// redis_exporter is timed as a GET of its /metrics, which is when it collects.
// Run alone: `npx tsc -p tsconfig.build.json && node dist/bench/redis.js`.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { ReceiverSettings } from '../src/component/types.js';
import { MetricStore } from '../src/metrics/store.js';
import { configSchema } from '../src/receivers/redis/config.js';
import { RedisReceiver } from '../src/receivers/redis/receiver.js';
import { StateDirectory } from '../src/state/store.js';
import { silentLogger } from '../src/telemetry/silent-logger.js';
import { countSamples, formatTable, freePort, keepAliveAgent, percentile, readCpuTicks, scrape, sleep, stopProcess, ticksPerSecond } from './support.js';

const run = promisify(execFile);
const REDIS_EXPORTER = '/usr/bin/prometheus-redis-exporter';
/** Commands slower than this land in the slowlog: well under the 10 ms target. */
const SLOWLOG_THRESHOLD_US = 500;

export interface RedisBenchRow {
  shape: string;
  contender: string;
  collections: number;
  medianMs: number;
  p99Ms: number;
  cpuMsPerCollection: number;
  series: number;
  /** The longest one command took on the server, ms; 0 when none passed the threshold. */
  serverMaxMs: number;
  serverMaxCommand: string;
}

interface Shape {
  name: string;
  collections: number;
  receiver: Record<string, unknown>;
  exporterArgs: string[];
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { maxBuffer: 256 * 1024 * 1024 });
  return stdout.trim();
}

async function startRedis(): Promise<{ port: number; child: ChildProcess; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'otel-agent-bench-redis-'));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--enable-debug-command', 'local'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (data: Buffer) => {
      out += data.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out.slice(-400)}`)));
  });
  child.stdout!.resume();
  return { port, child, dir };
}

/** The slowest command since the last reset, then a reset. */
async function slowest(port: number): Promise<{ ms: number; command: string }> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--json', 'SLOWLOG', 'GET', '100000'], { maxBuffer: 256 * 1024 * 1024 }).catch(async () =>
    // redis-cli before 7 has no --json: read the plain reply (id, time, duration, args...) instead.
    ({ stdout: '' }),
  );
  await cli(port, 'SLOWLOG', 'RESET');
  let best = { ms: 0, command: '' };
  if (stdout === '') return best;
  const entries = JSON.parse(stdout) as Array<[number, number, number, string[]]>;
  for (const [, , durationUs, args] of entries) {
    if (durationUs / 1000 > best.ms) best = { ms: durationUs / 1000, command: args.slice(0, 4).join(' ') };
  }
  return best;
}

function settings(meter: MetricStore): ReceiverSettings {
  return {
    id: 'redis',
    meter,
    telemetry: new MetricStore({ scope: 'otel-agent' }),
    logger: silentLogger(),
    status: { report() {} },
    store: new StateDirectory('/nonexistent', silentLogger()).storeFor('receiver', 'redis'),
  };
}

async function benchReceiver(port: number, shape: Shape): Promise<RedisBenchRow> {
  const meter = new MetricStore({ scope: 'redis' });
  const receiver = new RedisReceiver(settings(meter), configSchema.parse({ endpoint: `redis://127.0.0.1:${port}`, collection_interval: '1h', command_timeout: '30s', ...shape.receiver }));
  await receiver.start(new AbortController().signal);
  await receiver.scrape();
  for (let i = 0; i < 3; i++) await receiver.scrape();
  await slowest(port);
  const durations: number[] = [];
  const cpuStart = process.cpuUsage();
  for (let i = 0; i < shape.collections; i++) {
    const started = performance.now();
    const result = await receiver.scrape();
    durations.push(performance.now() - started);
    if (result === undefined) throw new Error('the receiver failed a collection');
  }
  const cpu = process.cpuUsage(cpuStart);
  const server = await slowest(port);
  let series = 0;
  for (const count of meter.seriesCounts().values()) series += count;
  await receiver.shutdown();
  durations.sort((a, b) => a - b);
  return {
    shape: shape.name,
    contender: 'otel-agent redis receiver',
    collections: shape.collections,
    medianMs: percentile(durations, 50),
    p99Ms: percentile(durations, 99),
    cpuMsPerCollection: (cpu.user + cpu.system) / 1000 / shape.collections,
    series,
    serverMaxMs: server.ms,
    serverMaxCommand: server.command,
  };
}

async function benchExporter(port: number, shape: Shape): Promise<RedisBenchRow> {
  const listen = await freePort();
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn(REDIS_EXPORTER, [`-redis.addr=redis://127.0.0.1:${port}`, `-web.listen-address=127.0.0.1:${listen}`, ...shape.exporterArgs], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString('utf8')).slice(-4096)));
  try {
    const agent = keepAliveAgent();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const answer = await scrape(listen, '/metrics', agent, 60_000).catch(() => undefined);
      if (answer?.status === 200) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${REDIS_EXPORTER} did not serve /metrics within 10 s; its log:\n${log}`);
      await sleep(100);
    }
    for (let i = 0; i < 3; i++) await scrape(listen, '/metrics', agent, 60_000);
    await slowest(port);
    const durations: number[] = [];
    let samples = 0;
    const ticksStart = readCpuTicks(child.pid!);
    for (let i = 0; i < shape.collections; i++) {
      const reply = await scrape(listen, '/metrics', agent, 60_000);
      if (reply.status !== 200) throw new Error(`${REDIS_EXPORTER} answered ${reply.status}`);
      durations.push(reply.ms);
      samples = countSamples(reply.body);
    }
    const ticks = readCpuTicks(child.pid!) - ticksStart;
    const server = await slowest(port);
    agent.destroy();
    durations.sort((a, b) => a - b);
    return {
      shape: shape.name,
      contender: 'prometheus-redis-exporter',
      collections: shape.collections,
      medianMs: percentile(durations, 50),
      p99Ms: percentile(durations, 99),
      cpuMsPerCollection: ((ticks / ticksPerSecond()) * 1000) / shape.collections,
      series: samples,
      serverMaxMs: server.ms,
      serverMaxCommand: server.command,
    };
  } finally {
    await stopProcess(child);
  }
}

export async function runRedisBench(): Promise<RedisBenchRow[]> {
  const redis = await startRedis();
  const rows: RedisBenchRow[] = [];
  try {
    const { port } = redis;
    const lists = Array.from({ length: 10 }, (_, i) => `list:${i}`);
    for (const key of lists) await cli(port, 'RPUSH', key, 'a', 'b', 'c');
    await cli(port, 'DEBUG', 'POPULATE', '100000', 'queue');
    await cli(port, 'CONFIG', 'SET', 'slowlog-log-slower-than', String(SLOWLOG_THRESHOLD_US));
    await cli(port, 'CONFIG', 'SET', 'slowlog-max-len', '100000');
    const shapes: Shape[] = [
      {
        name: '10 keys',
        collections: 300,
        receiver: { keys: lists.map((key) => ({ key })) },
        exporterArgs: [`-check-single-keys=${lists.map((key) => `db0=${key}`).join(',')}`],
      },
      {
        name: '100,000-key pattern',
        collections: 10,
        receiver: { key_patterns: [{ pattern: 'queue:*', max_keys: 100_000, max_series: 2000, scan_count: 1000 }] },
        exporterArgs: ['-check-keys=db0=queue:*'],
      },
      {
        name: '100,000-key pattern, default caps',
        collections: 100,
        receiver: { key_patterns: [{ pattern: 'queue:*' }] },
        exporterArgs: [],
      },
    ];
    for (const shape of shapes) {
      rows.push(await benchReceiver(port, shape));
      if (shape.exporterArgs.length > 0) rows.push(await benchExporter(port, shape));
    }
  } finally {
    await stopProcess(redis.child);
    await rm(redis.dir, { recursive: true, force: true });
  }
  return rows;
}

export function formatRedisTable(rows: RedisBenchRow[]): string {
  return formatTable(
    'Redis: one collection by the redis receiver and by prometheus-redis-exporter (a /metrics GET), same server and keys; server max = longest single command in SLOWLOG (0 = none over 0.5 ms)',
    ['shape', 'contender', 'collections', 'median ms', 'p99 ms', 'CPU ms / collection', 'series', 'server max ms', 'slowest command'],
    rows.map((r) => [r.shape, r.contender, r.collections, r.medianMs, r.p99Ms, r.cpuMsPerCollection, r.series, r.serverMaxMs, r.serverMaxCommand]),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatRedisTable(await runRedisBench()));
}
