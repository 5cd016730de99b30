// The tailer against real files, rotated, truncated and deleted while lines are written, and
// in a process of its own killed with SIGKILL. Every line written is numbered, so a count per
// number shows loss (0) and double counting (2) directly.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import {
  appendFile,
  copyFile,
  mkdir,
  mkdtemp,
  readFile,
  rename,
  rm,
  stat,
  truncate,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointStore } from '../../src/receivers/joblog/checkpoint.js';
import { Tailer } from '../../src/receivers/joblog/tailer.js';
import type { RefusalReason, TailerOptions } from '../../src/receivers/joblog/tailer.js';
import { silentLogger } from '../../src/telemetry/silent-logger.js';
import { eventually } from '../support/eventually.js';

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TEST_TIMEOUT_MS = 60_000;

/** Writes numbered lines (`line 000042 ...`) and remembers how many it wrote. */
class NumberedWriter {
  written = 0;

  text(count: number): string {
    let text = '';
    for (let i = 0; i < count; i += 1) {
      text += `line ${String(this.written).padStart(6, '0')} job=build status=succeeded duration_s=1.5\n`;
      this.written += 1;
    }
    return text;
  }

  async append(file: string, count: number): Promise<void> {
    await appendFile(file, this.text(count));
  }
}

const lineNumber = (line: string): number => Number(/^line (\d{6}) /.exec(line)?.[1] ?? Number.NaN);

/** How many times each line number was seen; the assertion every test ends with. */
function expectEachExactlyOnce(lines: readonly string[], total: number): void {
  const counts = new Map<number, number>();
  for (const line of lines) counts.set(lineNumber(line), (counts.get(lineNumber(line)) ?? 0) + 1);
  const missing = [];
  const doubled = [];
  for (let n = 0; n < total; n += 1) {
    const count = counts.get(n) ?? 0;
    if (count === 0) missing.push(n);
    if (count > 1) doubled.push(n);
  }
  expect({ missing, doubled, seen: lines.length }).toEqual({ missing: [], doubled: [], seen: total });
}

interface Running {
  tailer: Tailer;
  lines: string[];
  refused: RefusalReason[];
}

describe('joblog tailer on real files', () => {
  let directory: string;
  let running: Running[];

  beforeEach(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'joblog-tail-'));
    running = [];
  });

  afterEach(async () => {
    for (const { tailer } of running) await tailer.shutdown();
    await rm(directory, { recursive: true, force: true });
  });

  const checkpointFile = (): string => path.join(directory, 'state', 'checkpoints.json');

  async function startTailer(options: Partial<TailerOptions> & Pick<TailerOptions, 'paths'>): Promise<Running> {
    const lines: string[] = [];
    const refused: RefusalReason[] = [];
    const tailer = new Tailer({
      startAt: 'beginning',
      maxLineBytes: 4096,
      pollIntervalMs: 20,
      rotationGraceMs: 500,
      checkpoints: new CheckpointStore(checkpointFile()),
      onLine: (bytes, start, end) => lines.push(bytes.toString('utf8', start, end)),
      onRefused: (reason) => refused.push(reason),
      logger: silentLogger(),
      ...options,
    });
    const handle = { tailer, lines, refused };
    running.push(handle);
    await tailer.start();
    return handle;
  }

  /** Waits until the tailer handed on line `n`: the file holding it has been found. */
  const waitForLine = (run: Running, n: number): Promise<void> =>
    eventually(() => expect(run.lines.some((line) => lineNumber(line) === n)).toBe(true));

  it('rename-and-create: drains the renamed file (written to after the rename too), follows the new one', async () => {
    const log = path.join(directory, 'app.log');
    await writeFile(log, '');
    const run = await startTailer({ paths: [log] });
    const writer = new NumberedWriter();
    for (let generation = 0; generation < 5; generation += 1) {
      const first = writer.written;
      await writer.append(log, 20);
      await waitForLine(run, first);
      for (let batch = 0; batch < 20; batch += 1) {
        await writer.append(log, 25);
        await delay(1);
      }
      const rotated = `${log}.${generation}`;
      await rename(log, rotated);
      await writeFile(log, '');
      // The writer reopens late: after the tailer saw the rename, lines still land in the
      // renamed file, which the tailer must keep reading through its descriptor.
      await eventually(() => expect(run.tailer.stats().rotations).toBe(generation + 1));
      await writer.append(rotated, 30);
    }
    await eventually(() => expect(run.lines.length).toBeGreaterThanOrEqual(writer.written));
    expectEachExactlyOnce(run.lines, writer.written);
    expect(run.tailer.stats().rotations).toBe(5);
    // The renamed files are closed once read to their end and quiet for the grace period.
    await eventually(() => expect(run.tailer.stats().filesOpen).toBe(1));
  }, TEST_TIMEOUT_MS);

  it('rename-and-create inside the glob: keeps reading the renamed file under its new name', async () => {
    const log = path.join(directory, 'app.log');
    await writeFile(log, '');
    const run = await startTailer({ paths: [`${log}*`] });
    const writer = new NumberedWriter();
    for (let generation = 0; generation < 4; generation += 1) {
      for (let batch = 0; batch < 20; batch += 1) {
        await writer.append(log, 25);
        await delay(1);
      }
      for (let older = generation - 1; older >= 0; older -= 1) await rename(`${log}.${older}`, `${log}.${older + 1}`);
      await rename(log, `${log}.0`);
      await writer.append(`${log}.0`, 10);
      await writeFile(log, '');
    }
    await eventually(() => expect(run.lines.length).toBeGreaterThanOrEqual(writer.written));
    expectEachExactlyOnce(run.lines, writer.written);
  }, TEST_TIMEOUT_MS);

  it('copytruncate: recognises the copy by fingerprint and reads from it only what the original had left', async () => {
    const log = path.join(directory, 'app.log');
    await writeFile(log, '');
    const run = await startTailer({ paths: [`${log}*`] });
    const writer = new NumberedWriter();
    for (let generation = 0; generation < 5; generation += 1) {
      for (let batch = 0; batch < 20; batch += 1) {
        await writer.append(log, 25);
        await delay(1);
      }
      // logrotate's copytruncate: copy, then truncate in place. Lines the tailer had not yet
      // read from the original are only in the copy now.
      await copyFile(log, `${log}.${generation}`);
      await truncate(log, 0);
    }
    await writer.append(log, 10);
    await eventually(() => expect(run.lines.length).toBeGreaterThanOrEqual(writer.written));
    expectEachExactlyOnce(run.lines, writer.written);
    const stats = run.tailer.stats();
    expect(stats.copiesRecognized).toBe(5);
    expect(stats.truncations).toBe(5);
  }, TEST_TIMEOUT_MS);

  it('a plain copy of a followed file under the glob is recognised and not read twice', async () => {
    const log = path.join(directory, 'app.log');
    await writeFile(log, '');
    const run = await startTailer({ paths: [`${log}*`] });
    const writer = new NumberedWriter();
    await writer.append(log, 100);
    await eventually(() => expect(run.lines.length).toBe(100));
    await copyFile(log, `${log}.backup`);
    for (let batch = 0; batch < 10; batch += 1) {
      await writer.append(log, 10);
      await delay(20);
    }
    await eventually(() => expect(run.tailer.stats().copiesRecognized).toBe(1));
    // Lines added to the copy itself afterwards are its own, and are read.
    await appendFile(`${log}.backup`, 'line 000200 written to the copy\n');
    writer.written += 1;
    await eventually(() => expect(run.lines.length).toBe(writer.written));
    expectEachExactlyOnce(run.lines, writer.written);
  }, TEST_TIMEOUT_MS);

  describe('logs that all begin with the same banner (first KiB identical)', () => {
    /** What a worker writes first into every log it starts: 12 lines, 1,236 bytes, always the same. */
    const BANNER_LINES = 12;
    const banner = Array.from({ length: BANNER_LINES }, (_, i) => `# worker 4.2.1 starting; banner line ${String(i).padStart(2, '0')} ${'='.repeat(70)}\n`).join('');
    const isBanner = (line: string): boolean => line.startsWith('# worker 4.2.1 starting;');

    /** Every numbered line exactly once, and the banner as many times as files were begun. */
    function expectExactCount(run: Running, writer: NumberedWriter, files: number): void {
      expect(banner.length).toBeGreaterThan(1024);
      expect(run.lines.filter(isBanner)).toHaveLength(files * BANNER_LINES);
      expectEachExactlyOnce(
        run.lines.filter((line) => !isBanner(line)),
        writer.written,
      );
    }

    it('rename-and-create: the new file, begun with the banner and lines before the next poll, is read from its start', async () => {
      const log = path.join(directory, 'app.log');
      await writeFile(log, banner);
      const run = await startTailer({ paths: [`${log}*`] });
      const writer = new NumberedWriter();
      for (let generation = 0; generation < 4; generation += 1) {
        await writer.append(log, 17);
        await waitForLine(run, writer.written - 1);
        await writer.append(log, 17);
        for (let older = generation - 1; older >= 0; older -= 1) await rename(`${log}.${older}`, `${log}.${older + 1}`);
        await rename(log, `${log}.0`);
        await writeFile(log, banner + writer.text(17));
      }
      await writer.append(log, 5);
      await eventually(() => expect(run.lines.length).toBe(writer.written + 5 * BANNER_LINES));
      expectExactCount(run, writer, 5);
      expect(run.tailer.stats().copiesRecognized).toBe(0);
    }, TEST_TIMEOUT_MS);

    it('rename-and-create with the renamed file outside the glob, the new one holding only the banner when found', async () => {
      const log = path.join(directory, 'app.log');
      await writeFile(log, banner);
      const run = await startTailer({ paths: [log] });
      const writer = new NumberedWriter();
      for (let generation = 0; generation < 3; generation += 1) {
        await writer.append(log, 20);
        await waitForLine(run, writer.written - 1);
        const rotations = run.tailer.stats().rotations;
        await rename(log, `${log}.${generation}`);
        await writeFile(log, banner);
        // The tailer has seen the new file, banner only, before its lines come.
        await eventually(() => expect(run.tailer.stats().rotations).toBe(rotations + 1));
        await eventually(() => expect(run.lines.filter(isBanner)).toHaveLength((generation + 2) * BANNER_LINES));
      }
      await writer.append(log, 20);
      await eventually(() => expect(run.lines.length).toBe(writer.written + 4 * BANNER_LINES));
      expectExactCount(run, writer, 4);
    }, TEST_TIMEOUT_MS);

    it('delete-and-recreate: the new file is read from its start, the deleted one to its end', async () => {
      const log = path.join(directory, 'app.log');
      await writeFile(log, banner);
      const run = await startTailer({ paths: [log] });
      const writer = new NumberedWriter();
      for (let generation = 0; generation < 4; generation += 1) {
        await writer.append(log, 17);
        await waitForLine(run, writer.written - 1);
        await writer.append(log, 17);
        await unlink(log);
        await writeFile(log, banner + writer.text(17));
      }
      await writer.append(log, 5);
      await eventually(() => expect(run.lines.length).toBe(writer.written + 5 * BANNER_LINES));
      expectExactCount(run, writer, 5);
      expect(run.tailer.stats().copiesRecognized).toBe(0);
    }, TEST_TIMEOUT_MS);

    it('copytruncate: the copy is recognised and read from where the original was left, once', async () => {
      const log = path.join(directory, 'app.log');
      await writeFile(log, banner);
      const run = await startTailer({ paths: [`${log}*`] });
      const writer = new NumberedWriter();
      for (let generation = 0; generation < 4; generation += 1) {
        await writer.append(log, 20);
        await waitForLine(run, writer.written - 1);
        for (let batch = 0; batch < 10; batch += 1) {
          await writer.append(log, 10);
          await delay(1);
        }
        // logrotate: older copies move up, the log is copied, then truncated; the worker
        // notices and begins it with its banner again.
        for (let older = generation - 1; older >= 0; older -= 1) await rename(`${log}.${older}`, `${log}.${older + 1}`);
        await copyFile(log, `${log}.0`);
        await truncate(log, 0);
        await appendFile(log, banner);
        await eventually(() => expect(run.tailer.stats().copiesRecognized).toBe(generation + 1));
      }
      await writer.append(log, 5);
      await eventually(() => expect(run.lines.length).toBe(writer.written + 5 * BANNER_LINES));
      expectExactCount(run, writer, 5);
      expect(run.tailer.stats().truncations).toBe(4);
    }, TEST_TIMEOUT_MS);

    it('copytruncate with the copy still empty when the scan saw it: read from where the original was left, once', async () => {
      const log = path.join(directory, 'app.log');
      const copy = `${log}.0`;
      await writeFile(log, banner);
      let copyContent: Buffer | undefined;
      // Asked between the scan and the open: the copy the scan saw empty (being written) is
      // whole when it is opened, as when a scan comes in the middle of logrotate's copy.
      const claim = (_identity: string, claimed: string): boolean => {
        if (claimed === copy && copyContent) writeFileSync(copy, copyContent);
        copyContent = undefined;
        return true;
      };
      // A grace longer than any test: the ghost of the truncated content waits for the copy.
      const run = await startTailer({ paths: [`${log}*`], rotationGraceMs: 60_000, claim });
      const writer = new NumberedWriter();
      await writer.append(log, 30);
      await waitForLine(run, writer.written - 1);
      const content = await readFile(log);
      await truncate(log, 0);
      await appendFile(log, banner);
      await eventually(() => expect(run.tailer.stats().truncations).toBe(1));
      copyContent = content;
      await writeFile(copy, '');
      await eventually(() => expect(run.tailer.stats().copiesRecognized).toBe(1));
      // Lines written to each afterwards: once both are seen, a copy read again from 0 would show.
      await writer.append(copy, 1);
      await waitForLine(run, writer.written - 1);
      await writer.append(log, 5);
      await waitForLine(run, writer.written - 1);
      expectExactCount(run, writer, 2);
      expect(run.tailer.stats().truncations).toBe(1);
    }, TEST_TIMEOUT_MS);

    it('plain truncation, rewritten with the banner past the old offset: read again from 0', async () => {
      const log = path.join(directory, 'app.log');
      await writeFile(log, banner);
      const run = await startTailer({ paths: [log] });
      const writer = new NumberedWriter();
      await writer.append(log, 30);
      await waitForLine(run, writer.written - 1);
      // Same inode, same first KiB, longer than what was read: only the bytes before the old
      // offset tell that this is other content.
      await writeFile(log, banner + writer.text(60));
      await eventually(() => expect(run.lines.length).toBe(writer.written + 2 * BANNER_LINES));
      await writer.append(log, 5);
      await eventually(() => expect(run.lines.length).toBe(writer.written + 2 * BANNER_LINES));
      expectExactCount(run, writer, 2);
      expect(run.tailer.stats().truncations).toBe(1);
    }, TEST_TIMEOUT_MS);
  });

  it('truncation mid-stream: restarts at 0 whether the file is now shorter or already longer', async () => {
    const log = path.join(directory, 'app.log');
    await writeFile(log, '');
    const run = await startTailer({ paths: [log] });
    const writer = new NumberedWriter();
    await writer.append(log, 100);
    await eventually(() => expect(run.lines.length).toBe(100));
    // Truncated and already written past the old offset: only the first bytes tell.
    await writeFile(log, writer.text(200));
    await eventually(() => expect(run.lines.length).toBe(300));
    // Truncated to less than was read.
    await writeFile(log, writer.text(10));
    await eventually(() => expect(run.lines.length).toBe(310));
    await writer.append(log, 5);
    await eventually(() => expect(run.lines.length).toBe(315));
    expectEachExactlyOnce(run.lines, writer.written);
    expect(run.tailer.stats().truncations).toBe(2);
  }, TEST_TIMEOUT_MS);

  it('deletion and re-creation: drains the deleted file through its descriptor, then reads the new one', async () => {
    const log = path.join(directory, 'app.log');
    await writeFile(log, '');
    const run = await startTailer({ paths: [log] });
    const writer = new NumberedWriter();
    for (let generation = 0; generation < 4; generation += 1) {
      const first = writer.written;
      await writer.append(log, 10);
      await waitForLine(run, first);
      for (let batch = 0; batch < 10; batch += 1) {
        await writer.append(log, 25);
        await delay(1);
      }
      await unlink(log);
      await writeFile(log, '');
    }
    await eventually(() => expect(run.lines.length).toBeGreaterThanOrEqual(writer.written));
    expectEachExactlyOnce(run.lines, writer.written);
    // A deleted file's checkpoint entry goes with it: its inode may be reused.
    await eventually(() => expect(run.tailer.stats().filesTracked).toBe(1));
    await run.tailer.shutdown();
    const saved = JSON.parse(await readFile(checkpointFile(), 'utf8'));
    expect(Object.keys(saved.files)).toHaveLength(1);
  }, TEST_TIMEOUT_MS);

  it('picks up a file appearing under the glob, from its start even with startAt end', async () => {
    await writeFile(path.join(directory, 'old.log'), 'skipped 1\nskipped 2\n');
    await writeFile(path.join(directory, 'notes.txt'), 'not matched\n');
    const run = await startTailer({ paths: [path.join(directory, '*.log')], startAt: 'end' });
    const writer = new NumberedWriter();
    await writer.append(path.join(directory, 'new.log'), 5);
    await mkdir(path.join(directory, 'sub'));
    await writeFile(path.join(directory, 'sub', 'deeper.log'), 'one segment down: not matched\n');
    await writer.append(path.join(directory, 'old.log'), 3);
    await eventually(() => expect(run.lines.length).toBe(8));
    expectEachExactlyOnce(run.lines, 8);
  }, TEST_TIMEOUT_MS);

  describe('files that live less than a poll interval', () => {
    // A poll every minute: within a test, only the directory watch can find these files.
    const POLL_NEVER_MS = 60_000;

    it('a file created, written and deleted between two polls is counted whole', async () => {
      const run = await startTailer({ paths: [path.join(directory, '*.log')], pollIntervalMs: POLL_NEVER_MS });
      expect(run.tailer.stats().directoriesWatched).toBe(1);
      const writer = new NumberedWriter();
      for (let file = 0; file < 5; file += 1) {
        const log = path.join(directory, `job-${file}.log`);
        const first = writer.written;
        await writer.append(log, 1);
        // Found by the watch (its first line is read), then written to and deleted at once.
        await waitForLine(run, first);
        for (let batch = 0; batch < 10; batch += 1) await writer.append(log, 20);
        await unlink(log);
      }
      await eventually(() => expect(run.lines.length).toBe(writer.written));
      expectEachExactlyOnce(run.lines, writer.written);
      expect(run.tailer.stats().pollsOnEvent).toBeGreaterThan(0);
    }, TEST_TIMEOUT_MS);

    it('delete-and-recreate at once, over and over: every file is counted whole', async () => {
      const log = path.join(directory, 'app.log');
      await writeFile(log, '');
      const run = await startTailer({ paths: [log], pollIntervalMs: POLL_NEVER_MS });
      const writer = new NumberedWriter();
      for (let generation = 0; generation < 10; generation += 1) {
        const first = writer.written;
        await writer.append(log, 50);
        await waitForLine(run, first);
        await writer.append(log, 50);
        await unlink(log);
        await writeFile(log, '');
      }
      await eventually(() => expect(run.lines.length).toBe(writer.written));
      expectEachExactlyOnce(run.lines, writer.written);
    }, TEST_TIMEOUT_MS);

    it('a watched directory removed and made again is watched again; new files in it are found', async () => {
      const logs = path.join(directory, 'logs');
      await mkdir(logs);
      const run = await startTailer({ paths: [path.join(logs, '*.log')], pollIntervalMs: 200 });
      const writer = new NumberedWriter();
      await writer.append(path.join(logs, 'a.log'), 10);
      await eventually(() => expect(run.lines.length).toBe(10));
      await rm(logs, { recursive: true });
      await eventually(() => expect(run.tailer.stats().directoriesWatched).toBe(0));
      await mkdir(logs);
      // Found by the poll (the fallback), which watches the new directory from then on.
      await eventually(() => expect(run.tailer.stats().directoriesWatched).toBe(1));
      const polls = run.tailer.stats().pollsOnEvent;
      await writer.append(path.join(logs, 'b.log'), 10);
      await eventually(() => expect(run.lines.length).toBe(20));
      expectEachExactlyOnce(run.lines, 20);
      expect(run.tailer.stats().pollsOnEvent).toBeGreaterThan(polls);
      await run.tailer.shutdown();
      expect(run.tailer.stats().directoriesWatched).toBe(0);
    }, TEST_TIMEOUT_MS);

    it('directories that cannot be watched (ENOSPC: the watch limit) are polled; nothing crashes', async () => {
      const log = path.join(directory, 'app.log');
      const noWatchesLeft = () => {
        throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), { code: 'ENOSPC' });
      };
      const warnings: string[] = [];
      const logger = { ...silentLogger(), warn: (_fields: object, message: string) => warnings.push(message) };
      const run = await startTailer({ paths: [log], pollIntervalMs: 50, watch: noWatchesLeft, logger });
      const writer = new NumberedWriter();
      await writer.append(log, 30);
      await eventually(() => expect(run.lines.length).toBe(30));
      expectEachExactlyOnce(run.lines, 30);
      expect(run.tailer.stats()).toMatchObject({ directoriesWatched: 0, pollsOnEvent: 0 });
      expect(warnings).toContain('cannot watch directory; polling it only');
    }, TEST_TIMEOUT_MS);
  });

  it('keeps under maxOpenFiles by closing idle files and reopening them by path when they grow', async () => {
    const writer = new NumberedWriter();
    const files = Array.from({ length: 6 }, (_, i) => path.join(directory, `worker-${i}.log`));
    for (const file of files) await writer.append(file, 20);
    const run = await startTailer({ paths: [path.join(directory, 'worker-*.log')], maxOpenFiles: 2 });
    let mostOpen = 0;
    const sampler = setInterval(() => (mostOpen = Math.max(mostOpen, run.tailer.stats().filesOpen)), 5);
    try {
      for (let round = 0; round < 3; round += 1) {
        for (const file of files) await writer.append(file, 10);
        await eventually(() => expect(run.lines.length).toBe(writer.written));
      }
    } finally {
      clearInterval(sampler);
    }
    expectEachExactlyOnce(run.lines, writer.written);
    expect(mostOpen).toBe(2);
  }, TEST_TIMEOUT_MS);

  it('holds a partial last line until its newline, or hands it on after the flush timeout', async () => {
    const held = path.join(directory, 'held.log');
    const flushed = path.join(directory, 'flushed.log');
    await writeFile(held, '');
    await writeFile(flushed, '');
    const patient = await startTailer({ paths: [held], flushTimeoutMs: 60_000 });
    await appendFile(held, 'first\nsecond half');
    await eventually(() => expect(patient.tailer.stats().bytesRead).toBe(17));
    expect(patient.lines).toEqual(['first']);
    await appendFile(held, ' arrives\n');
    await eventually(() => expect(patient.lines).toEqual(['first', 'second half arrives']));

    const hasty = await startTailer({ paths: [flushed], flushTimeoutMs: 200 });
    await appendFile(flushed, 'no newline yet');
    await eventually(() => expect(hasty.lines).toEqual(['no newline yet']));
    expect(hasty.tailer.stats().partialLinesFlushed).toBe(1);
    await appendFile(flushed, 'next\n');
    await eventually(() => expect(hasty.lines).toEqual(['no newline yet', 'next']));
  }, TEST_TIMEOUT_MS);

  it('a too-long line ended by the flush timeout is refused once, and its late newline is no empty line', async () => {
    const log = path.join(directory, 'app.log');
    await writeFile(log, '');
    const run = await startTailer({ paths: [log], maxLineBytes: 100, flushTimeoutMs: 200 });
    await appendFile(log, 'y'.repeat(300));
    await eventually(() => expect(run.tailer.stats().partialLinesFlushed).toBe(1));
    const writer = new NumberedWriter();
    await appendFile(log, `\n${writer.text(2)}`);
    await eventually(() => expect(run.lines.length).toBeGreaterThanOrEqual(2));
    expect(run.lines.map(lineNumber)).toEqual([0, 1]);
    expect(run.refused).toEqual(['line_too_long']);
  }, TEST_TIMEOUT_MS);

  it('refuses over-long lines and invalid UTF-8, and keeps the lines around them', async () => {
    const log = path.join(directory, 'app.log');
    await writeFile(log, '');
    const run = await startTailer({ paths: [log], maxLineBytes: 100 });
    const writer = new NumberedWriter();
    await writer.append(log, 3);
    await appendFile(log, `${'x'.repeat(101)}\n`);
    await writer.append(log, 3);
    await appendFile(log, `${'y'.repeat(300_000)}\n`); // spans several 64 KiB reads
    await appendFile(log, Buffer.from([0x6a, 0x6f, 0x62, 0xc3, 0x28, 0x0a]));
    await writer.append(log, 3);
    await eventually(() => expect(run.lines.length).toBe(9));
    expectEachExactlyOnce(run.lines, 9);
    expect(run.refused).toEqual(['line_too_long', 'line_too_long', 'invalid_utf8']);
  }, TEST_TIMEOUT_MS);

  it('a consumer that throws loses only its own line: the rest of the chunk is still handed on', async () => {
    const log = path.join(directory, 'app.log');
    await writeFile(log, '');
    const delivered: number[] = [];
    const run = await startTailer({
      paths: [log],
      maxLineBytes: 100,
      onLine: (bytes, start, end) => {
        const line = bytes.toString('utf8', start, end);
        if (lineNumber(line) === 3) throw new Error('consumer bug');
        delivered.push(lineNumber(line));
      },
      onRefused: () => {
        throw new Error('consumer bug');
      },
    });
    const writer = new NumberedWriter();
    await appendFile(log, writer.text(5) + `${'z'.repeat(200)}\n` + writer.text(5));
    await eventually(() => expect(delivered).toHaveLength(9));
    expect(delivered).toEqual([0, 1, 2, 4, 5, 6, 7, 8, 9]);
    expect(run.tailer.stats()).toMatchObject({ errors: 2, linesEmitted: 10, refused: { line_too_long: 1 } });
  }, TEST_TIMEOUT_MS);

  it('graceful restart: resumes exactly, by identity, across a rotation made while stopped', async () => {
    const log = path.join(directory, 'app.log');
    await writeFile(log, 'before the first start\n');
    const writer = new NumberedWriter();
    const first = await startTailer({ paths: [`${log}*`], startAt: 'end' });
    await writer.append(log, 500);
    await appendFile(log, 'line 000500 half');
    await eventually(() => expect(first.lines.length).toBe(500));
    await first.tailer.shutdown();
    writer.written = 501;

    // While stopped: the line is finished, more lines land, the file is rotated and a new one
    // begun. startAt 'end' must not skip the new file: it was born after the last scan.
    await appendFile(log, ' job=build status=succeeded duration_s=1.5\n');
    await writer.append(log, 100);
    await rename(log, `${log}.1`);
    await writer.append(log, 100);
    const second = await startTailer({ paths: [`${log}*`], startAt: 'end' });
    await writer.append(log, 50);
    await eventually(() => expect(second.lines.length).toBe(writer.written - 500));
    expectEachExactlyOnce([...first.lines, ...second.lines], writer.written);
  }, TEST_TIMEOUT_MS);

  it('graceful stop right after a rotation (the renamed file outside the glob): its last lines are read before the stop', async () => {
    const log = path.join(directory, 'app.log');
    const writer = new NumberedWriter();
    // Neither a poll nor a directory event comes between the rotation and the stop, as when a
    // SIGHUP lands within one poll of logrotate.
    const quiet = { paths: [log], pollIntervalMs: 60_000, watchDirectories: false };
    await writer.append(log, 200);
    const first = await startTailer(quiet);
    await eventually(() => expect(first.lines.length).toBe(200));
    await writer.append(log, 300);
    await rename(log, `${log}.1`);
    await writer.append(log, 100);
    await first.tailer.shutdown();
    expect(first.lines.length).toBe(500);

    const second = await startTailer(quiet);
    await eventually(() => expect(second.lines.length).toBe(100));
    expectEachExactlyOnce([...first.lines, ...second.lines], writer.written);
  }, TEST_TIMEOUT_MS);

  it('restart after the file was truncated and rewritten past its offset: reads the new content whole', async () => {
    const log = path.join(directory, 'app.log');
    await writeFile(log, '');
    const writer = new NumberedWriter();
    const first = await startTailer({ paths: [log], startAt: 'end' });
    await writer.append(log, 100);
    await eventually(() => expect(first.lines.length).toBe(100));
    await first.tailer.shutdown();
    // Same inode, other content, longer than the checkpointed offset: only the fingerprint tells.
    await writeFile(log, writer.text(300));
    const second = await startTailer({ paths: [log], startAt: 'end' });
    await eventually(() => expect(second.lines.length).toBe(300));
    expectEachExactlyOnce([...first.lines, ...second.lines], writer.written);
    expect(second.tailer.stats().truncations).toBe(1);
  }, TEST_TIMEOUT_MS);

  it('restart after the file moved to another inode while stopped: the copy resumes at the checkpoint', async () => {
    const log = path.join(directory, 'app.log');
    await writeFile(log, '');
    const writer = new NumberedWriter();
    const first = await startTailer({ paths: [`${log}*`] });
    await writer.append(log, 100);
    await eventually(() => expect(first.lines.length).toBe(100));
    await first.tailer.shutdown();
    // A move across filesystems, as `mv` does it: copy, then delete the original.
    await copyFile(log, `${log}.moved`);
    await unlink(log);
    await writer.append(`${log}.moved`, 50);
    const second = await startTailer({ paths: [`${log}*`] });
    await eventually(() => expect(second.lines.length).toBe(50));
    expectEachExactlyOnce([...first.lines, ...second.lines], writer.written);
    expect(second.tailer.stats().copiesRecognized).toBe(1);
  }, TEST_TIMEOUT_MS);

  it('crash: from the checkpoint written at the last interval, no line lost, repeats only after it', async () => {
    const log = path.join(directory, 'app.log');
    await writeFile(log, '');
    const writer = new NumberedWriter();
    const first = await startTailer({ paths: [log], checkpointIntervalMs: 100 });
    for (let batch = 0; batch < 40; batch += 1) {
      await writer.append(log, 25);
      await delay(2);
    }
    await eventually(async () => {
      const saved = JSON.parse(await readFile(checkpointFile(), 'utf8'));
      expect(Object.values<{ offset: number }>(saved.files)[0].offset).toBeGreaterThan(0);
    });
    // What a crash leaves on disk: the checkpoint file as of now, while lines keep coming.
    const crashState = path.join(directory, 'crash-state.json');
    await copyFile(checkpointFile(), crashState);
    for (let batch = 0; batch < 20; batch += 1) await writer.append(log, 25);
    await eventually(() => expect(first.lines.length).toBe(writer.written));
    await first.tailer.shutdown();

    const saved = JSON.parse(await readFile(crashState, 'utf8'));
    const offset = Object.values<{ offset: number }>(saved.files)[0].offset;
    const content = await readFile(log);
    const linesCheckpointed = content.subarray(0, offset).toString().split('\n').length - 1;

    const second = await startTailer({ paths: [log], checkpoints: new CheckpointStore(crashState) });
    await writer.append(log, 100);
    await eventually(() => expect(second.lines.length).toBe(writer.written - linesCheckpointed));
    // Exactly the lines after the checkpoint are read again: none before it, none missing.
    expect(second.lines.map(lineNumber)).toEqual(
      Array.from({ length: writer.written - linesCheckpointed }, (_, i) => linesCheckpointed + i),
    );
    expect(new Set([...first.lines, ...second.lines]).size).toBe(writer.written);
  }, TEST_TIMEOUT_MS);
});

describe('joblog tailer in its own process, killed with SIGKILL', () => {
  let directory: string;
  let childRoot: string;
  let moduleDirectory: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    // The child runs plain Node 20, which cannot load TypeScript: the tailer's modules
    // are transpiled here (type-only imports vanish), inside the repository so that `zod`
    // and `picomatch` resolve from its node_modules, laid out as under src/ so that their
    // relative imports hold.
    childRoot = path.join(repositoryRoot, 'tmp', `joblog-child-${process.pid}`);
    moduleDirectory = path.join(childRoot, 'receivers', 'joblog');
    const modules = [
      ...['tailer', 'checkpoint', 'fingerprint', 'directory-watcher'].map((name) => `receivers/joblog/${name}`),
      'component/glob',
      'state/store',
      'state/atomic',
    ];
    for (const name of modules) {
      const source = await readFile(path.join(repositoryRoot, 'src', `${name}.ts`), 'utf8');
      const { outputText } = ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        fileName: `${name}.ts`,
      });
      await mkdir(path.dirname(path.join(childRoot, name)), { recursive: true });
      await writeFile(path.join(childRoot, `${name}.js`), outputText);
    }
    directory = await mkdtemp(path.join(tmpdir(), 'joblog-kill-'));
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(childRoot, { recursive: true, force: true });
    await rm(directory, { recursive: true, force: true });
  });

  function startChild(output: string): Promise<ChildProcess> {
    const config = {
      paths: [path.join(directory, 'app.log*')],
      startAt: 'end',
      checkpointIntervalMs: 200,
      checkpointFile: path.join(directory, 'state', 'checkpoints.json'),
      output,
    };
    const script = path.join(repositoryRoot, 'test/integration/fixtures/joblog-tail-child.mjs');
    const child = spawn(process.execPath, [script, moduleDirectory, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (data: Buffer) => (stderr += data.toString()));
    return new Promise((resolve, reject) => {
      child.stdout?.on('data', (data: Buffer) => {
        if (data.toString().includes('ready')) resolve(child);
      });
      child.once('exit', (code, signal) => {
        reject(new Error(`child exited (${code ?? signal}) before ready: ${stderr}`));
      });
    });
  }

  const exited = (child: ChildProcess): Promise<number | null> =>
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve(child.exitCode)
      : new Promise((resolve) => child.once('exit', (code) => resolve(code)));

  const readLines = async (file: string): Promise<string[]> => {
    const text = await readFile(file, 'utf8').catch(() => '');
    return text.split('\n').filter((line) => line.length > 0);
  };

  it('loses no line and repeats only the lines after the last checkpoint', async () => {
    const log = path.join(directory, 'app.log');
    await writeFile(log, '');
    const firstOutput = path.join(directory, 'first.out');
    const secondOutput = path.join(directory, 'second.out');
    const writer = new NumberedWriter();

    const first = await startChild(firstOutput);
    const { dev, ino } = await stat(log, { bigint: true });
    for (let batch = 0; batch < 60; batch += 1) {
      await writer.append(log, 25);
      await delay(3);
    }
    await eventually(async () => expect((await readLines(firstOutput)).length).toBeGreaterThan(1000));
    await eventually(async () => {
      const saved = JSON.parse(await readFile(path.join(directory, 'state', 'checkpoints.json'), 'utf8'));
      expect(saved.files[`${dev}:${ino}`].offset).toBeGreaterThan(0);
    });
    // Kill it in the middle of a stream of writes.
    const killAfterBatch = 10;
    for (let batch = 0; batch < 40; batch += 1) {
      if (batch === killAfterBatch) first.kill('SIGKILL');
      await writer.append(log, 25);
      await delay(3);
    }
    await exited(first);
    // While it is down, the file is rotated and a new one begun.
    await rename(log, `${log}.1`);
    await writer.append(log, 200);

    const saved = JSON.parse(await readFile(path.join(directory, 'state', 'checkpoints.json'), 'utf8'));
    const offset: number = saved.files[`${dev}:${ino}`].offset;
    const rotated = await readFile(`${log}.1`);
    const linesCheckpointed = rotated.subarray(0, offset).toString().split('\n').length - 1;

    const second = await startChild(secondOutput);
    await writer.append(log, 300);
    await eventually(async () => {
      expect((await readLines(secondOutput)).length).toBe(writer.written - linesCheckpointed);
    });
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);

    const firstLines = await readLines(firstOutput);
    const secondLines = await readLines(secondOutput);
    // The second run read exactly the lines after the last checkpoint, each once.
    expect(secondLines.map(lineNumber).sort((a, b) => a - b)).toEqual(
      Array.from({ length: writer.written - linesCheckpointed }, (_, i) => linesCheckpointed + i),
    );
    // The first run handed on every line up to the checkpoint, each once.
    expectEachExactlyOnce(firstLines.filter((line) => lineNumber(line) < linesCheckpointed), linesCheckpointed);
    expect(new Set(firstLines).size).toBe(firstLines.length);
    // Together: nothing lost; the repeats are first-run lines after the checkpoint only.
    expect(new Set([...firstLines, ...secondLines]).size).toBe(writer.written);
  }, TEST_TIMEOUT_MS);
});
