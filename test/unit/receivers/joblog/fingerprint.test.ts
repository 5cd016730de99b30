import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileIdentity, fingerprintOf, readHead, sameContent } from '../../../../src/receivers/joblog/fingerprint.js';

describe('fingerprint', () => {
  it('recognises the same first bytes whatever follows them', () => {
    const fingerprint = fingerprintOf(Buffer.from('2026-01-05 08:43:16Z: Running job: build\n'));
    expect(sameContent(fingerprint, Buffer.from('2026-01-05 08:43:16Z: Running job: build\nmore lines\n'))).toBe(true);
    expect(sameContent(fingerprint, Buffer.from('2026-01-05 08:43:17Z: Running job: build\n'))).toBe(false);
  });

  it('does not recognise content shorter than the fingerprint', () => {
    const fingerprint = fingerprintOf(Buffer.from('abcdef'));
    expect(sameContent(fingerprint, Buffer.from('abc'))).toBe(false);
  });

  it('an empty fingerprint matches anything (an empty file has nothing to compare)', () => {
    expect(sameContent(fingerprintOf(Buffer.alloc(0)), Buffer.from('x'))).toBe(true);
  });

  it('keys a file by device and inode in decimal, large inodes included', () => {
    expect(fileIdentity(2049n, 18446744073709551557n)).toBe('2049:18446744073709551557');
  });

  it('reads at most the requested head of a real file', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'joblog-fp-'));
    try {
      const file = path.join(directory, 'a.log');
      await writeFile(file, 'x'.repeat(3000));
      const handle = await open(file, 'r');
      expect((await readHead(handle, 1024)).length).toBe(1024);
      await handle.close();
      await writeFile(file, 'short');
      const again = await open(file, 'r');
      expect((await readHead(again, 1024)).toString()).toBe('short');
      await again.close();
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
