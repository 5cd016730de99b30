// Follows log files named by globs through rotation, truncation and deletion, hands each
// complete line to a synchronous consumer, and checkpoints how far it got. Files are known by
// identity (device:inode + fingerprint), not by name. See docs/adr/0004.
import { isUtf8 } from 'node:buffer';
import type { BigIntStats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { expandGlob, pathGlobToRegExp } from '../../component/glob.js';
import type { Logger } from '../../component/types.js';
import type { Checkpoints } from './checkpoint.js';
import { DirectoryWatcher } from './directory-watcher.js';
import type { WatchFunction } from './directory-watcher.js';
import { DEFAULT_FINGERPRINT_BYTES, fileIdentity, fingerprintOf, readHead, readRange, sameContent } from './fingerprint.js';
import type { Fingerprint } from './fingerprint.js';

export type RefusalReason = 'line_too_long' | 'invalid_utf8';

/** Where a line came from. The same object is passed for every line of a file until it moves. */
export interface LineSource {
  readonly path: string;
  /** `device:inode` of the file, stable across renames. */
  readonly identity: string;
}

export interface TailerOptions {
  /** Absolute globs: `*` and `?` within a path segment, `**` for any depth of directories. */
  paths: readonly string[];
  /** Globs of paths never read (rotated archives: `/var/log/app/*.gz`). */
  exclude?: readonly string[];
  /**
   * Where to begin in a file found at start-up that has no checkpoint and was not created
   * since the last checkpoint was written. Files found later are always read from their start.
   */
  startAt: 'end' | 'beginning';
  /** Longer lines are refused (`line_too_long`) and skipped up to their newline. */
  maxLineBytes: number;
  /** How often the watched paths are scanned and open files checked for growth. Default 250. */
  pollIntervalMs?: number;
  /** A last line without its newline is handed on after the file has not grown this long. Default 5000. */
  flushTimeoutMs?: number;
  /** How often the checkpoint file is written when offsets moved. Default 1000. */
  checkpointIntervalMs?: number;
  /**
   * A file that left the watched paths (renamed away, deleted) is read to its end through its
   * open descriptor, then closed once it has not grown for this long. Default 5000.
   */
  rotationGraceMs?: number;
  /** Bytes hashed into a file's fingerprint. Default 1024. */
  fingerprintBytes?: number;
  /** Open descriptors at most; idle files beyond it are closed and reopened by path. Default 256. */
  maxOpenFiles?: number;
  /**
   * Watch the directories the globs reach, polling at once when a file in them is created or
   * written (the poll stays the fallback). Default true.
   */
  watchDirectories?: boolean;
  /** Replaces `fs.watch`, for tests of its failures. */
  watch?: WatchFunction;
  checkpoints: Checkpoints;
  /**
   * Asked before a newly found file is opened. False leaves the file alone (another reader
   * follows it); it is asked again at the next scan. Every file claimed is handed back to
   * `release` once it is no longer followed. Absent: every file is claimed.
   */
  claim?(identity: string, path: string): boolean;
  release?(identity: string): void;
  /**
   * Called synchronously for each complete line: its bytes, checked to be UTF-8, from `start`
   * to `end`, without its `\n` (or `\r\n`). The buffer is reused once the call returns.
   */
  onLine(bytes: Buffer, start: number, end: number, source: LineSource): void;
  onRefused(reason: RefusalReason, source: LineSource): void;
  logger: Logger;
}

export interface TailerStats {
  linesEmitted: number;
  bytesRead: number;
  refused: Record<RefusalReason, number>;
  /** Files that shrank below what was read, or whose first bytes changed: read again from 0. */
  truncations: number;
  /** Files that moved to another path or left the watched paths. */
  rotations: number;
  /** New files recognised, by fingerprint, as copies of content already read (copytruncate). */
  copiesRecognized: number;
  /** Last lines handed on without their newline, after the flush timeout. */
  partialLinesFlushed: number;
  /** Files not opened in the last scan for want of a descriptor under `maxOpenFiles`. */
  filesDeferred: number;
  filesTracked: number;
  filesOpen: number;
  /** Read, open or checkpoint failures, and exceptions thrown by `onLine`. */
  errors: number;
  /** Paths under the globs that cannot be read now, with the last error: cleared once they can. */
  failing: FileFailure[];
  /** Directories watched for events now (0 when watching failed or is off: polling only). */
  directoriesWatched: number;
  /** Polls run at once because a watched directory changed. */
  pollsOnEvent: number;
}

export interface FileFailure {
  readonly path: string;
  /** The system's message, naming the call and the error (`EACCES: permission denied, open '…'`). */
  readonly error: string;
}

const CHUNK_BYTES = 64 * 1024;
/** Read budget per file per poll, so that one huge file does not starve the others. */
const MAX_BYTES_PER_FILE_PER_POLL = 16 * 1024 * 1024;
/**
 * A graceful stop reads what the open files still hold for at most this long, so that SIGTERM
 * still ends within the few seconds systemd gives it when a large backlog is waiting.
 */
const FINAL_READ_MS = 1000;
const MAX_GHOSTS = 64;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
/**
 * Writes to a followed file poll at most this often (a creation polls at once): a file written
 * line by line would otherwise keep every glob scanned back to back.
 */
const WRITE_EVENT_GAP_MS = 25;
/** File timestamps come from a coarse kernel clock; births this close to a scan count as after it. */
const BIRTH_CLOCK_SLACK_MS = 1000;
const WARNING_INTERVAL_MS = 60_000;

export interface LineSink {
  line(bytes: Buffer, start: number, end: number): void;
  refuse(reason: RefusalReason): void;
}

/**
 * Cuts a byte stream into lines. `offset` is the position just after the last line handed to
 * the sink (or refused): the only position safe to checkpoint. Memory is bounded by
 * `maxLineBytes`: a line growing past it is refused once and discarded up to its newline.
 */
export class LineAssembler {
  offset = 0;
  position = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private discarding = false;
  /**
   * Set once a line was ended by the flush timeout: a newline arriving next is that line's
   * belated end, not an empty line of its own.
   */
  private flushedWithoutNewline = false;

  constructor(private readonly maxLineBytes: number) {}

  /** True while bytes after `offset` wait for their newline. */
  get hasPartial(): boolean {
    return this.pendingBytes > 0 || this.discarding;
  }

  /** Restarts at `offset`; `insideLine` skips everything up to the next newline. */
  reset(offset: number, insideLine = false): void {
    this.offset = offset;
    this.position = offset;
    this.pending = [];
    this.pendingBytes = 0;
    this.discarding = insideLine;
    this.flushedWithoutNewline = false;
  }

  /** Consumes bytes read at `position`. The chunk may be reused by the caller afterwards. */
  push(chunk: Buffer, sink: LineSink): void {
    const base = this.position;
    this.position += chunk.length;
    let start = 0;
    if (this.flushedWithoutNewline && chunk.length > 0) {
      this.flushedWithoutNewline = false;
      start = belatedNewlineLength(chunk);
      this.offset = base + start;
    }
    if (this.hasPartial) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline === -1) {
        this.hold(chunk.subarray(start), sink);
        return;
      }
      this.completeHeld(chunk.subarray(start, newline), sink);
      start = newline + 1;
      this.offset = base + start;
    }
    const lastNewline = chunk.lastIndexOf(NEWLINE);
    if (lastNewline >= start) {
      // One validation pass over the whole region; lines are checked one by one only when it fails.
      const regionValid = isUtf8(chunk.subarray(start, lastNewline));
      while (start <= lastNewline) {
        const newline = chunk.indexOf(NEWLINE, start);
        this.emit(chunk, start, newline, regionValid, sink);
        start = newline + 1;
        this.offset = base + start;
      }
    }
    if (start < chunk.length) this.hold(chunk.subarray(start), sink);
  }

  /** Hands on (or ends the discarding of) the unfinished last line, as if its newline had come. */
  flushPartial(sink: LineSink): void {
    if (this.pendingBytes > 0) {
      const line = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
      this.emit(line, 0, line.length, false, sink);
    }
    this.discarding = false;
    this.offset = this.position;
    this.flushedWithoutNewline = true;
  }

  private hold(bytes: Buffer, sink: LineSink): void {
    if (this.discarding) return;
    // +1: a line of exactly the maximum may still be waiting for the `\n` of its `\r\n`.
    if (this.pendingBytes + bytes.length > this.maxLineBytes + 1) {
      sink.refuse('line_too_long');
      this.pending = [];
      this.pendingBytes = 0;
      this.discarding = true;
      return;
    }
    this.pending.push(Buffer.from(bytes));
    this.pendingBytes += bytes.length;
  }

  private completeHeld(rest: Buffer, sink: LineSink): void {
    if (this.discarding) {
      this.discarding = false;
      return;
    }
    const line = Buffer.concat([...this.pending, rest], this.pendingBytes + rest.length);
    this.pending = [];
    this.pendingBytes = 0;
    this.emit(line, 0, line.length, false, sink);
  }

  private emit(bytes: Buffer, start: number, end: number, knownValid: boolean, sink: LineSink): void {
    if (end > start && bytes[end - 1] === CARRIAGE_RETURN) end -= 1;
    if (end - start > this.maxLineBytes) sink.refuse('line_too_long');
    else if (!knownValid && !isUtf8(bytes.subarray(start, end))) sink.refuse('invalid_utf8');
    else sink.line(bytes, start, end);
  }
}

/** Bytes of the `\n` or `\r\n` that `chunk` starts with: 0 when it starts with anything else. */
function belatedNewlineLength(chunk: Buffer): number {
  if (chunk[0] === NEWLINE) return 1;
  if (chunk[0] === CARRIAGE_RETURN && chunk[1] === NEWLINE) return 2;
  return 0;
}

/** A file being followed. */
interface TrackedFile {
  readonly identity: string;
  source: LineSource;
  readonly sink: LineSink;
  /** Undefined while dormant: closed to stay under `maxOpenFiles`, reopened by path on growth. */
  handle: FileHandle | undefined;
  readonly lines: LineAssembler;
  /** The file's first bytes, up to `fingerprintBytes`, as last read. */
  head: Buffer;
  fingerprint: Fingerprint;
  /**
   * The last bytes read, up to `fingerprintBytes`, ending at `lines.position`. Files that begin
   * with the same banner share their first KiB: these bytes tell their contents apart.
   */
  recent: Buffer;
  /** The path this file was last seen leaving (renamed away or deleted), if it did. */
  vacatedPath: string | undefined;
  lastSize: number;
  lastModifiedNs: bigint;
  linkCount: number;
  lastGrowthAt: number;
  /** When the file was first found under no watched path. */
  goneSince: number | undefined;
  /**
   * Set while a new file's content is (or, holding nothing past its first KiB yet, may be) that
   * of a file still being read: either a copy whose original is about to be truncated
   * (copytruncate) or a plain copy. Not read until that is known.
   */
  copyOf: { identity: string; since: number; sure: boolean } | undefined;
}

/**
 * How a new file's bytes past its first KiB compare with known content: `unknown` when it
 * holds none of the bytes compared (it is no longer than its first KiB, say).
 */
type Agreement = 'same' | 'different' | 'unknown';

/** What a new file whose first KiB is known content turns out to be. */
type KnownContent =
  | { kind: 'ghost'; offset: number }
  | { kind: 'orphan'; offset: number; identity: string }
  | { kind: 'live'; file: TrackedFile; agreement: Agreement };

/** Content truncated away from its inode, which may reappear as a copy elsewhere (copytruncate). */
interface Ghost {
  readonly fingerprint: Fingerprint;
  readonly offset: number;
  /** The last bytes read of that content, ending at `recentEnd`: a copy holds them too. */
  readonly recent: Buffer;
  readonly recentEnd: number;
  readonly expiresAt: number;
}

interface Sighting {
  readonly path: string;
  readonly stats: BigIntStats;
}

export class Tailer {
  private readonly pollIntervalMs: number;
  private readonly flushTimeoutMs: number;
  private readonly checkpointIntervalMs: number;
  private readonly rotationGraceMs: number;
  private readonly fingerprintBytes: number;
  private readonly maxOpenFiles: number;
  private readonly includes: readonly string[];
  private readonly excludes: readonly RegExp[];
  private readonly store: Checkpoints;
  private readonly logger: Logger;
  private readonly files = new Map<string, TrackedFile>();
  private ghosts: Ghost[] = [];
  /** Two, so that one is read into while the other is cut into lines. */
  private readonly chunks = [Buffer.allocUnsafe(CHUNK_BYTES), Buffer.allocUnsafe(CHUNK_BYTES)];
  private readonly counters = {
    linesEmitted: 0,
    bytesRead: 0,
    refused: { line_too_long: 0, invalid_utf8: 0 } as Record<RefusalReason, number>,
    truncations: 0,
    rotations: 0,
    copiesRecognized: 0,
    partialLinesFlushed: 0,
    filesDeferred: 0,
    errors: 0,
    pollsOnEvent: 0,
  };
  private readonly includeMatchers: readonly RegExp[];
  private readonly watcher: DirectoryWatcher | undefined;
  /** When the scheduled poll runs (epoch ms); Infinity while a poll runs or none is scheduled. */
  private pollDueAt = Number.POSITIVE_INFINITY;
  private pollRunning = false;
  /** Set while a poll runs and an event came: how soon after it the next poll is wanted. */
  private pollWantedAfterMs: number | undefined;
  private lastPollEndedAt = 0;
  private following = false;
  private openCount = 0;
  /** By path: files under the globs whose last stat, open or read failed. */
  private readonly failing = new Map<string, FileFailure & { stage: 'stat' | 'open' | 'read' }>();
  private readonly lastWarnings = new Map<string, number>();
  private starting: Promise<void> | undefined;
  private loaded = false;
  private stopping = false;
  /** True while a graceful stop reads the open files to their end. */
  private readingToEnd = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();
  private checkpointing: Promise<void> = Promise.resolve();
  private stopped: Promise<void> | undefined;

  constructor(private readonly options: TailerOptions) {
    const positive = (name: keyof TailerOptions, value: number | undefined, fallback: number): number => {
      const chosen = value ?? fallback;
      if (!Number.isInteger(chosen) || chosen <= 0) {
        throw new Error(`tailer: ${name} must be a positive integer, got ${value}`);
      }
      return chosen;
    };
    if (options.paths.length === 0) throw new Error('tailer: paths must name at least one file or glob');
    positive('maxLineBytes', options.maxLineBytes, 0);
    this.pollIntervalMs = positive('pollIntervalMs', options.pollIntervalMs, 250);
    this.flushTimeoutMs = positive('flushTimeoutMs', options.flushTimeoutMs, 5000);
    this.checkpointIntervalMs = positive('checkpointIntervalMs', options.checkpointIntervalMs, 1000);
    this.rotationGraceMs = positive('rotationGraceMs', options.rotationGraceMs, 5000);
    this.fingerprintBytes = positive('fingerprintBytes', options.fingerprintBytes, DEFAULT_FINGERPRINT_BYTES);
    this.maxOpenFiles = positive('maxOpenFiles', options.maxOpenFiles, 256);
    this.includes = options.paths.map((pattern) => path.resolve(pattern));
    this.excludes = (options.exclude ?? []).map(pathGlobToRegExp);
    this.includeMatchers = this.includes.map(pathGlobToRegExp);
    this.store = options.checkpoints;
    this.logger = options.logger;
    if (options.watchDirectories ?? true) {
      this.watcher = new DirectoryWatcher({
        onEvent: (kind, file) => this.onDirectoryEvent(kind, file),
        onError: (directory, error) =>
          this.warnLimited(`watch:${directory}`, { directory, err: error }, 'cannot watch directory; polling it only'),
        watch: options.watch,
      });
    }
  }

  /**
   * Loads the checkpoints and positions every file found now (so that lines written after
   * `start` resolves are never skipped), makes those positions durable, then follows the
   * files in the background.
   */
  start(): Promise<void> {
    if (this.starting) return Promise.reject(new Error('tailer: start called twice; a restart uses a new Tailer'));
    this.starting = this.begin();
    return this.starting;
  }

  /** Stops following, writes a final checkpoint and closes every file. Idempotent. */
  shutdown(): Promise<void> {
    this.stopped ??= this.stop();
    return this.stopped;
  }

  stats(): TailerStats {
    let filesOpen = 0;
    for (const file of this.files.values()) if (file.handle) filesOpen += 1;
    return {
      ...this.counters,
      refused: { ...this.counters.refused },
      filesTracked: this.files.size,
      filesOpen,
      failing: [...this.failing.values()].map(({ path: failedPath, error }) => ({ path: failedPath, error })),
      directoriesWatched: this.watcher?.size ?? 0,
    };
  }

  private async stop(): Promise<void> {
    this.stopping = true;
    this.watcher?.close();
    if (!this.starting) return;
    await this.starting.catch(() => undefined);
    this.watcher?.close();
    clearTimeout(this.pollTimer);
    clearTimeout(this.checkpointTimer);
    await this.polling;
    await this.checkpointing;
    try {
      if (this.loaded) await this.readOpenFilesToEnd();
      // A store that failed to load must not be written: that would erase the file.
      if (this.loaded) await this.store.flush({ force: true });
    } finally {
      for (const file of this.files.values()) {
        await this.closeHandle(file);
        this.options.release?.(file.identity);
      }
      this.files.clear();
    }
  }

  /**
   * Lines written since the last poll are read before the final checkpoint, through the
   * descriptors already open. A file renamed away just before the stop (rotated, its new name
   * outside the globs) would otherwise keep them where the next start never looks: a reload
   * that came right after a rotation lost a poll's worth of lines.
   */
  private async readOpenFilesToEnd(): Promise<void> {
    const deadline = Date.now() + FINAL_READ_MS;
    this.readingToEnd = true;
    try {
      let moreToRead = true;
      while (moreToRead && Date.now() < deadline) {
        moreToRead = false;
        for (const file of [...this.files.values()]) {
          if (!file.handle || file.copyOf) continue;
          moreToRead = (await this.readKnown(file, undefined, Date.now())) || moreToRead;
        }
      }
    } finally {
      this.readingToEnd = false;
    }
  }

  private async begin(): Promise<void> {
    await this.store.load();
    this.loaded = true;
    const now = Date.now();
    const sightings = await this.scan();
    this.noteMovements(sightings, now);
    await this.admitNewcomers(sightings, now, true);
    this.markScannedIfComplete(now);
    await this.store.flush({ force: true });
    if (this.stopping) return;
    this.following = true;
    this.schedulePoll(0);
    this.scheduleCheckpoint();
  }

  private schedulePoll(delayMs: number): void {
    clearTimeout(this.pollTimer);
    this.pollDueAt = Date.now() + delayMs;
    this.pollTimer = setTimeout(() => this.runPoll(), delayMs);
  }

  private runPoll(): void {
    this.pollTimer = undefined;
    this.pollDueAt = Number.POSITIVE_INFINITY;
    this.pollRunning = true;
    this.pollWantedAfterMs = undefined;
    this.polling = this.poll()
      .catch((error: unknown) => {
        this.counters.errors += 1;
        this.logger.error({ err: error }, 'tailer poll failed');
        return false;
      })
      .then((moreToRead) => {
        this.pollRunning = false;
        this.lastPollEndedAt = Date.now();
        if (this.stopping) return;
        this.schedulePoll(moreToRead ? 0 : (this.pollWantedAfterMs ?? this.pollIntervalMs));
      });
  }

  /**
   * A watched directory changed: poll now (a file created may be gone by the next poll), or
   * for writes soon. Events while a poll runs make one more poll right after it.
   */
  private onDirectoryEvent(kind: 'rename' | 'change', file: string | undefined): void {
    if (this.stopping || !this.following) return;
    // Writes to files no glob matches (the checkpoint's own file, say) change nothing here;
    // a name created or removed may be a directory a `**` glob reaches.
    if (kind === 'change' && file !== undefined && !this.isWatchedPath(file)) return;
    const afterMs = kind === 'rename' ? 0 : Math.min(WRITE_EVENT_GAP_MS, this.pollIntervalMs);
    if (this.pollRunning) {
      this.pollWantedAfterMs = Math.min(this.pollWantedAfterMs ?? afterMs, afterMs);
      return;
    }
    const now = Date.now();
    const dueAt = Math.max(now, this.lastPollEndedAt + afterMs);
    if (dueAt >= this.pollDueAt) return;
    this.counters.pollsOnEvent += 1;
    this.schedulePoll(dueAt - now);
  }

  private isWatchedPath(file: string): boolean {
    return this.includeMatchers.some((include) => include.test(file)) && !this.excludes.some((exclude) => exclude.test(file));
  }

  private scheduleCheckpoint(): void {
    this.checkpointTimer = setTimeout(() => {
      this.checkpointing = this.store.flush().then(
        () => undefined,
        (error: unknown) => {
          this.counters.errors += 1;
          this.warnLimited('checkpoint', { err: error, file: this.store.file }, 'cannot write checkpoint');
        },
      );
      void this.checkpointing.then(() => {
        if (!this.stopping) this.scheduleCheckpoint();
      });
    }, this.checkpointIntervalMs);
  }

  /** One round: find files, read the known ones, then take in new ones. True if a file has more to read. */
  private async poll(): Promise<boolean> {
    const now = Date.now();
    const sightings = await this.scan();
    this.noteMovements(sightings, now);
    let moreToRead = false;
    // Known files first: a truncation seen now leaves a ghost that a new copy can claim below.
    for (const file of [...this.files.values()]) {
      if (this.stopping) return false;
      moreToRead = (await this.readKnown(file, sightings.get(file.identity), now)) || moreToRead;
    }
    for (const admitted of await this.admitNewcomers(sightings, now, false)) {
      if (this.stopping) return false;
      // Not the scan's stat: it predates the open that positioned the file. A copy still being
      // written (copytruncate) was empty then and whole when opened, and its size below the
      // offset just taken from a ghost read as a truncation: the copy was read again from 0.
      moreToRead = (await this.readKnown(admitted, undefined, now)) || moreToRead;
    }
    moreToRead = (await this.settleCopies(now)) || moreToRead;
    await this.retireGone(now);
    this.ghosts = this.ghosts.filter((ghost) => ghost.expiresAt > now);
    this.markScannedIfComplete(now);
    return moreToRead;
  }

  /**
   * Every file this scan found now has a checkpoint entry, so a file without one found after
   * a restart and born after `startedAt` is new. Not so when files were left for later.
   */
  private markScannedIfComplete(startedAt: number): void {
    if (!this.stopping && this.counters.filesDeferred === 0) this.store.markScanned(startedAt);
  }

  /** Every regular file under the watched globs, by identity (the first path wins for hard links). */
  private async scan(): Promise<Map<string, Sighting>> {
    const paths = new Set<string>();
    const directories = new Set<string>();
    for (const pattern of this.includes) {
      for (const found of await expandGlob(pattern, directories)) {
        if (!this.excludes.some((exclude) => exclude.test(found))) paths.add(found);
      }
    }
    const sightings = new Map<string, Sighting>();
    for (const found of [...paths].sort()) {
      let stats: BigIntStats;
      try {
        stats = await stat(found, { bigint: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
          this.counters.errors += 1;
          this.noteFailure(found, 'stat', error);
          this.warnLimited(`stat:${found}`, { path: found, err: error }, 'cannot stat watched file');
        } else {
          paths.delete(found);
        }
        continue;
      }
      if (this.failing.get(found)?.stage === 'stat') this.failing.delete(found);
      if (!stats.isFile()) continue;
      const identity = fileIdentity(stats.dev, stats.ino);
      if (!sightings.has(identity)) sightings.set(identity, { path: found, stats });
    }
    // A path gone from the globs no longer fails.
    for (const failedPath of this.failing.keys()) if (!paths.has(failedPath)) this.failing.delete(failedPath);
    if (!this.stopping) await this.watcher?.update(directories);
    return sightings;
  }

  private noteMovements(sightings: Map<string, Sighting>, now: number): void {
    for (const file of this.files.values()) {
      const sighting = sightings.get(file.identity);
      if (sighting) {
        if (sighting.path !== file.source.path) {
          this.counters.rotations += 1;
          this.logger.info({ from: file.source.path, to: sighting.path, identity: file.identity }, 'file moved');
          file.vacatedPath = file.source.path;
          file.source = { path: sighting.path, identity: file.identity };
        }
        file.goneSince = undefined;
        this.store.touch(file.identity, now);
      } else if (file.goneSince === undefined) {
        file.goneSince = now;
        file.vacatedPath = file.source.path;
        this.counters.rotations += 1;
        this.logger.info(
          { path: file.source.path, identity: file.identity },
          'file left the watched paths; reading it to its end',
        );
      }
    }
  }

  /** Opens and positions files seen for the first time; returns those to be read now. */
  private async admitNewcomers(
    sightings: Map<string, Sighting>,
    now: number,
    firstScan: boolean,
  ): Promise<TrackedFile[]> {
    const newcomers = [...sightings].filter(([identity]) => !this.files.has(identity));
    // Files with a checkpoint first: one whose inode now holds other content leaves a ghost
    // that a copy of that content, among the rest, can claim.
    newcomers.sort(([a], [b]) => Number(this.store.get(b) !== undefined) - Number(this.store.get(a) !== undefined));
    let deferred = 0;
    const admitted: TrackedFile[] = [];
    for (const [identity, sighting] of newcomers) {
      if (this.stopping) break;
      if (this.options.claim && !this.options.claim(identity, sighting.path)) continue;
      if (!(await this.reserveDescriptor())) {
        this.options.release?.(identity);
        deferred += 1;
        continue;
      }
      const file = await this.admit(identity, sightings, now, firstScan);
      if (file) admitted.push(file);
      else this.options.release?.(identity);
    }
    this.counters.filesDeferred = deferred;
    if (deferred > 0) {
      const fields = { deferred, maxOpenFiles: this.maxOpenFiles };
      this.warnLimited('deferred', fields, 'files waiting for a free descriptor');
    }
    return admitted;
  }

  private async admit(
    identity: string,
    sightings: ReadonlyMap<string, Sighting>,
    now: number,
    firstScan: boolean,
  ): Promise<TrackedFile | undefined> {
    const sighting = sightings.get(identity) as Sighting;
    let handle: FileHandle;
    try {
      handle = await open(sighting.path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.counters.errors += 1;
        this.noteFailure(sighting.path, 'open', error);
        this.warnLimited(`open:${sighting.path}`, { path: sighting.path, err: error }, 'cannot open watched file');
      }
      return undefined;
    }
    this.openCount += 1;
    const file = await this.position(handle, identity, sightings, now, firstScan).catch((error: unknown) => {
      this.counters.errors += 1;
      this.noteFailure(sighting.path, 'open', error);
      this.warnLimited(`open:${sighting.path}`, { path: sighting.path, err: error }, 'cannot read watched file');
      return undefined;
    });
    if (!file) {
      await handle.close().catch(() => undefined);
      this.openCount -= 1;
    } else {
      this.failing.delete(sighting.path);
    }
    return file;
  }

  /** Decides where reading a newly found file begins, and starts tracking it. */
  private async position(
    handle: FileHandle,
    identity: string,
    sightings: ReadonlyMap<string, Sighting>,
    now: number,
    firstScan: boolean,
  ): Promise<TrackedFile | undefined> {
    const sighting = sightings.get(identity) as Sighting;
    const stats = await handle.stat({ bigint: true });
    // The path may have been replaced between scan and open: only the open descriptor counts.
    if (fileIdentity(stats.dev, stats.ino) !== identity || !stats.isFile()) return undefined;
    const size = Number(stats.size);
    const head = await readHead(handle, this.fingerprintBytes);
    const fingerprint = fingerprintOf(head);
    const lines = new LineAssembler(this.options.maxLineBytes);
    let copyOf: TrackedFile['copyOf'];
    let how: string;
    const entry = this.store.get(identity);
    const known = entry ? undefined : await this.findKnownContent(handle, size, fingerprint, sighting.path, sightings);
    if (entry && sameContent(entry.fingerprint, head) && size >= entry.offset) {
      lines.reset(entry.offset);
      how = 'checkpoint';
    } else if (entry) {
      // Same inode, other content: truncated or replaced while nobody was reading it.
      this.counters.truncations += 1;
      this.addGhost(entry.fingerprint, entry.offset, Buffer.alloc(0), entry.offset, now);
      lines.reset(0);
      how = 'checkpointed content changed; from the start';
    } else if (known?.kind === 'ghost' || known?.kind === 'orphan') {
      this.counters.copiesRecognized += 1;
      lines.reset(Math.min(known.offset, size));
      if (known.kind === 'orphan') this.store.delete(known.identity);
      how = 'copy of content already read; where it was left';
    } else if (known?.kind === 'live') {
      copyOf = { identity: known.file.identity, since: now, sure: known.agreement === 'same' };
      how =
        known.agreement === 'same'
          ? `copy of ${known.file.source.path}; waiting to see whether it is truncated`
          : `same first bytes as ${known.file.source.path}, nothing past them yet; waiting to tell copy from new file`;
    } else if (firstScan && this.options.startAt === 'end' && !this.bornSinceLastRun(stats)) {
      const end = await this.lastLineEnd(handle, size);
      lines.reset(end.offset, end.insideLine);
      how = 'end';
    } else {
      lines.reset(0);
      how = 'beginning';
    }
    const file: TrackedFile = {
      identity,
      source: { path: sighting.path, identity },
      sink: this.sinkFor(() => file.source),
      handle,
      lines,
      head,
      fingerprint,
      recent: await this.readRecent(handle, lines.position),
      vacatedPath: undefined,
      lastSize: size,
      lastModifiedNs: stats.mtimeNs,
      linkCount: Number(stats.nlink),
      lastGrowthAt: now,
      goneSince: undefined,
      copyOf,
    };
    this.files.set(identity, file);
    if (!copyOf) this.commit(file, now);
    this.logger.info({ path: sighting.path, identity, offset: lines.offset, size, how }, 'following file');
    return file;
  }

  /**
   * A file without checkpoint that was created after the last run's last scan appeared while
   * the agent was down: it is read from its start whatever `startAt` says. Needs a filesystem
   * that records birth time; without one, `startAt` applies.
   */
  private bornSinceLastRun(stats: BigIntStats): boolean {
    const lastScan = this.store.scannedAt;
    const bornMs = Number(stats.birthtimeMs);
    return lastScan !== undefined && bornMs > 0 && bornMs >= lastScan - BIRTH_CLOCK_SLACK_MS;
  }

  /** Just after the last newline, so that a line being written now is read whole. */
  private async lastLineEnd(handle: FileHandle, size: number): Promise<{ offset: number; insideLine: boolean }> {
    const window = Math.min(size, this.options.maxLineBytes + 2);
    const tail = Buffer.alloc(window);
    const { bytesRead } = await handle.read(tail, 0, window, size - window);
    const newline = tail.subarray(0, bytesRead).lastIndexOf(NEWLINE);
    if (newline !== -1) return { offset: size - window + newline + 1, insideLine: false };
    if (window === size) return { offset: 0, insideLine: false };
    // Inside a line longer than any we would accept: skip to its end.
    return { offset: size, insideLine: true };
  }

  /**
   * Content already read that a new file (not among `present`) copies. Its first KiB must be
   * that content's, and so must the bytes past it where both hold some: many logs begin with
   * the same banner, and a new log that does is not a copy of the last one (docs/adr/0004).
   */
  private async findKnownContent(
    handle: FileHandle,
    size: number,
    fingerprint: Fingerprint,
    candidatePath: string,
    present: ReadonlyMap<string, Sighting> | undefined,
  ): Promise<KnownContent | undefined> {
    // Only full-length fingerprints: a short prefix ({"level":"info",...) is shared by unrelated files.
    if (fingerprint.length < this.fingerprintBytes) return undefined;
    // Content just truncated away: copytruncate's copy. Nothing to compare (a copy no longer
    // than its first KiB) still counts: the truncation and the copy came together.
    let unsureGhost: Ghost | undefined;
    for (const ghost of this.ghosts) {
      if (ghost.fingerprint.hash !== fingerprint.hash) continue;
      const agreement = await this.agreement(handle, size, ghost.recent, ghost.recentEnd);
      if (agreement === 'same') return this.takeGhost(ghost);
      if (agreement === 'unknown') unsureGhost ??= ghost;
    }
    if (unsureGhost) return this.takeGhost(unsureGhost);
    // Content a followed file still holds at its path: a plain copy, or a copy about to be
    // truncated. A file that left the paths (renamed away, deleted), or whose place the new
    // file took, is not copied: the new file only begins like it (rename-and-create).
    let unsureLive: TrackedFile | undefined;
    for (const file of this.files.values()) {
      if (file.copyOf || file.fingerprint.hash !== fingerprint.hash) continue;
      if (file.goneSince !== undefined || file.vacatedPath === candidatePath) continue;
      const agreement = await this.agreementWithFile(handle, size, file);
      if (agreement === 'same') return { kind: 'live', file, agreement };
      // Nothing past the first KiB to compare yet: decided once it grows.
      if (agreement === 'unknown') unsureLive ??= file;
    }
    if (unsureLive) return { kind: 'live', file: unsureLive, agreement: 'unknown' };
    if (!present) return undefined;
    // Entries of files no longer under any watched path (moved across filesystems, say).
    for (const identity of this.store.identities()) {
      // A followed file that left the paths was compared above, by its content.
      if (present.has(identity) || this.files.has(identity)) continue;
      const entry = this.store.get(identity);
      if (entry && entry.fingerprint.length === fingerprint.length && entry.fingerprint.hash === fingerprint.hash) {
        return { kind: 'orphan', offset: entry.offset, identity };
      }
    }
    return undefined;
  }

  private takeGhost(ghost: Ghost): KnownContent {
    this.ghosts.splice(this.ghosts.indexOf(ghost), 1);
    return { kind: 'ghost', offset: ghost.offset };
  }

  /** How the file's bytes past its first KiB compare with `expected`, known bytes ending at `expectedEnd`. */
  private async agreement(handle: FileHandle, size: number, expected: Buffer, expectedEnd: number): Promise<Agreement> {
    const expectedStart = expectedEnd - expected.length;
    const from = Math.max(expectedStart, this.fingerprintBytes);
    const to = Math.min(expectedEnd, size);
    if (to <= from) return 'unknown';
    const actual = await readRange(handle, from, to - from);
    if (actual.length < to - from) return 'unknown';
    return actual.equals(expected.subarray(from - expectedStart, to - expectedStart)) ? 'same' : 'different';
  }

  /** How the file's last bytes compare with those of a followed file at the same place. */
  private async agreementWithFile(handle: FileHandle, size: number, original: TrackedFile): Promise<Agreement> {
    // A dormant original (closed under `maxOpenFiles`) is still at its path: read it there.
    const originalHandle = original.handle ?? (await open(original.source.path, 'r').catch(() => undefined));
    if (!originalHandle) return 'unknown';
    try {
      const stats = await originalHandle.stat({ bigint: true });
      if (fileIdentity(stats.dev, stats.ino) !== original.identity) return 'unknown';
      const originalSize = Number(stats.size);
      // Shrunk below what was read: truncated, which the next round turns into a ghost.
      if (originalSize < original.lines.position) return 'unknown';
      const end = Math.min(size, originalSize);
      const start = Math.max(this.fingerprintBytes, end - this.fingerprintBytes);
      if (end <= start) return 'unknown';
      return await this.agreement(handle, size, await readRange(originalHandle, start, end - start), end);
    } finally {
      if (originalHandle !== original.handle) await originalHandle.close().catch(() => undefined);
    }
  }

  /** The bytes just before `end`, up to `fingerprintBytes`. */
  private readRecent(handle: FileHandle, end: number): Promise<Buffer> {
    const start = Math.max(0, end - this.fingerprintBytes);
    return readRange(handle, start, end - start);
  }

  /** Keeps the last bytes read, up to `fingerprintBytes`, as they pass. */
  private rememberRecent(file: TrackedFile, chunk: Buffer): void {
    const keep = this.fingerprintBytes;
    if (chunk.length >= keep) file.recent = Buffer.from(chunk.subarray(chunk.length - keep));
    else {
      const joined = Buffer.concat([file.recent, chunk]);
      file.recent = joined.length > keep ? joined.subarray(joined.length - keep) : joined;
    }
  }

  private addGhost(fingerprint: Fingerprint, offset: number, recent: Buffer, recentEnd: number, now: number): void {
    if (fingerprint.length < this.fingerprintBytes) return;
    this.ghosts.push({ fingerprint, offset, recent, recentEnd, expiresAt: now + this.rotationGraceMs + 2 * this.pollIntervalMs });
    if (this.ghosts.length > MAX_GHOSTS) this.ghosts.shift();
  }

  /** Reads what the file gained since last time. True if it has more than this round's budget. */
  private async readKnown(file: TrackedFile, sighting: Sighting | undefined, now: number): Promise<boolean> {
    if (file.copyOf) return false;
    try {
      if (!file.handle && !(await this.wake(file, sighting))) return false;
      const handle = file.handle as FileHandle;
      // Found under a watched path this round: that stat is of the same inode, and taken after
      // everything read from it before (a newcomer, opened after the scan, passes none).
      const stats = sighting?.stats ?? (await handle.stat({ bigint: true }));
      const size = Number(stats.size);
      file.linkCount = Number(stats.nlink);
      if (size !== file.lastSize || stats.mtimeNs !== file.lastModifiedNs) {
        file.lastSize = size;
        file.lastModifiedNs = stats.mtimeNs;
        const head = await readHead(handle, this.fingerprintBytes);
        if (
          size < file.lines.position ||
          !head.subarray(0, file.head.length).equals(file.head) ||
          !(await this.stillHoldsRecent(file, handle))
        ) {
          this.restartReplaced(file, head, now);
        } else if (head.length > file.head.length) {
          file.head = head;
          file.fingerprint = fingerprintOf(head);
          this.commit(file, now);
        }
      }
      const moreToRead = await this.drain(file, size, now);
      if (file.lines.hasPartial && now - file.lastGrowthAt >= this.flushTimeoutMs) {
        this.counters.partialLinesFlushed += 1;
        file.lines.flushPartial(file.sink);
        this.commit(file, now);
      }
      if (this.failing.get(file.source.path)?.stage === 'read') this.failing.delete(file.source.path);
      return moreToRead;
    } catch (error) {
      this.counters.errors += 1;
      this.noteFailure(file.source.path, 'read', error);
      this.warnLimited(`read:${file.identity}`, { path: file.source.path, err: error }, 'cannot read watched file');
      return false;
    }
  }

  /**
   * False when the bytes just before the read position changed: truncated and rewritten past
   * it, with the same first KiB (a banner), which the first bytes alone do not show.
   */
  private async stillHoldsRecent(file: TrackedFile, handle: FileHandle): Promise<boolean> {
    if (file.lines.position <= file.head.length) return true;
    const now = await readRange(handle, file.lines.position - file.recent.length, file.recent.length);
    return now.equals(file.recent);
  }

  private restartReplaced(file: TrackedFile, head: Buffer, now: number): void {
    this.counters.truncations += 1;
    this.logger.warn(
      { path: file.source.path, identity: file.identity, readUpTo: file.lines.position, size: file.lastSize },
      'file truncated or rewritten; reading it again from the start',
    );
    this.addGhost(file.fingerprint, file.lines.offset, file.recent, file.lines.position, now);
    file.lines.reset(0);
    file.recent = Buffer.alloc(0);
    file.head = head;
    file.fingerprint = fingerprintOf(head);
    this.commit(file, now);
  }

  /**
   * Reads the file up to `size`, at most the budget of one round. The next chunk is read while
   * this one is cut into lines, so reading and parsing overlap: a 1M-line log waited on its
   * reads for a tenth of its time when they took turns.
   */
  private async drain(file: TrackedFile, size: number, now: number): Promise<boolean> {
    const handle = file.handle as FileHandle;
    let budget = MAX_BYTES_PER_FILE_PER_POLL;
    let position = file.lines.position;
    let turn = 0;
    const readAhead = () =>
      position < size && budget > 0 && (!this.stopping || this.readingToEnd) ? handle.read(this.chunks[turn], 0, CHUNK_BYTES, position) : undefined;
    let reading = readAhead();
    try {
      while (reading !== undefined) {
        const { bytesRead } = await reading;
        reading = undefined;
        if (bytesRead === 0) break;
        const chunk = this.chunks[turn].subarray(0, bytesRead);
        position += bytesRead;
        budget -= bytesRead;
        turn ^= 1;
        reading = readAhead();
        file.lines.push(chunk, file.sink);
        this.rememberRecent(file, chunk);
        this.counters.bytesRead += bytesRead;
        file.lastGrowthAt = now;
        this.commit(file, now);
      }
    } finally {
      // A read still under way fills one of the chunks: it must end before a chunk is used again or the file closed.
      await reading?.catch(() => undefined);
    }
    return budget <= 0 && file.lines.position < size && (!this.stopping || this.readingToEnd);
  }

  /** Resolves new files that looked like copies of a file still being read. */
  private async settleCopies(now: number): Promise<boolean> {
    let moreToRead = false;
    for (const file of [...this.files.values()]) {
      if (!file.copyOf) continue;
      const handle = file.handle as FileHandle;
      const size = Number((await handle.stat()).size);
      const known = await this.findKnownContent(handle, size, file.fingerprint, file.source.path, undefined);
      if (known?.kind === 'live' && known.agreement === 'same') file.copyOf.sure = true;
      const original = this.files.get(file.copyOf.identity);
      let how: string;
      if (known?.kind === 'ghost') {
        // The original was truncated: this copy holds the lines it had left, from where it was left.
        file.lines.reset(Math.min(known.offset, size));
        this.counters.copiesRecognized += 1;
        how = 'original truncated; copy read from where the original was left';
      } else if (file.copyOf.sure) {
        if (original && now - file.copyOf.since < this.rotationGraceMs) continue;
        // The original was kept whole (or read to its end and closed): everything here was read there.
        const end = await this.lastLineEnd(handle, size);
        file.lines.reset(end.offset, end.insideLine);
        this.counters.copiesRecognized += 1;
        how = 'plain copy of content already read; from its end';
      } else if (known?.kind === 'live') {
        continue; // Still nothing past the first KiB to compare.
      } else {
        // Other content past the same first KiB, or the file it began like left its path.
        file.lines.reset(0);
        how = 'same first KiB as a followed file, other content: a new file, from its start';
      }
      file.recent = await this.readRecent(handle, file.lines.position);
      file.copyOf = undefined;
      this.commit(file, now);
      this.logger.info({ path: file.source.path, identity: file.identity, offset: file.lines.offset }, how);
      moreToRead = (await this.readKnown(file, undefined, now)) || moreToRead;
    }
    return moreToRead;
  }

  /** Closes files that left the watched paths once read to their end and quiet for the grace period. */
  private async retireGone(now: number): Promise<void> {
    for (const file of [...this.files.values()]) {
      if (file.goneSince === undefined) continue;
      if (!file.handle || file.copyOf) {
        // Nothing more can be read through a path that no longer leads to the file.
        await this.closeHandle(file);
        this.files.delete(file.identity);
        this.options.release?.(file.identity);
        continue;
      }
      const drained = file.lines.position >= file.lastSize;
      if (!drained || now - Math.max(file.goneSince, file.lastGrowthAt) < this.rotationGraceMs) continue;
      if (file.lines.hasPartial) {
        // Nobody will write to it any more: its unfinished last line is a line.
        this.counters.partialLinesFlushed += 1;
        file.lines.flushPartial(file.sink);
      }
      // A deleted file's content is gone for good: a file beginning like it later is a new file.
      if (file.linkCount === 0) {
        this.store.delete(file.identity);
      } else {
        this.commit(file, now);
      }
      await this.closeHandle(file);
      this.files.delete(file.identity);
      this.options.release?.(file.identity);
      this.logger.info(
        { path: file.source.path, identity: file.identity, offset: file.lines.offset, deleted: file.linkCount === 0 },
        'finished file that left the watched paths',
      );
    }
  }

  /** Reopens a dormant file that grew, by its path, if the path still leads to it. */
  private async wake(file: TrackedFile, sighting: Sighting | undefined): Promise<boolean> {
    if (!sighting) return false;
    const grew = Number(sighting.stats.size) !== file.lastSize || sighting.stats.mtimeNs !== file.lastModifiedNs;
    if (!grew || !(await this.reserveDescriptor())) return false;
    const handle = await open(sighting.path, 'r');
    const stats = await handle.stat({ bigint: true });
    if (fileIdentity(stats.dev, stats.ino) !== file.identity) {
      await handle.close();
      return false;
    }
    this.openCount += 1;
    file.handle = handle;
    return true;
  }

  /** True when a descriptor may be opened, closing the longest-idle settled file if needed. */
  private async reserveDescriptor(): Promise<boolean> {
    if (this.openCount < this.maxOpenFiles) return true;
    let idlest: TrackedFile | undefined;
    for (const file of this.files.values()) {
      const settled =
        file.handle &&
        file.goneSince === undefined &&
        !file.copyOf &&
        !file.lines.hasPartial &&
        file.lines.position >= file.lastSize;
      if (settled && (!idlest || file.lastGrowthAt < idlest.lastGrowthAt)) idlest = file;
    }
    if (!idlest) return false;
    await this.closeHandle(idlest);
    return true;
  }

  private async closeHandle(file: TrackedFile): Promise<void> {
    if (!file.handle) return;
    const handle = file.handle;
    file.handle = undefined;
    this.openCount -= 1;
    await handle.close().catch(() => undefined);
  }

  private noteFailure(failedPath: string, stage: 'stat' | 'open' | 'read', error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.failing.set(failedPath, { path: failedPath, error: message, stage });
  }

  private commit(file: TrackedFile, now: number): void {
    this.store.set(file.identity, {
      offset: file.lines.offset,
      fingerprint: file.fingerprint,
      path: file.source.path,
      seenAt: now,
    });
  }

  /**
   * The callbacks of one file. A consumer that throws is logged and counted, never allowed to
   * unwind the line assembly halfway through a chunk (which would skip the chunk's other lines).
   */
  private sinkFor(source: () => LineSource): LineSink {
    return {
      line: (bytes, start, end) => {
        this.counters.linesEmitted += 1;
        try {
          this.options.onLine(bytes, start, end, source());
        } catch (error) {
          this.consumerFailed(error);
        }
      },
      refuse: (reason) => {
        this.counters.refused[reason] += 1;
        try {
          this.options.onRefused(reason, source());
        } catch (error) {
          this.consumerFailed(error);
        }
      },
    };
  }

  private consumerFailed(error: unknown): void {
    this.counters.errors += 1;
    this.warnLimited('consumer', { err: error }, 'line consumer threw; line dropped');
  }

  /** At most one warning per key a minute: a broken file must not flood the log. */
  private warnLimited(key: string, fields: object, message: string): void {
    const now = Date.now();
    const last = this.lastWarnings.get(key);
    if (last !== undefined && now - last < WARNING_INTERVAL_MS) return;
    if (this.lastWarnings.size >= 1024) this.lastWarnings.clear();
    this.lastWarnings.set(key, now);
    this.logger.warn(fields, message);
  }
}
