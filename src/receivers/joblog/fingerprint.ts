// How a log file is recognised whatever its name: by device and inode, confirmed by a
// fingerprint of its first bytes (an inode number is reused once its file is deleted; the
// first bytes of a log, holding timestamps, are not). See docs/adr/0004.
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

/** Bytes hashed into a fingerprint once a file is at least that long. */
export const DEFAULT_FINGERPRINT_BYTES = 1024;

/** A hash of a file's first `length` bytes. */
export interface Fingerprint {
  readonly length: number;
  readonly hash: string;
}

/** The key a file is known by while it lives: `device:inode`, in decimal. */
export function fileIdentity(dev: bigint | number, ino: bigint | number): string {
  return `${dev}:${ino}`;
}

export function fingerprintOf(prefix: Buffer): Fingerprint {
  return { length: prefix.length, hash: createHash('sha256').update(prefix).digest('hex').slice(0, 32) };
}

/**
 * True when `head` (a file's first bytes) starts with the content the fingerprint was taken
 * of. A head shorter than the fingerprint means the file lost bytes: not the same content.
 */
export function sameContent(fingerprint: Fingerprint, head: Buffer): boolean {
  if (head.length < fingerprint.length) return false;
  return fingerprintOf(head.subarray(0, fingerprint.length)).hash === fingerprint.hash;
}

/** Reads up to `length` bytes from the start of the file (fewer when the file is shorter). */
export function readHead(handle: FileHandle, length: number): Promise<Buffer> {
  return readRange(handle, 0, length);
}

/** Reads up to `length` bytes at `position` (fewer when the file ends before). */
export async function readRange(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}
