import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointStore } from '../../../../src/receivers/joblog/checkpoint.js';
import { Tailer } from '../../../../src/receivers/joblog/tailer.js';
import type { TailerOptions } from '../../../../src/receivers/joblog/tailer.js';
import { silentLogger } from '../../../../src/telemetry/silent-logger.js';

const logger = silentLogger();

describe('Tailer lifecycle', () => {
  let directory: string;
  let options: TailerOptions;

  beforeEach(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'joblog-lifecycle-'));
    options = {
      paths: [path.join(directory, '*.log')],
      startAt: 'beginning',
      maxLineBytes: 1024,
      checkpoints: new CheckpointStore(path.join(directory, 'checkpoints.json')),
      onLine: () => undefined,
      onRefused: () => undefined,
      logger,
    };
  });

  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('refuses options that cannot work, naming them', () => {
    expect(() => new Tailer({ ...options, paths: [] })).toThrow('tailer: paths must name at least one file or glob');
    expect(() => new Tailer({ ...options, maxLineBytes: 0 })).toThrow(
      'tailer: maxLineBytes must be a positive integer, got 0',
    );
    expect(() => new Tailer({ ...options, pollIntervalMs: 2.5 })).toThrow(
      'tailer: pollIntervalMs must be a positive integer, got 2.5',
    );
  });

  it('shutdown without start is safe and leaves an existing checkpoint file alone', async () => {
    const saved = '{"version":1,"savedAt":"2026-01-01T00:00:00.000Z","files":{}}\n';
    await writeFile(path.join(directory, 'checkpoints.json'), saved);
    const tailer = new Tailer(options);
    await tailer.shutdown();
    await tailer.shutdown();
    expect(await readFile(path.join(directory, 'checkpoints.json'), 'utf8')).toBe(saved);
  });

  it('start twice is an error; shutdown twice is not, and writes a final checkpoint', async () => {
    await writeFile(path.join(directory, 'a.log'), 'one\n');
    const tailer = new Tailer(options);
    await tailer.start();
    await expect(tailer.start()).rejects.toThrow('start called twice');
    await Promise.all([tailer.shutdown(), tailer.shutdown()]);
    const saved = JSON.parse(await readFile(path.join(directory, 'checkpoints.json'), 'utf8'));
    expect(Object.values(saved.files)).toMatchObject([{ path: path.join(directory, 'a.log') }]);
    expect(tailer.stats().filesOpen).toBe(0);
  });

  it('shutdown while starting waits for the start, keeps the loaded checkpoints, closes everything', async () => {
    await writeFile(path.join(directory, 'a.log'), 'one\n');
    const first = new Tailer(options);
    await first.start();
    await first.shutdown();
    const before = JSON.parse(await readFile(path.join(directory, 'checkpoints.json'), 'utf8'));

    const checkpoints = new CheckpointStore(path.join(directory, 'checkpoints.json'));
    const second = new Tailer({ ...options, checkpoints });
    const starting = second.start();
    await second.shutdown();
    await starting;
    const after = JSON.parse(await readFile(path.join(directory, 'checkpoints.json'), 'utf8'));
    expect(Object.keys(after.files)).toEqual(Object.keys(before.files));
    expect(second.stats()).toMatchObject({ filesOpen: 0, filesTracked: 0 });
  });
});
