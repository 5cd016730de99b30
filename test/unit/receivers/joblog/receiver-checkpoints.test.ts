// The checkpoint store shared by the joblog receivers of one state directory: one read of the
// file, claims on files, and the scan time written as the earliest of the receivers' scans.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkpointFileIn, SharedCheckpoints } from '../../../../src/receivers/joblog/shared-checkpoints.js';
import { storeIn } from '../../../support/state.js';
import { RecordingLogger } from '../../../support/settings.js';

let directory: string;
let file: string;
const opened: SharedCheckpoints[] = [];

beforeEach(() => {
  directory = mkdtempSync(path.join(tmpdir(), 'joblog-shared-'));
  file = checkpointFileIn(directory);
});

afterEach(() => {
  for (const view of opened.splice(0)) view.close();
  rmSync(directory, { recursive: true, force: true });
});

function open(receiverId: string, logger = new RecordingLogger()): SharedCheckpoints {
  const view = new SharedCheckpoints(storeIn(directory, receiverId, 'receiver', logger), receiverId, logger);
  opened.push(view);
  return view;
}

const entry = (offset: number) => ({ offset, fingerprint: { length: 4, hash: 'abcd' }, path: '/var/log/a.log', seenAt: Date.now() });

describe('SharedCheckpoints', () => {
  it('lives in joblog/checkpoints.json under the state directory', () => {
    expect(checkpointFileIn('/var/lib/otel-agent')).toBe('/var/lib/otel-agent/joblog/checkpoints.json');
  });

  it('reads the file once for every receiver and writes every receiver’s entries', async () => {
    await mkdir(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ version: 1, savedAt: new Date().toISOString(), files: { '1:1': { ...entry(10), seenAt: new Date().toISOString() } } }));
    const a = open('joblog/a');
    const b = open('joblog/b');
    await a.load();
    a.set('1:2', entry(20));
    await b.load(); // must not drop what a set since the file was read
    b.set('1:3', entry(30));
    expect([a.get('1:1')?.offset, b.get('1:2')?.offset, a.get('1:3')?.offset]).toEqual([10, 20, 30]);
    await a.flush();
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).files).sort()).toEqual(['1:1', '1:2', '1:3']);
  });

  it('gives a file to its first claimant; another is refused, told once, and may claim it once released', () => {
    const logger = new RecordingLogger();
    const a = open('joblog/a');
    const b = open('joblog/b', logger);
    expect(a.claim('1:1', '/var/log/a.log')).toBe(true);
    expect(a.claim('1:1', '/var/log/a.log')).toBe(true);
    expect(b.claim('1:1', '/var/log/a.log')).toBe(false);
    expect(b.claim('1:1', '/var/log/a.log')).toBe(false);
    expect(logger.entries).toEqual([
      {
        level: 'warn',
        fields: { path: '/var/log/a.log', identity: '1:1', readBy: 'joblog/a' },
        msg: 'file matches the paths of two joblog receivers; "joblog/a" reads it, "joblog/b" leaves it alone',
      },
    ]);
    expect(b.filesYielded).toBe(1);
    a.set('1:1', entry(5));
    b.set('1:9', entry(5));
    // Another receiver's live file is never taken for an orphaned entry.
    expect(b.identities()).toEqual(['1:9']);
    expect(a.identities().sort()).toEqual(['1:1', '1:9']);
    a.release('1:1');
    expect(b.filesYielded).toBe(0);
    expect(b.claim('1:1', '/var/log/a.log')).toBe(true);
    expect(a.claim('1:1', '/var/log/a.log')).toBe(false);
    b.close();
    expect(a.claim('1:1', '/var/log/a.log')).toBe(true);
  });

  it('writes the earliest of the receivers’ last scans, and none while one has not scanned on a first run', async () => {
    const a = open('joblog/a');
    const b = open('joblog/b');
    await a.load();
    a.markScanned(2000);
    await a.flush({ force: true });
    expect(JSON.parse(readFileSync(file, 'utf8')).scannedAt).toBeUndefined();
    b.markScanned(1000);
    a.markScanned(3000);
    await a.flush({ force: true });
    expect(JSON.parse(readFileSync(file, 'utf8')).scannedAt).toBe(new Date(1000).toISOString());
    // The birth test of files found at start reads the last run's scan, not this run's.
    expect(a.scannedAt).toBeUndefined();
    b.close();
    a.markScanned(4000);
    await a.flush({ force: true });
    expect(JSON.parse(readFileSync(file, 'utf8')).scannedAt).toBe(new Date(4000).toISOString());
  });

  it('the last receiver to close drops the store: the next one reads the file again', async () => {
    const a = open('joblog/a');
    await a.load();
    a.set('1:1', entry(10));
    a.markScanned(5000);
    await a.flush();
    a.close();
    a.close();
    const b = open('joblog/b');
    await b.load();
    expect(b.get('1:1')?.offset).toBe(10);
    expect(b.scannedAt).toBe(5000);
  });
});
