// The joblog receiver on real files in a temp directory: lifecycle, offsets kept across a new
// instance, a renamed receiver and edited metrics, two receivers on one file, status, refusals
// and its own metrics.
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { joblogFactory } from '../../../../src/receivers/joblog/index.js';
import { JoblogReceiver } from '../../../../src/receivers/joblog/receiver.js';
import { checkpointFileIn } from '../../../../src/receivers/joblog/shared-checkpoints.js';
import { eventually } from '../../../support/eventually.js';
import { points, valueOf } from '../../../support/metric-sink.js';
import { testSettings, type TestSettings } from '../../../support/settings.js';

let directory: string;
let stateDir: string;
const receivers: JoblogReceiver[] = [];

beforeEach(() => {
  directory = mkdtempSync(path.join(tmpdir(), 'joblog-receiver-'));
  stateDir = path.join(directory, 'state');
});

afterEach(async () => {
  for (const receiver of receivers.splice(0)) await receiver.shutdown();
  rmSync(directory, { recursive: true, force: true });
});

const counterMetrics = [{ name: 'test.jobs', type: 'counter', attributes: { status: 'status' } }];

function receiver(id: string, config: Record<string, unknown> = {}): { receiver: JoblogReceiver; settings: TestSettings } {
  const parsed = joblogFactory.configSchema.parse({
    paths: [path.join(directory, '*.log')],
    start_at: 'beginning',
    format: 'logfmt',
    poll_interval: '20ms',
    metrics: counterMetrics,
    ...config,
  });
  const settings = testSettings({ id, stateDir });
  const created = new JoblogReceiver(settings, parsed);
  receivers.push(created);
  return { receiver: created, settings };
}

const start = (r: JoblogReceiver) => r.start(new AbortController().signal);

function lines(count: number, status = 'ok'): string {
  return `job=build status=${status}\n`.repeat(count);
}

const jobs = (settings: TestSettings, status = 'ok') => valueOf(settings.meter, 'test.jobs', { status }) ?? 0;

const startTimeOf = (settings: TestSettings) => points(settings.meter, 'test.jobs').find((p) => p.attributes.status === 'ok')?.startTime;

describe('joblog factory', () => {
  it('is a beta receiver of type joblog', () => {
    expect(joblogFactory).toMatchObject({ type: 'joblog', kind: 'receiver', stability: 'beta' });
  });
});

describe('lifecycle', () => {
  it('starts on a checkpoint file whose saved mapping state is not what it wrote, without it', async () => {
    const file = checkpointFileIn(stateDir);
    const pairMetrics = [{ name: 'test.duration', type: 'histogram', pair: { key: 'id', start: { event: 'start' }, end: { event: 'end' } } }];
    for (const mapping of [null, 'junk', { 'test.duration pair id': [null, 3, { key: 'a', startMs: 'x', ageMs: 0 }], 'test.duration pair id 2': 'x' }]) {
      rmSync(stateDir, { recursive: true, force: true });
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify({ version: 1, savedAt: new Date().toISOString(), files: {}, receivers: { joblog: { savedAt: new Date().toISOString(), mapping } } }));
      const { receiver: created } = receiver('joblog', { metrics: pairMetrics });
      await start(created);
      await created.shutdown();
    }
    // Nothing was opened from them: nothing open is written back.
    expect(JSON.parse(readFileSync(file, 'utf8')).receivers).toBeUndefined();
  });

  it('shuts down without having started, twice, and refuses to start afterwards', async () => {
    const { receiver: created } = receiver('joblog');
    await created.shutdown();
    await created.shutdown();
    await expect(start(created)).rejects.toThrow('receiver "joblog" was already started; create a new one');
  });

  it('start, shutdown, then a new instance on the same state directory continues the counts, from the first start time, counting no line twice', async () => {
    const log = path.join(directory, 'jobs.log');
    writeFileSync(log, lines(3));
    const first = receiver('joblog');
    await start(first.receiver);
    await eventually(() => expect(jobs(first.settings)).toBe(3));
    appendFileSync(log, lines(2));
    await eventually(() => expect(jobs(first.settings)).toBe(5));
    const firstStart = startTimeOf(first.settings);
    await Promise.all([first.receiver.shutdown(), first.receiver.shutdown()]);

    appendFileSync(log, lines(4));
    const second = receiver('joblog');
    await start(second.receiver);
    await eventually(() => expect(jobs(second.settings)).toBe(9));
    appendFileSync(log, lines(1));
    await eventually(() => expect(jobs(second.settings)).toBe(10));
    expect(startTimeOf(second.settings)).toEqual(firstStart);
  });

  it('a collection asked for before start has restored the values waits for them: no scrape sees the counter from zero', async () => {
    const log = path.join(directory, 'jobs.log');
    writeFileSync(log, lines(3));
    const first = receiver('joblog');
    await start(first.receiver);
    await eventually(() => expect(jobs(first.settings)).toBe(3));
    await first.receiver.shutdown();

    const second = receiver('joblog');
    // The exporter starts first: its collection may come while the receiver is only created.
    const collected = second.receiver.collect(AbortSignal.timeout(10_000));
    const started = start(second.receiver);
    await collected;
    expect(jobs(second.settings)).toBe(3);
    await started;
  });

  it('with persist: false, a new instance counts only lines written since (offsets are still kept)', async () => {
    const log = path.join(directory, 'jobs.log');
    writeFileSync(log, lines(3));
    const first = receiver('joblog', { persist: false });
    await start(first.receiver);
    await eventually(() => expect(jobs(first.settings)).toBe(3));
    await first.receiver.shutdown();
    expect(JSON.parse(readFileSync(checkpointFileIn(stateDir), 'utf8')).receivers).toBeUndefined();

    appendFileSync(log, lines(4));
    const second = receiver('joblog', { persist: false });
    await start(second.receiver);
    await eventually(() => expect(jobs(second.settings)).toBe(4));
  });

  it('a replaced receiver whose metric list changed keeps the values of the metrics still configured and drops the others', async () => {
    const log = path.join(directory, 'jobs.log');
    writeFileSync(log, lines(3) + lines(1, 'failed'));
    const both = [...counterMetrics, { name: 'test.failures', type: 'counter', match: { status: 'failed' } }];
    const first = receiver('joblog', { metrics: both });
    await start(first.receiver);
    await eventually(() => expect(jobs(first.settings)).toBe(3));
    await eventually(() => expect(valueOf(first.settings.meter, 'test.failures')).toBe(1));
    await first.receiver.shutdown();

    const renamed = [...counterMetrics, { name: 'test.failed', type: 'counter', match: { status: 'failed' } }];
    const second = receiver('joblog', { metrics: renamed });
    await start(second.receiver);
    appendFileSync(log, lines(1, 'failed'));
    await eventually(() => expect(valueOf(second.settings.meter, 'test.failed')).toBe(1));
    expect(jobs(second.settings)).toBe(3);
    expect(jobs(second.settings, 'failed')).toBe(2);
    expect(valueOf(second.settings.meter, 'test.failures')).toBeUndefined();
  });

  it('a state directory that cannot hold checkpoints fails the start, naming the file, and lets go of every file', async () => {
    writeFileSync(path.join(directory, 'jobs.log'), lines(3));
    writeFileSync(stateDir, 'a file where the state directory should be');
    const { receiver: created } = receiver('joblog');
    await expect(start(created)).rejects.toThrow(`cannot read checkpoint file ${checkpointFileIn(stateDir)}`);
    await created.shutdown();
  });

  it('a start signal already aborted starts nothing', async () => {
    writeFileSync(path.join(directory, 'jobs.log'), lines(3));
    const { receiver: created, settings } = receiver('joblog');
    const aborted = new AbortController();
    aborted.abort();
    await created.start(aborted.signal);
    await created.collect();
    expect(jobs(settings)).toBe(0);
    await created.shutdown();
  });
});

describe('checkpoints keyed by file identity', () => {
  it('a renamed receiver with edited metrics resumes where its predecessor stopped', async () => {
    const log = path.join(directory, 'jobs.log');
    writeFileSync(log, lines(3));
    const a = receiver('joblog/a');
    await start(a.receiver);
    await eventually(() => expect(jobs(a.settings)).toBe(3));
    await a.receiver.shutdown();

    appendFileSync(log, lines(2, 'failed'));
    const b = receiver('joblog/b', {
      metrics: [...counterMetrics, { name: 'test.failures', type: 'counter', match: { status: 'failed' } }],
    });
    await start(b.receiver);
    await eventually(() => expect(jobs(b.settings, 'failed')).toBe(2));
    expect(jobs(b.settings, 'ok')).toBe(0);
    expect(valueOf(b.settings.meter, 'test.failures')).toBe(2);
    const saved = JSON.parse(readFileSync(checkpointFileIn(stateDir), 'utf8'));
    expect(Object.values(saved.files)).toMatchObject([{ path: log }]);
  });

  it('a file matched by two receivers is read by the first only; the second takes over where it stopped', async () => {
    const log = path.join(directory, 'jobs.log');
    writeFileSync(log, lines(3));
    const first = receiver('joblog/first');
    const second = receiver('joblog/second', { paths: [log] });
    await start(first.receiver);
    await start(second.receiver);
    await eventually(() => expect(jobs(first.settings)).toBe(3));
    expect(second.settings.logger.entries).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: 'file matches the paths of two joblog receivers; "joblog/first" reads it, "joblog/second" leaves it alone',
      }),
    );
    await eventually(() =>
      expect(second.settings.statuses.at(-1)).toEqual({
        status: 'degraded',
        reason: `every file matching paths is read by another joblog receiver: ${log}`,
      }),
    );
    appendFileSync(log, lines(2));
    await eventually(() => expect(jobs(first.settings)).toBe(5));
    expect(jobs(second.settings)).toBe(0);

    await first.receiver.shutdown();
    appendFileSync(log, lines(4));
    await eventually(() => expect(jobs(second.settings)).toBe(4));
    await eventually(() => expect(second.settings.statuses.at(-1)).toEqual({ status: 'ok', reason: undefined }));
  });
});

describe('status', () => {
  it('is degraded while no file matches the paths, and ok once one appears', async () => {
    const { receiver: created, settings } = receiver('joblog');
    await start(created);
    expect(settings.statuses).toEqual([{ status: 'degraded', reason: `no file matches paths yet: ${path.join(directory, '*.log')}` }]);
    writeFileSync(path.join(directory, 'late.log'), lines(2));
    await eventually(() => expect(jobs(settings)).toBe(2));
    await eventually(() => expect(settings.statuses.at(-1)).toEqual({ status: 'ok', reason: undefined }), 5000);
  });
});

describe('status of files that cannot be read', () => {
  it('is degraded naming the file and its error while it fails, and ok once it can be read', async () => {
    writeFileSync(path.join(directory, 'good.log'), lines(1));
    // A link to itself fails every stat with ELOOP, for root too (unlike a file's mode bits).
    const broken = path.join(directory, 'broken.log');
    symlinkSync('broken.log', broken);
    const { receiver: created, settings } = receiver('joblog');
    await start(created);
    await eventually(() => expect(jobs(settings)).toBe(1));
    await eventually(() =>
      expect(settings.statuses.at(-1)).toEqual({
        status: 'degraded',
        reason: expect.stringMatching(new RegExp(`^cannot read ${broken}: ELOOP: .*stat '${broken}'$`)),
      }),
    );
    await created.collect();
    expect(valueOf(settings.telemetry, 'otel_agent.joblog.errors', { receiver: 'joblog' })).toBeGreaterThan(0);

    rmSync(broken);
    writeFileSync(broken, lines(2));
    await eventually(() => expect(jobs(settings)).toBe(3));
    await eventually(() => expect(settings.statuses.at(-1)).toEqual({ status: 'ok', reason: undefined }), 5000);
  });
});

describe('refusals and own metrics', () => {
  it('counts refusals of the tailer, the parser and the mapping by reason, logging each reason once', async () => {
    const log = path.join(directory, 'jobs.log');
    const long = `job=${'x'.repeat(300)}\n`;
    writeFileSync(log, `job=a status=ok\n"unterminated\n\nstatus=\n${long}job=b\n\xff\n`, 'latin1');
    const { receiver: created, settings } = receiver('joblog/r', {
      max_line_bytes: 100,
      metrics: [{ name: 'test.jobs', type: 'counter', attributes: { status: { field: 'status', map: { ok: 'ok' } } } }],
    });
    await start(created);
    const refused = (reason: string) => valueOf(settings.telemetry, 'otel_agent.receiver.refused', { receiver: 'joblog/r', reason });
    await eventually(() => expect(refused('line_too_long')).toBe(1));
    await eventually(() => expect(refused('missing_field')).toBe(1));
    expect({
      invalid_logfmt: refused('invalid_logfmt'),
      empty_line: refused('empty_line'),
      unmapped_value: refused('unmapped_value'),
      invalid_utf8: refused('invalid_utf8'),
      no_match: refused('no_match'),
    }).toEqual({ invalid_logfmt: 1, empty_line: 1, unmapped_value: 1, invalid_utf8: 1, no_match: undefined });
    expect(jobs(settings)).toBe(1);
    const refusalLogs = settings.logger.entries.filter((entry) => entry.msg?.startsWith('input refused'));
    expect(refusalLogs.map((entry) => (entry.fields as { reason: string }).reason).sort()).toEqual(
      ['empty_line', 'invalid_logfmt', 'invalid_utf8', 'line_too_long', 'missing_field', 'unmapped_value'],
    );
    expect(refusalLogs[0].fields).toMatchObject({ path: log });

    await created.collect();
    expect(valueOf(settings.telemetry, 'otel_agent.joblog.lines', { receiver: 'joblog/r' })).toBe(5);
    expect(valueOf(settings.telemetry, 'otel_agent.joblog.read', { receiver: 'joblog/r' })).toBe(readFileSync(log).length);
    expect(valueOf(settings.telemetry, 'otel_agent.joblog.files.open', { receiver: 'joblog/r' })).toBe(1);
    await created.shutdown();
    expect(valueOf(settings.telemetry, 'otel_agent.joblog.files.open', { receiver: 'joblog/r' })).toBeUndefined();
  });

  it('collect brings elapsed gauges up to date and shows open pairs', async () => {
    const log = path.join(directory, 'jobs.log');
    const startedAt = new Date(Date.now() - 60_000).toISOString();
    writeFileSync(log, `ts=${startedAt} event=listening\nts=${startedAt} event=started id=1\n`);
    const { receiver: created, settings } = receiver('joblog', {
      timestamp: { field: 'ts' },
      metrics: [
        { name: 'test.uptime', type: 'gauge', unit: 's', value: { time: 'elapsed' }, match: { event: 'listening' } },
        { name: 'test.duration', type: 'histogram', pair: { key: 'id', start: { event: 'started' }, end: { event: 'finished' } } },
      ],
    });
    await start(created);
    await eventually(() => expect(valueOf(settings.meter, 'test.uptime')).toBeGreaterThanOrEqual(60));
    const before = valueOf(settings.meter, 'test.uptime')!;
    await new Promise((resolve) => setTimeout(resolve, 30));
    await created.collect();
    expect(valueOf(settings.meter, 'test.uptime')).toBeGreaterThan(before);
    expect(valueOf(settings.telemetry, 'otel_agent.joblog.pairs.open', { receiver: 'joblog' })).toBe(1);
  });
});
