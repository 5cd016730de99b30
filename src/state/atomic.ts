// A file replaced whole or not at all: written to a temporary file beside it, flushed to the
// disk, renamed over it, and the directory flushed so that the rename itself survives a power
// cut. A crash at any point leaves either the previous content or the new one, never a torn file.
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The temporary file a write of `file` goes through; left behind only by a crash mid-write. */
export function temporaryFileOf(file: string): string {
  return `${file}.tmp`;
}

/**
 * Replaces `file` with `content` atomically, creating its directory if needed. One writer per
 * file at a time: callers serialise their writes (the state directory has one agent, its lock).
 */
export async function writeFileAtomically(file: string, content: string | Uint8Array, mode = 0o600): Promise<void> {
  const directory = dirname(file);
  await mkdir(directory, { recursive: true });
  const temporary = temporaryFileOf(file);
  const handle = await open(temporary, 'w', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
  await handle.close();
  await rename(temporary, file);
  await syncDirectory(directory);
}

/** Flushes a directory's entries (a rename, a new file) to the disk. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
