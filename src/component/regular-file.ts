// Reading the config file, the files `${file:...}` names and credentials files: regular
// files only, and only up to a size. Opening a FIFO waits for a writer and a device like
// /dev/zero never ends, and either would hold the event loop of a running agent.
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';

/** A file that was not read, with the reason as an operator reads it. */
export class FileRefused extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'FileRefused';
  }
}

const CHUNK_BYTES = 64 * 1024;

/** `1048576` -> `1 MiB`. */
export function bytesText(bytes: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}

/**
 * The text of `path`, a regular file of at most `maxBytes`; throws FileRefused otherwise.
 * The size is counted while reading, not taken from stat: files under /proc say 0.
 */
export function readRegularFile(path: string, maxBytes: number): string {
  // stat before open: the open itself is what blocks on a FIFO.
  refuseUnlessRegular(attempt(() => statSync(path)));
  // O_NONBLOCK: should the path become a FIFO between the stat and the open, the open
  // returns at once and fstat refuses it. O_NOCTTY: a terminal never becomes ours.
  const fd = attempt(() => openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY));
  try {
    refuseUnlessRegular(fstatSync(fd));
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, maxBytes + 1 - total));
      const read = attempt(() => readSync(fd, chunk, 0, chunk.length, null));
      if (read === 0) break;
      chunks.push(chunk.subarray(0, read));
      total += read;
      if (total > maxBytes) throw new FileRefused(`it is larger than ${bytesText(maxBytes)}, the most read`);
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function refuseUnlessRegular(stats: Stats): void {
  if (stats.isFile()) return;
  const kind = stats.isDirectory()
    ? 'a directory'
    : stats.isFIFO()
      ? 'a FIFO (named pipe)'
      : stats.isCharacterDevice()
        ? 'a character device'
        : stats.isBlockDevice()
          ? 'a block device'
          : stats.isSocket()
            ? 'a socket'
            : 'not a regular file';
  throw new FileRefused(`it is ${kind}; only a regular file is read`);
}

function attempt<T>(operation: () => T): T {
  try {
    return operation();
  } catch (error) {
    throw new FileRefused(systemReason(error));
  }
}

/** A file system error as an operator reads it: `no such file`, `permission denied`, ... */
export function systemReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory; only a regular file is read';
  if (code === 'ENOTDIR') return 'a part of the path is not a directory';
  if (code === 'ELOOP') return 'too many symbolic links';
  return code ?? String((error as Error)?.message ?? error);
}
