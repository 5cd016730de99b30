// Runs the benchmarks and prints one table each.
//
//   npm run bench                          every benchmark
//   npm run bench -- idle scrape           a subset: idle, memory, hostmetrics, process, scrape, serializer, joblog, netlink, checkpoint, processors, redis, mqtt, checksum, authflood, start
//   npm run bench -- netlink --netlink-flaps=2000
//   npm run bench -- idle --idle-seconds=30
//   npm run bench -- soak --soak-seconds=600   only when named: an hour by default
//   npm run bench -- start --start-runs=9 --start-baseline=<other build>/dist/src/cli/main.js
import { cpus, loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { formatAuthFloodTable, runAuthFloodBench } from './authflood.js';
import { formatCheckpointTable, runCheckpointBench } from './checkpoint.js';
import { formatChecksumTable, runChecksumBench } from './checksum.js';
import { runHostmetricsBench, type BenchRow } from './hostmetrics.js';
import { formatIdleTable, formatMemoryTable, runIdleBench, runMemoryBreakdown, type IdleOptions } from './idle.js';
import { formatJoblogTable, runJoblogBench } from './joblog.js';
import { formatMqttTable, runMqttBench } from './mqtt.js';
import { formatNetlinkTable, runNetlinkBench, type NetlinkOptions } from './netlink.js';
import { formatProcessTable, runProcessBench } from './process.js';
import { formatProcessorsTable, runProcessorsBench } from './processors.js';
import { formatRedisTable, runRedisBench } from './redis.js';
import { formatScrapeTable, runScrapeBench } from './scrape.js';
import { runSerializerBench, type Row as SerializerRow } from './serializer.js';
import { formatSoakTable, runSoakBench, type SoakOptions } from './soak.js';
import { formatStartTable, runStartBench, type StartOptions } from './start.js';
import { formatTable, type Cell } from './support.js';

function hostmetricsTable(rows: BenchRow[]): string {
  const headers = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  return formatTable(
    'Host metrics: one scrape of /proc and /sys, all scrapers and each alone; heap growth after a forced GC',
    headers,
    rows.map((row) => headers.map((header) => row[header] ?? '')),
  );
}

function serializerTable(rows: SerializerRow[]): string {
  const ms = (value: number) => value.toFixed(value < 10 ? 2 : 1);
  const body: Cell[][] = rows.map((r) => [
    r.shape,
    r.series,
    `${r.oursRuns} / ${r.stockRuns}`,
    `${ms(r.oursMedianMs)} / ${ms(r.oursP99Ms)}`,
    `${ms(r.stockMedianMs)} / ${ms(r.stockP99Ms)}`,
    `${r.speedup.toFixed(1)}x`,
    `${r.oursBytes} / ${r.stockBytes}`,
    r.oursStallMs === undefined ? '' : `${ms(r.oursStallMs)} / ${ms(r.stockStallMs ?? 0)}`,
  ]);
  return formatTable(
    'Serialisation alone: the same SDK-collected data through our serializer and the stock PrometheusSerializer',
    ['shape', 'series', 'runs ours / stock', 'ours median / p99 ms', 'stock median / p99 ms', 'speedup', 'bytes ours / stock', 'stall ours / stock ms'],
    body,
  );
}

interface Bench {
  run(idle: IdleOptions): Promise<string>;
}

const BENCHES: Record<string, Bench> = {
  idle: { run: async (options) => formatIdleTable(await runIdleBench(options), options) },
  memory: { run: async () => formatMemoryTable(await runMemoryBreakdown()) },
  hostmetrics: { run: async () => hostmetricsTable(await runHostmetricsBench()) },
  process: { run: async () => formatProcessTable(await runProcessBench()) },
  scrape: { run: async () => formatScrapeTable(await runScrapeBench()) },
  serializer: { run: async () => serializerTable(await runSerializerBench()) },
  joblog: { run: async () => formatJoblogTable(await runJoblogBench()) },
  netlink: { run: async () => formatNetlinkTable(await runNetlinkBench(netlink)) },
  checkpoint: { run: async () => formatCheckpointTable(await runCheckpointBench()) },
  processors: { run: async () => formatProcessorsTable(await runProcessorsBench()) },
  redis: { run: async () => formatRedisTable(await runRedisBench()) },
  mqtt: { run: async () => formatMqttTable(await runMqttBench()) },
  checksum: { run: async () => formatChecksumTable(await runChecksumBench()) },
  soak: { run: async () => formatSoakTable(await runSoakBench(soak)) },
  authflood: { run: async () => formatAuthFloodTable(await runAuthFloodBench()) },
  start: { run: async () => formatStartTable(await runStartBench(start)) },
};

/** Run only when asked for by name, not by a bare `npm run bench`. */
const ONLY_BY_NAME = new Set(['soak']);

const soak: SoakOptions = {};
const start: StartOptions = {};
const netlink: NetlinkOptions = {};
const SOAK_OPTIONS: Record<string, keyof SoakOptions> = {
  'soak-seconds': 'durationS',
  'soak-rate': 'linesPerSecond',
  'soak-sighup-seconds': 'sighupEveryS',
};

function usage(problem: string): never {
  process.stderr.write(
    `${problem}\nusage: npm run bench -- [${Object.keys(BENCHES).join('|')}]... [--idle-seconds=<n>] ` +
      '[--soak-seconds=<n>] [--soak-rate=<lines/s>] [--soak-sighup-seconds=<n>] [--start-runs=<n>] [--start-baseline=<main.js>] [--netlink-flaps=<n>]\n',
  );
  process.exit(2);
}

function parseArguments(args: string[]): { names: string[]; idle: IdleOptions } {
  const names: string[] = [];
  const idle: IdleOptions = {};
  for (const arg of args) {
    const seconds = /^--idle-seconds=(.*)$/.exec(arg);
    const soakOption = /^--(soak-[a-z-]+)=(.*)$/.exec(arg);
    if (seconds) {
      const value = Number(seconds[1]);
      if (!Number.isInteger(value) || value < 1) usage(`--idle-seconds wants a whole number of seconds, got "${seconds[1]}"`);
      idle.durationS = value;
    } else if (soakOption && soakOption[1] in SOAK_OPTIONS) {
      const value = Number(soakOption[2]);
      if (!Number.isInteger(value) || value < 1) usage(`--${soakOption[1]} wants a positive whole number, got "${soakOption[2]}"`);
      soak[SOAK_OPTIONS[soakOption[1]]] = value;
    } else if (/^--start-runs=/.test(arg)) {
      const value = Number(arg.slice('--start-runs='.length));
      if (!Number.isInteger(value) || value < 1) usage(`--start-runs wants a positive whole number, got "${arg}"`);
      start.runs = value;
    } else if (/^--netlink-flaps=/.test(arg)) {
      const value = Number(arg.slice('--netlink-flaps='.length));
      if (!Number.isInteger(value) || value < 1) usage(`--netlink-flaps wants a positive whole number, got "${arg}"`);
      netlink.flaps = value;
    } else if (/^--start-baseline=./.test(arg)) {
      start.baseline = arg.slice('--start-baseline='.length);
    } else if (arg in BENCHES) {
      names.push(arg);
    } else {
      usage(`unknown benchmark or option "${arg}"`);
    }
  }
  return { names: names.length > 0 ? names : Object.keys(BENCHES).filter((name) => !ONLY_BY_NAME.has(name)), idle };
}

function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const memory = (totalmem() / 1024 ** 3).toFixed(1);
  const load = loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
  return `node ${process.version}, ${cpus().length} x ${cpu}, ${memory} GiB, load average at start ${load}, ${new Date().toISOString()}`;
}

const { names, idle } = parseArguments(process.argv.slice(2));
console.log(machine());
for (const name of names) {
  const started = performance.now();
  const table = await BENCHES[name].run(idle);
  console.log(`\n${table}\n(${name}: ${((performance.now() - started) / 1000).toFixed(0)} s)`);
}
