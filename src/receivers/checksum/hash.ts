// Streaming digests with bounded memory and a shared I/O rate limit. The file is read in
// fixed chunks (READ_CHUNK_BYTES); each chunk is hashed in well under a millisecond, and
// reads complete through the event loop, so nothing else waits behind a large file.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Algorithm } from './manifest.js';

/** One read's size: large enough for the disk's sequential speed, small enough to hash in ~1 ms. */
export const READ_CHUNK_BYTES = 1024 * 1024;

/** Bytes per second across every file of a run; 0 means no limit. */
export class RateLimiter {
  private readonly startedAt = performance.now();
  private bytes = 0;

  constructor(private readonly bytesPerSecond: number) {}

  /** Waits until `count` more bytes fit under the limit. */
  async take(count: number, signal?: AbortSignal): Promise<void> {
    this.bytes += count;
    if (this.bytesPerSecond <= 0) return;
    const dueMs = (this.bytes / this.bytesPerSecond) * 1000;
    const waitMs = dueMs - (performance.now() - this.startedAt);
    if (waitMs > 1) await sleep(waitMs, undefined, { signal });
  }
}

/** The hex digest of `path`, read as a stream; `onBytes` sees each chunk's size. Rejects with the read's error. */
export async function hashFile(
  path: string,
  algorithm: Algorithm,
  options: { signal?: AbortSignal; limiter?: RateLimiter; onBytes?: (count: number) => void } = {},
): Promise<string> {
  const hash = createHash(algorithm);
  const stream = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES, signal: options.signal });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    options.onBytes?.(chunk.length);
    if (options.limiter) await options.limiter.take(chunk.length, options.signal);
  }
  return hash.digest('hex');
}
