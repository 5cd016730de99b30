import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointStore } from '../../../../src/receivers/joblog/checkpoint.js';
import type { Logger } from '../../../../src/component/types.js';

function recordingLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  const logger: Logger & { errors: string[] } = {
    errors,
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: (_fields, message) => errors.push(message ?? ''),
    child: () => logger,
  };
  return logger;
}

const fingerprint = { length: 4, hash: 'ab12' };

describe('CheckpointStore', () => {
  let directory: string;
  let file: string;

  beforeEach(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'joblog-checkpoint-'));
    file = path.join(directory, 'state', 'joblog.json');
  });

  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('starts empty when the file does not exist', async () => {
    const store = new CheckpointStore(file);
    await store.load();
    expect(store.size).toBe(0);
    expect(store.scannedAt).toBeUndefined();
  });

  it('round-trips entries and the scan mark, leaving no temporary file', async () => {
    const store = new CheckpointStore(file);
    await store.load();
    const seenAt = Date.now();
    store.set('2049:131', { offset: 4096, fingerprint, path: '/var/log/jobs.log', seenAt });
    store.markScanned(seenAt - 10);
    await store.flush();
    expect(await readdir(path.dirname(file))).toEqual(['joblog.json']);

    const reloaded = new CheckpointStore(file);
    await reloaded.load();
    expect(reloaded.get('2049:131')).toEqual({ offset: 4096, fingerprint, path: '/var/log/jobs.log', seenAt });
    expect(reloaded.scannedAt).toBe(seenAt - 10);
  });

  it('writes only when something changed, unless forced', async () => {
    const store = new CheckpointStore(file);
    await store.load();
    await store.flush();
    await expect(readFile(file)).rejects.toMatchObject({ code: 'ENOENT' });
    await store.flush({ force: true });
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ version: 1, files: {} });
  });

  it('prunes entries not seen for pruneAfterMs, and keeps the most recently seen under maxEntries', async () => {
    const store = new CheckpointStore(file, { pruneAfterMs: 60_000, maxEntries: 2 });
    await store.load();
    const now = Date.now();
    store.set('1:1', { offset: 1, fingerprint, path: '/a', seenAt: now - 120_000 });
    store.set('1:2', { offset: 2, fingerprint, path: '/b', seenAt: now - 3000 });
    store.set('1:3', { offset: 3, fingerprint, path: '/c', seenAt: now - 2000 });
    store.set('1:4', { offset: 4, fingerprint, path: '/d', seenAt: now - 1000 });
    store.touch('1:2', now);
    await store.flush();
    expect(store.identities().sort()).toEqual(['1:2', '1:4']);
    const reloaded = new CheckpointStore(file);
    await reloaded.load();
    expect(reloaded.identities().sort()).toEqual(['1:2', '1:4']);
  });

  it('writes receivers\' states with the offsets, asks their providers at each write, and keeps the last word of one that stops', async () => {
    const store = new CheckpointStore(file);
    await store.load();
    let open = 2;
    store.provideReceiverState('joblog/a', () => (open === 0 ? undefined : { pairs: { open } }));
    store.provideReceiverState('joblog/b', () => ({ pairs: { open: 7 } }));
    store.set('1:2', { offset: 10, fingerprint, path: '/a.log', seenAt: Date.now() });
    await store.flush();

    const loaded = new CheckpointStore(file);
    await loaded.load();
    expect(loaded.receiverState('joblog/a')).toMatchObject({ pairs: { open: 2 } });
    expect(Date.parse(String(loaded.receiverState('joblog/a')?.savedAt))).toBeGreaterThan(Date.now() - 60_000);

    // A receiver that stops leaves its state as it last gave it; one with nothing open, none.
    open = 0;
    store.provideReceiverState('joblog/b', undefined);
    await store.flush({ force: true });
    await loaded.load();
    expect(loaded.receiverState('joblog/a')).toBeUndefined();
    expect(loaded.receiverState('joblog/b')).toMatchObject({ pairs: { open: 7 } });
    // Kept by a store that loaded it, until a receiver of that id provides its own.
    await loaded.flush({ force: true });
    await loaded.load();
    expect(loaded.receiverState('joblog/b')).toMatchObject({ pairs: { open: 7 } });
  });

  it('drops the state of a receiver that has not provided it for pruneAfterMs', async () => {
    const stale = { version: 1, savedAt: new Date().toISOString(), files: {}, receivers: { 'joblog/gone': { savedAt: new Date(Date.now() - 3_600_000).toISOString(), pairs: {} } } };
    await rm(path.dirname(file), { recursive: true, force: true });
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(stale));
    const store = new CheckpointStore(file, { pruneAfterMs: 60_000 });
    await store.load();
    expect(store.receiverState('joblog/gone')).toBeDefined();
    await store.flush({ force: true });
    await store.load();
    expect(store.receiverState('joblog/gone')).toBeUndefined();
  });

  it('moves an unreadable file aside, says why, and starts empty', async () => {
    const negativeOffset = '{"version":1,"savedAt":"2026-01-01T00:00:00Z","files":{"x":{"offset":-1}}}';
    await writeFile(path.join(directory, 'bad.json'), negativeOffset);
    const logger = recordingLogger();
    const store = new CheckpointStore(path.join(directory, 'bad.json'), { logger });
    await store.load();
    expect(store.size).toBe(0);
    const moved = (await readdir(directory)).sort();
    expect(moved).toEqual([expect.stringMatching(/^bad\.json\.corrupt-\d{8}T\d{6}\.\d{3}Z$/)]);
    expect(logger.errors).toEqual([`state file unusable, moved aside to ${path.join(directory, moved[0])}; starting without it`]);
  });

  it('serialises concurrent flushes and keeps entries set during a write for the next one', async () => {
    const store = new CheckpointStore(file);
    await store.load();
    store.set('1:1', { offset: 10, fingerprint, path: '/a', seenAt: Date.now() });
    const first = store.flush();
    store.set('1:1', { offset: 20, fingerprint, path: '/a', seenAt: Date.now() });
    const second = store.flush();
    await Promise.all([first, second]);
    const saved = JSON.parse(await readFile(file, 'utf8'));
    expect(saved.files['1:1'].offset).toBe(20);
  });
});
