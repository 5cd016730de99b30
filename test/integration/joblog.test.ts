// The joblog receiver in the real agent process, scraped over HTTP. Each line written is
// numbered and counted under its own series (`test_lines_total{n}`), so a scrape shows loss
// (0) and double counting (2) line by line: through both rotation styles and truncation while
// lines are written, a graceful restart and a kill -9 (exact: values are saved with the
// offsets, `persist`), the same without `persist` (none skipped, none before the checkpoint
// counted again), a renamed receiver, partial lines, new files under a glob, and malformed
// lines mixed with good ones.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { appendFile, copyFile, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir, waitForLog, type AgentProcess } from '../support/agent-process.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/ports.js';
import {
  agentConfig,
  countingReceiver,
  countsByLine,
  LINE_BYTES,
  notExactlyOnce,
  NumberedLines,
  scrape,
  startWith,
  valueIn,
  waitForLines,
} from './fixtures/joblog/harness.js';

let directory: string;
let logs: string;
let stateDir: string;
let port: number;
const running: AgentProcess[] = [];

beforeEach(async () => {
  directory = tempDir('joblog-agent-');
  logs = join(directory, 'logs');
  mkdirSync(logs);
  stateDir = join(directory, 'state');
  port = await freePort();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((agent) => agent.stop()));
  rmSync(directory, { recursive: true, force: true });
});

async function start(receivers: string, ids = ['joblog/a']): Promise<AgentProcess> {
  const agent = await startWith(directory, agentConfig({ port, stateDir, receivers, ids }));
  running.push(agent);
  return agent;
}

async function stop(agent: AgentProcess): Promise<void> {
  expect(await agent.stop()).toBe(0);
  running.splice(running.indexOf(agent), 1);
}

const exactlyOnce = { missing: [], doubled: [], outside: [] };

/** The offset saved for `file` in the shared checkpoint file, or undefined. */
function checkpointedOffset(file: string): number | undefined {
  const checkpoints = join(stateDir, 'joblog', 'checkpoints.json');
  if (!existsSync(checkpoints)) return undefined;
  const saved = JSON.parse(readFileSync(checkpoints, 'utf8')) as { files: Record<string, { path: string; offset: number }> };
  return Object.values(saved.files).find((entry) => entry.path === file)?.offset;
}

describe('rotation and truncation while lines are written', () => {
  it('rename-and-create: every line counted once across six rotations', async () => {
    const log = join(logs, 'jobs.log');
    writeFileSync(log, '');
    await start(countingReceiver('joblog/a', [log]));
    const lines = new NumberedLines();
    for (let generation = 0; generation < 6; generation += 1) {
      // Only `jobs.log` is watched: the agent must have found this generation before it moves.
      const first = lines.written;
      await lines.append(log, 20);
      await waitForLines(port, 'joblog/a', first, first + 1);
      for (let batch = 0; batch < 20; batch += 1) {
        await lines.append(log, 25);
        await delay(2);
      }
      await rename(log, `${log}.${generation}`);
      // A writer that reopens its log late still appends to the renamed file for a moment.
      await lines.append(`${log}.${generation}`, 15);
      await writeFile(log, '');
    }
    await lines.append(log, 10);
    const counts = await waitForLines(port, 'joblog/a', 0, lines.written);
    expect(notExactlyOnce(counts, 0, lines.written)).toEqual(exactlyOnce);
    const body = await scrape(port);
    expect(valueIn(body, 'otel_agent_joblog_rotations_total', { receiver: 'joblog/a' })).toBeGreaterThanOrEqual(6);
    expect(valueIn(body, 'otel_agent_joblog_lines_total', { receiver: 'joblog/a' })).toBe(lines.written);
  });

  it('copytruncate with the rotated names under the glob: every line counted once; excluded archives unread', async () => {
    const log = join(logs, 'jobs.log');
    writeFileSync(log, '');
    const agent = await start(countingReceiver('joblog/a', [`${log}*`], `    exclude_paths: [${logs}/*.gz]\n`));
    const copiesFollowed = () => agent.log().split('\n').filter((entry) => entry.includes('"msg":"following file"') && entry.includes(`"path":"${log}.1"`)).length;
    const lines = new NumberedLines();
    for (let generation = 0; generation < 5; generation += 1) {
      // A copy is recognised by the original's first KiB: the agent must have seen it.
      const first = lines.written;
      await lines.append(log, 50);
      await waitForLines(port, 'joblog/a', first + 49, first + 50);
      for (let batch = 0; batch < 18; batch += 1) {
        await lines.append(log, 25);
        await delay(2);
      }
      // What logrotate does: older copies move up (the oldest compressed), the log is copied, then truncated.
      if (existsSync(`${log}.1`)) {
        writeFileSync(`${log}.2.gz`, gzipSync(readFileSync(`${log}.1`)));
        await rename(`${log}.1`, `${log}.2`);
      }
      await copyFile(log, `${log}.1`);
      await truncate(log, 0);
      // Rotating again before the agent scanned would delete a copy it never saw: logrotate
      // runs hours apart, not milliseconds.
      await eventually(() => expect(copiesFollowed()).toBe(generation + 1), 15_000, 20);
    }
    await lines.append(log, 10);
    const counts = await waitForLines(port, 'joblog/a', 0, lines.written);
    expect(notExactlyOnce(counts, 0, lines.written)).toEqual(exactlyOnce);
    const body = await scrape(port);
    expect(valueIn(body, 'otel_agent_joblog_truncations_total', { receiver: 'joblog/a' })).toBeGreaterThanOrEqual(5);
    const refused = (await scrape(port)).split('\n').filter((line) => line.startsWith('otel_agent_receiver_refused_total{'));
    expect(refused.filter((line) => !line.endsWith(' 0'))).toEqual([]);
  });

  it('truncated mid-stream, then rewritten past the old offset or short of it: every line counted once', async () => {
    const log = join(logs, 'jobs.log');
    writeFileSync(log, '');
    await start(countingReceiver('joblog/a', [log]));
    const lines = new NumberedLines();
    for (let batch = 0; batch < 10; batch += 1) await lines.append(log, 30);
    await waitForLines(port, 'joblog/a', 0, lines.written);
    // Longer than before at once: only the first bytes show that the file was truncated.
    await truncate(log, 0);
    await lines.append(log, 600);
    await waitForLines(port, 'joblog/a', 0, lines.written);
    await truncate(log, 0);
    for (let batch = 0; batch < 10; batch += 1) {
      await lines.append(log, 3);
      await delay(5);
    }
    const counts = await waitForLines(port, 'joblog/a', 0, lines.written);
    expect(notExactlyOnce(counts, 0, lines.written)).toEqual(exactlyOnce);
    expect(valueIn(await scrape(port), 'otel_agent_joblog_truncations_total', { receiver: 'joblog/a' })).toBe(2);
  });
});

describe('restarts', () => {
  it('graceful restart: every line counted exactly once, those before it included (their counts came back)', async () => {
    const log = join(logs, 'jobs.log');
    writeFileSync(log, '');
    const receiver = countingReceiver('joblog/a', [log]);
    const first = await start(receiver);
    const lines = new NumberedLines();
    await lines.append(log, 500);
    await waitForLines(port, 'joblog/a', 0, 500);
    await stop(first);

    await lines.append(log, 700);
    await start(receiver);
    await lines.append(log, 100);
    const counts = await waitForLines(port, 'joblog/a', 0, lines.written);
    expect(notExactlyOnce(counts, 0, lines.written)).toEqual(exactlyOnce);
  });

  it('kill -9: every line counted exactly once, the values saved with the last checkpoint continued from its offset', async () => {
    const log = join(logs, 'jobs.log');
    writeFileSync(log, '');
    const receiver = countingReceiver('joblog/a', [log]);
    const first = await start(receiver);
    const lines = new NumberedLines();
    await lines.append(log, 2000);
    await waitForLines(port, 'joblog/a', 0, 2000);
    appendFileSync(log, lines.text(20_000));
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    running.splice(running.indexOf(first), 1);

    await start(receiver);
    const counts = await waitForLines(port, 'joblog/a', 0, lines.written);
    expect(notExactlyOnce(counts, 0, lines.written)).toEqual(exactlyOnce);
  });

  // Without `persist` the counts start from zero at each start; offsets are kept all the same.
  const unpersisted = (log: string) => countingReceiver('joblog/a', [log], '    persist: false\n');

  it('persist false, graceful restart: the lines written while the agent was down are counted, none before them again', async () => {
    const log = join(logs, 'jobs.log');
    writeFileSync(log, '');
    const receiver = unpersisted(log);
    const first = await start(receiver);
    const lines = new NumberedLines();
    await lines.append(log, 500);
    await waitForLines(port, 'joblog/a', 0, 500);
    await stop(first);
    expect(checkpointedOffset(log)).toBe(500 * LINE_BYTES);

    await lines.append(log, 700);
    await start(receiver);
    await lines.append(log, 100);
    const counts = await waitForLines(port, 'joblog/a', 500, lines.written);
    expect(notExactlyOnce(counts, 500, lines.written)).toEqual(exactlyOnce);
  });

  it('persist false, kill -9: nothing skipped, and only lines after the last checkpoint counted again', async () => {
    const log = join(logs, 'jobs.log');
    writeFileSync(log, '');
    const receiver = unpersisted(log);
    const first = await start(receiver);
    const lines = new NumberedLines();
    await lines.append(log, 2000);
    await waitForLines(port, 'joblog/a', 0, 2000);
    // A checkpoint interval (1 s) passes: the offset of every line counted so far is on disk.
    await eventually(() => expect(checkpointedOffset(log)).toBe(2000 * LINE_BYTES), 5000, 50);

    appendFileSync(log, lines.text(20_000));
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    running.splice(running.indexOf(first), 1);
    const offset = checkpointedOffset(log)!;
    expect(offset % LINE_BYTES).toBe(0);
    expect(offset).toBeGreaterThanOrEqual(2000 * LINE_BYTES);
    const firstAfterCheckpoint = offset / LINE_BYTES;

    await start(receiver);
    const counts = await waitForLines(port, 'joblog/a', firstAfterCheckpoint, lines.written);
    // Lines before the checkpoint were counted by the first process (all 2000 seen above, and
    // the offset moves only past lines handed on): the second counts exactly the rest once.
    expect(notExactlyOnce(counts, firstAfterCheckpoint, lines.written)).toEqual(exactlyOnce);
  });

  /** A receiver whose jobs give durations from start and end lines, timed by the lines. */
  function pairedReceiver(log: string): string {
    return `  joblog/a:
    paths: [${log}]
    start_at: beginning
    format: logfmt
    poll_interval: 50ms
    timestamp: { field: time, format: unix }
    metrics:
      - name: test.lines
        type: counter
        attributes: { n: n }
      - name: test.job.duration
        type: histogram
        unit: s
        buckets: [1, 10, 100]
        attributes: { job: job }
        pair: { key: id, start: { event: start }, end: { event: end }, active: test.jobs.active }
      - name: test.last.start
        type: gauge
        value: { time: record }
        match: { event: start }
`;
  }

  /** The open pairs of the duration metric saved with the offsets. */
  function savedPairs(): unknown[] {
    const checkpoints = join(stateDir, 'joblog', 'checkpoints.json');
    const saved = JSON.parse(readFileSync(checkpoints, 'utf8')) as { receivers?: Record<string, { mapping?: Record<string, unknown[]> }> };
    return saved.receivers?.['joblog/a']?.mapping?.['test.job.duration pair id'] ?? [];
  }

  async function expectDurations(): Promise<void> {
    await eventually(async () => expect(valueIn(await scrape(port), 'test_job_duration_seconds_count', { job: 'build' })).toBe(1));
    const exposition = await scrape(port);
    expect(valueIn(exposition, 'test_job_duration_seconds_sum', { job: 'build' })).toBe(20);
    expect(valueIn(exposition, 'test_job_duration_seconds_sum', { job: 'test' })).toBe(30);
    expect(valueIn(exposition, 'test_jobs_active')).toBe(0);
    // Mapping refusals are counted from their first: no such series, none refused.
    expect(exposition).not.toMatch(/otel_agent_receiver_refused_total\{reason="(unmatched_end|pair_[a-z]+)"/);
  }

  it('graceful restart with jobs open: their ends after the restart still give durations, none refused', async () => {
    const log = join(logs, 'jobs.log');
    writeFileSync(log, '');
    const first = await start(pairedReceiver(log));
    await appendFile(log, 'n=1 time=1000 event=start id=j1 job=build\nn=2 time=1001 event=start id=j2 job=test\nn=3 time=1002 event=start id=j3 job=lint\nn=4 time=1003 event=end id=j3\n');
    await eventually(async () => expect(valueIn(await scrape(port), 'test_jobs_active')).toBe(2));
    await stop(first);
    expect(savedPairs()).toHaveLength(2);

    await start(pairedReceiver(log));
    // A gauge shows what it showed before the restart, before any new line.
    expect(valueIn(await scrape(port), 'test_last_start')).toBe(1002);
    await appendFile(log, 'n=5 time=1020 event=end id=j1\nn=6 time=1031 event=end id=j2\n');
    await expectDurations();
  });

  it('kill -9 with jobs open: the pairs saved with the last checkpoint come back with its offsets', async () => {
    const log = join(logs, 'jobs.log');
    writeFileSync(log, '');
    const first = await start(pairedReceiver(log));
    await appendFile(log, 'n=1 time=1000 event=start id=j1 job=build\n');
    // A checkpoint interval passes: the start of j1 is on disk with the offset after it.
    await eventually(() => expect(savedPairs()).toHaveLength(1), 5000, 50);
    // Read, and perhaps checkpointed, or perhaps not, when the agent is killed: either way it
    // is counted once, with its pair.
    await appendFile(log, 'n=2 time=1001 event=start id=j2 job=test\n');
    await eventually(async () => expect(valueIn(await scrape(port), 'test_jobs_active')).toBe(2));
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    running.splice(running.indexOf(first), 1);

    await start(pairedReceiver(log));
    await appendFile(log, 'n=5 time=1020 event=end id=j1\nn=6 time=1031 event=end id=j2\n');
    await expectDurations();
    expect(valueIn(await scrape(port), 'test_last_start')).toBe(1001);
  });

  it('a renamed receiver with edited metrics keeps the offsets of the old one', async () => {
    const log = join(logs, 'jobs.log');
    writeFileSync(log, '');
    const first = await start(countingReceiver('joblog/a', [log]));
    const lines = new NumberedLines();
    await lines.append(log, 400);
    await waitForLines(port, 'joblog/a', 0, 400);
    await stop(first);

    await lines.append(log, 300);
    const extraMetric = `      - name: test.builds\n        type: counter\n        match: { job: build }\n`;
    await start(countingReceiver('joblog/b', [log]) + extraMetric, ['joblog/b']);
    const counts = await waitForLines(port, 'joblog/b', 400, 700);
    expect(notExactlyOnce(counts, 400, 700)).toEqual(exactlyOnce);
    expect(valueIn(await scrape(port), 'test_builds_total', { otel_scope_name: 'joblog/b' })).toBe(300);
  });
});

describe('configuration reload', () => {
  it('SIGHUP to a renamed receiver: the new one resumes where the old one stopped, lines written meanwhile included', async () => {
    const log = join(logs, 'jobs.log');
    writeFileSync(log, '');
    const agent = await start(countingReceiver('joblog/a', [log]));
    const lines = new NumberedLines();
    await lines.append(log, 300);
    await waitForLines(port, 'joblog/a', 0, 300);

    writeFileSync(join(directory, 'otel-agent.yaml'), agentConfig({ port, stateDir, receivers: countingReceiver('joblog/b', [log]), ids: ['joblog/b'] }));
    agent.child.kill('SIGHUP');
    for (let batch = 0; batch < 20; batch += 1) {
      await lines.append(log, 10);
      await delay(5);
    }
    await waitForLog(agent, '"msg":"configuration reloaded"');
    await lines.append(log, 50);
    // The old receiver's metrics went with it; the new one starts where the old one's last
    // checkpoint (written at its shutdown) left off, at or after line 300, and counts every
    // line from there once.
    const counts = await waitForLines(port, 'joblog/b', lines.written - 1, lines.written);
    const resumedAt = Math.min(...counts.keys());
    expect(resumedAt).toBeGreaterThanOrEqual(300);
    expect(notExactlyOnce(counts, resumedAt, lines.written)).toEqual(exactlyOnce);
    expect(countsByLine(await scrape(port), 'joblog/a').size).toBe(0);
  });
});

describe('lines and files as they come', () => {
  it('a partial line waits for its newline; a last line without one is counted after flush_timeout', async () => {
    const a = join(logs, 'a.log');
    const b = join(logs, 'b.log');
    const lines = new NumberedLines();
    writeFileSync(a, lines.text(1));
    await start(countingReceiver('joblog/a', [`${logs}/*.log`], '    flush_timeout: 2s\n'));
    await waitForLines(port, 'joblog/a', 0, 1);

    const partial = lines.text(1);
    appendFileSync(a, partial.slice(0, 12));
    // A new file is read after the known ones in the same round: once its line is counted,
    // the partial line has been read too, and must still be waiting.
    writeFileSync(b, lines.text(1));
    let counts = await waitForLines(port, 'joblog/a', 2, 3);
    expect(counts.get(1)).toBeUndefined();
    appendFileSync(a, partial.slice(12));
    counts = await waitForLines(port, 'joblog/a', 0, 3);
    expect(notExactlyOnce(counts, 0, 3)).toEqual(exactlyOnce);

    appendFileSync(b, lines.text(1).trimEnd());
    counts = await waitForLines(port, 'joblog/a', 0, 4);
    expect(notExactlyOnce(counts, 0, 4)).toEqual(exactlyOnce);
    const refused = (await scrape(port)).split('\n').filter((line) => line.startsWith('otel_agent_receiver_refused_total{'));
    expect(refused.filter((line) => !line.endsWith(' 0'))).toEqual([]);
  });

  it('files that appear under a glob, in directories made after start, are read from their start', async () => {
    const agent = await start(countingReceiver('joblog/a', [`${logs}/**/*.log`]));
    const health = async () => ((await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { components: Array<{ id: string; status: string; reason?: string }> }).components.find((c) => c.id === 'joblog/a');
    expect(await health()).toMatchObject({ status: 'degraded', reason: `no file matches paths yet: ${logs}/**/*.log` });
    const lines = new NumberedLines();
    for (const [index, file] of ['x/jobs-1.log', 'jobs-2.log', 'y/z/jobs-3.log', 'x/jobs-4.log'].entries()) {
      mkdirSync(join(logs, file, '..'), { recursive: true });
      await writeFile(join(logs, file), lines.text(50));
      await lines.append(join(logs, file), 50 + index);
      await delay(20);
    }
    writeFileSync(join(logs, 'x', 'ignored.txt'), lines.text(1));
    const counts = await waitForLines(port, 'joblog/a', 0, lines.written - 1);
    expect(notExactlyOnce(counts, 0, lines.written - 1)).toEqual(exactlyOnce);
    await eventually(async () => expect(await health()).toMatchObject({ status: 'ok' }), 5000, 100);
    expect(agent.log()).toContain(`"path":"${join(logs, 'y/z/jobs-3.log')}"`);
  });
});

describe('malformed input', () => {
  it('10,000 malformed lines mixed with 10,000 good ones: good counted exactly, refusals counted by reason', async () => {
    const log = join(logs, 'jobs.log');
    writeFileSync(log, '');
    const agent = await start(`  joblog/a:
    paths: [${log}]
    format: json
    max_line_bytes: 256
    metrics:
      - name: test.jobs
        type: counter
        attributes: { status: { field: status, map: { ok: ok, failed: failed } } }
      - name: test.duration
        type: histogram
        unit: s
        value: duration_s
        buckets: [1, 2]
`);
    const kinds: Array<[string, Buffer]> = [
      ['good', Buffer.from('{"status":"ok","duration_s":1.5}\n')],
      ['invalid_json', Buffer.from('{"status":"ok","duration_s":\n')],
      ['not_an_object', Buffer.from('["ok",1.5]\n')],
      ['empty_line', Buffer.from('   \n')],
      ['line_too_long', Buffer.from(`{"status":"ok","pad":"${'x'.repeat(300)}"}\n`)],
      ['invalid_utf8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a])],
      ['unmapped_value', Buffer.from('{"status":"weird","duration_s":1}\n')],
      ['non_numeric_value', Buffer.from('{"status":"ok","duration_s":"fast"}\n')],
      ['missing_field', Buffer.from('{"duration_s":1}\n')],
    ];
    // 10,000 good lines and 1,250 of each of the 8 malformed kinds, in a shuffled order.
    const order: number[] = [];
    for (let i = 0; i < 10_000; i += 1) order.push(0);
    for (let kind = 1; kind < kinds.length; kind += 1) for (let i = 0; i < 1250; i += 1) order.push(kind);
    let seed = 42;
    for (let i = order.length - 1; i > 0; i -= 1) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      const j = seed % (i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (let start = 0; start < order.length; start += 1000) {
      await appendFile(log, Buffer.concat(order.slice(start, start + 1000).map((kind) => kinds[kind][1])));
    }

    const body = await eventually(
      async () => {
        const text = await scrape(port);
        expect(valueIn(text, 'otel_agent_joblog_read_bytes_total', { receiver: 'joblog/a' })).toBe(readFileSync(log).length);
        return text;
      },
      30_000,
      100,
    );
    const refused = (reason: string) => valueIn(body, 'otel_agent_receiver_refused_total', { receiver: 'joblog/a', reason });
    expect(Object.fromEntries(kinds.slice(1).map(([reason]) => [reason, refused(reason)]))).toEqual(
      Object.fromEntries(kinds.slice(1).map(([reason]) => [reason, 1250])),
    );
    expect(refused('negative_value')).toBeUndefined();
    // Good lines, plus those whose only problem was the duration.
    expect(valueIn(body, 'test_jobs_total', { status: 'ok' })).toBe(10_000 + 1250);
    expect(valueIn(body, 'test_jobs_total', { status: 'failed' })).toBe(0);
    // Good lines, plus those whose only problem was the status.
    expect(valueIn(body, 'test_duration_seconds_count')).toBe(10_000 + 1250 + 1250);
    expect(valueIn(body, 'test_duration_seconds_sum')).toBe(10_000 * 1.5 + 1250 + 1250);
    expect(valueIn(body, 'otel_agent_joblog_lines_total', { receiver: 'joblog/a' })).toBe(order.length - 2 * 1250);
    // Logged at a bounded rate: one line per reason, the rest held back for a minute.
    const refusalLogs = agent.log().split('\n').filter((line) => line.includes('input refused'));
    expect(refusalLogs).toHaveLength(8);
  });
});
