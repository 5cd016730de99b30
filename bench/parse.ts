// Lines per second through each line format's parser, next to a bare JSON.parse of the same
// JSON lines, and through parser + mapping into a metric store.
// Run alone: `npx tsc -p tsconfig.build.json && node dist/bench/parse.js`.
import { pathToFileURL } from 'node:url';
import { compileMapping, fieldsRead, metricsSchema } from '../src/events/mapping/index.js';
import { MetricStore } from '../src/metrics/store.js';
import {
  compileJsonParser,
  compileLineParser,
  compileLogfmtParser,
  compileRegexParser,
  parseJsonLine,
  parseLogfmtLine,
  type BytesParser,
  type FormatParser,
  type LineParserConfig,
} from '../src/events/parse.js';

export type BenchRow = Record<string, string | number>;

const LINES = 200_000;
const ROUNDS = 5;
const OPERATIONS = ['inspect', 'convert', 'resize', 'verify'];
const RESULTS = ['success', 'failure', 'cancelled'];

const RUNNER_PATTERN =
  '^(?<time>\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ): (?:Running job: (?<started>\\S+)|Job (?<job>\\S+) completed with result: (?<result>\\w+))$';

function jobFields(i: number) {
  return {
    time: new Date(Date.UTC(2026, 0, 5, 8, 0, 0) + i * 250).toISOString(),
    event: i % 2 === 0 ? 'started' : 'completed',
    job_id: `job-${(i >> 1) + 100000}`,
    operation: OPERATIONS[i % OPERATIONS.length],
    status: RESULTS[i % RESULTS.length],
    duration_s: ((i % 997) * 0.37).toFixed(2),
  };
}

function jsonLines(): string[] {
  return Array.from({ length: LINES }, (_, i) => {
    const f = jobFields(i);
    return JSON.stringify({ time: f.time, level: 'info', event: f.event, job_id: f.job_id, operation: f.operation, status: f.status, duration_s: Number(f.duration_s) });
  });
}

function logfmtLines(): string[] {
  return Array.from({ length: LINES }, (_, i) => {
    const f = jobFields(i);
    return `time=${f.time} level=info event=${f.event} job_id=${f.job_id} operation=${f.operation} status=${f.status} duration_s=${f.duration_s} msg="job ${f.event} \\"ok\\""`;
  });
}

function runnerLines(): string[] {
  return Array.from({ length: LINES }, (_, i) => {
    const f = jobFields(i);
    const time = f.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
    return i % 2 === 0 ? `${time}: Running job: ${f.job_id}` : `${time}: Job ${f.job_id} completed with result: Succeeded`;
  });
}

/** Best of several rounds: the figure least disturbed by the rest of the machine. */
function linesPerSecond<Line>(lines: readonly Line[], parse: (line: Line) => unknown): number {
  let sink = 0;
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    for (let i = 0; i < lines.length; i++) if (parse(lines[i]) !== undefined) sink++;
    best = Math.min(best, performance.now() - started);
  }
  if (sink === 0) throw new Error('nothing parsed');
  return Math.round(lines.length / (best / 1000));
}

function formatRow(format: string, lines: readonly string[], parse: FormatParser | ((line: string) => unknown)): BenchRow {
  const bytes = lines.reduce((total, line) => total + Buffer.byteLength(line) + 1, 0);
  const rate = linesPerSecond(lines, parse);
  return { step: 'parse', format, lines_per_s: rate, mib_per_s: Number(((rate * bytes) / lines.length / 2 ** 20).toFixed(1)) };
}

/** Lines as the tailer hands them on: their bytes. */
function encoded(lines: readonly string[]): Buffer[] {
  return lines.map((line) => Buffer.from(line));
}

/** A parser fed the lines' bytes. */
function bytesRow(format: string, lines: readonly string[], parse: BytesParser): BenchRow {
  const bytes = lines.reduce((total, line) => total + Buffer.byteLength(line) + 1, 0);
  const rate = linesPerSecond(encoded(lines), (line) => parse(line, 0, line.length));
  return { step: 'parse', format, lines_per_s: rate, mib_per_s: Number(((rate * bytes) / lines.length / 2 ** 20).toFixed(1)) };
}

const JOB_METRICS = metricsSchema.parse([
  { name: 'worker.jobs', type: 'counter', match: { event: 'completed' }, attributes: { operation: 'operation', status: 'status' } },
  {
    name: 'worker.job.duration',
    type: 'histogram',
    unit: 's',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048],
    pair: { key: 'job_id', start: { event: 'started' }, end: { event: 'completed' }, active: 'worker.jobs.active' },
    attributes: { operation: 'operation' },
  },
  { name: 'worker.last_event', type: 'gauge', value: { time: 'record' } },
]);

const RUNNER_METRICS = metricsSchema.parse([
  {
    name: 'runner.jobs',
    type: 'counter',
    match: { result: { exists: true } },
    attributes: { status: { field: 'result', map: { Succeeded: 'success', Failed: 'failure', Canceled: 'cancelled' }, default: 'unknown' } },
  },
  { name: 'runner.last_update', type: 'gauge', value: { time: 'record' } },
]);

function pipelineRow(format: string, lines: readonly string[], config: LineParserConfig, metrics: typeof JOB_METRICS): BenchRow {
  const meter = new MetricStore({ scope: `bench/${format}` });
  let refused = 0;
  const mapper = compileMapping(metrics, { meter, onRefused: () => refused++ });
  const parse = compileLineParser(config, { onRecord: mapper.map, onRefused: () => refused++ }, fieldsRead(metrics));
  const now = Date.now();
  const rate = linesPerSecond(encoded(lines), (line) => parse(line, 0, line.length, now));
  if (refused > 0) throw new Error(`${refused} refusals in the ${format} pipeline`);
  return { step: 'parse + map', format, lines_per_s: rate, mib_per_s: '' };
}

export function runParseBench(): BenchRow[] {
  const json = jsonLines();
  const logfmt = logfmtLines();
  const runner = runnerLines();
  const regex = compileRegexParser(RUNNER_PATTERN);
  const timestamp = { field: 'time', format: 'iso8601' as const };
  return [
    formatRow('JSON.parse (baseline)', json, JSON.parse),
    formatRow('json', json, parseJsonLine),
    bytesRow('json, fields read only', json, compileJsonParser(fieldsRead(JOB_METRICS))),
    formatRow('logfmt', logfmt, parseLogfmtLine),
    bytesRow('logfmt, fields read only', logfmt, compileLogfmtParser(fieldsRead(JOB_METRICS))),
    formatRow('regex', runner, regex),
    pipelineRow('json', json, { format: 'json', timestamp }, JOB_METRICS),
    pipelineRow('logfmt', logfmt, { format: 'logfmt', timestamp }, JOB_METRICS),
    pipelineRow('regex', runner, { format: 'regex', regex: RUNNER_PATTERN, timestamp }, RUNNER_METRICS),
  ];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(runParseBench());
}
