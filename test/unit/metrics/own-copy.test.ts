import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ownCopy } from '../../../src/metrics/own-copy.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Heap in use after a full collection. */
function heapUsed(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/** 64 KiB of text unlike any other, as a chunk of a log decoded at once. */
function chunkText(seed: number): string {
  return `${seed}:`.padEnd(64 * 1024, String.fromCharCode(97 + (seed % 26)));
}

describe('ownCopy', () => {
  it('gives the same text, short or long', () => {
    const chunk = chunkText(1);
    for (const [start, end] of [[0, 5], [10, 40], [100, 100], [0, chunk.length]]) {
      expect(ownCopy(chunk.slice(start, end))).toBe(chunk.slice(start, end));
    }
  });

  it('keeps no chunk alive through a slice of it that is kept', () => {
    const count = 500;
    const before = heapUsed();
    const kept: string[] = [];
    for (let i = 0; i < count; i++) kept.push(ownCopy(chunkText(i).slice(8, 40)));
    const grown = heapUsed() - before;
    // Each chunk is 64 KiB (32 MiB in all); the copies are 32 characters each.
    expect(grown).toBeLessThan((count * 64 * 1024) / 8);
    expect(kept[count - 1]).toBe(chunkText(count - 1).slice(8, 40));
  });

  it('is needed: a plain slice keeps its chunk alive (the case the test above guards against)', () => {
    const count = 500;
    const before = heapUsed();
    const kept: string[] = [];
    for (let i = 0; i < count; i++) kept.push(chunkText(i).slice(8, 40));
    expect(heapUsed() - before).toBeGreaterThan((count * 64 * 1024) / 2);
    expect(kept).toHaveLength(count);
  });
});
