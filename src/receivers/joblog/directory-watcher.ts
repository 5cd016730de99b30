// Watches the directories that the tailer's globs reach (inotify, through `fs.watch`), so that
// a file created, written and deleted between two polls is still seen: an event asks for a
// poll now. Only a hint: events can be lost or never come (a watch limit reached, a directory
// removed, a filesystem without them), and the poll stays the way every file is found and read.
// See docs/adr/0004.
import { watch as fsWatch } from 'node:fs';
import type { FSWatcher, WatchListener } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';

export type WatchFunction = (directory: string, options: { persistent: boolean }, listener: WatchListener<string>) => FSWatcher;

export interface DirectoryWatcherOptions {
  /** A name in a watched directory was created, renamed or deleted (`rename`), or written (`change`). */
  onEvent(kind: 'rename' | 'change', file: string | undefined): void;
  /** A directory could not be watched (ENOSPC: the inotify watch limit) or its watch failed. */
  onError(directory: string, error: unknown): void;
  /** `fs.watch` unless a test replaces it. */
  watch?: WatchFunction;
}

interface Watch {
  readonly watcher: FSWatcher;
  /** `device:inode` of the directory watched: one removed and made again needs a new watch. */
  readonly identity: string;
}

export class DirectoryWatcher {
  private readonly watches = new Map<string, Watch>();
  private readonly watch: WatchFunction;
  private closed = false;

  constructor(private readonly options: DirectoryWatcherOptions) {
    this.watch = options.watch ?? fsWatch;
  }

  /** Directories watched now. */
  get size(): number {
    return this.watches.size;
  }

  /** Watches exactly these directories from now on; those that cannot be watched are left to the poll. */
  async update(directories: Iterable<string>): Promise<void> {
    if (this.closed) return;
    const wanted = new Map<string, string>();
    for (const directory of directories) {
      const identity = await directoryIdentity(directory);
      if (identity !== undefined) wanted.set(directory, identity);
    }
    if (this.closed) return;
    for (const [directory, current] of this.watches) {
      if (wanted.get(directory) !== current.identity) this.unwatch(directory);
    }
    for (const [directory, identity] of wanted) {
      if (!this.watches.has(directory)) this.add(directory, identity);
    }
  }

  close(): void {
    this.closed = true;
    for (const directory of [...this.watches.keys()]) this.unwatch(directory);
  }

  private add(directory: string, identity: string): void {
    let watcher: FSWatcher;
    try {
      watcher = this.watch(directory, { persistent: false }, (kind, name) => {
        this.options.onEvent(kind, name ? path.join(directory, name) : undefined);
      });
    } catch (error) {
      // Gone since it was listed: the next scan no longer names it.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.options.onError(directory, error);
      return;
    }
    watcher.on('error', (error) => {
      this.unwatch(directory);
      this.options.onError(directory, error);
    });
    this.watches.set(directory, { watcher, identity });
  }

  private unwatch(directory: string): void {
    const current = this.watches.get(directory);
    if (!current) return;
    this.watches.delete(directory);
    try {
      current.watcher.close();
    } catch {
      // Already closed by its own failure.
    }
  }
}

/** `device:inode` of a directory, or undefined when there is none at that path. */
async function directoryIdentity(directory: string): Promise<string | undefined> {
  try {
    const stats = await stat(directory, { bigint: true });
    return stats.isDirectory() ? `${stats.dev}:${stats.ino}` : undefined;
  } catch {
    return undefined;
  }
}
