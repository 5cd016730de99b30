// Read offsets of tailed files, keyed by file identity (device:inode, confirmed by a
// fingerprint), persisted through the state store (atomic writes, a bad file moved aside) so
// that a crash leaves either the previous or the new checkpoint on disk, never a torn one.
// See docs/adr/0004 and docs/adr/0010.
import { z } from 'zod';
import type { Logger, StateFileHandle } from '../../component/types.js';
import { StateFile } from '../../state/store.js';
import type { Fingerprint } from './fingerprint.js';

export interface CheckpointEntry {
  /** Byte offset just after the last line handed on; reading resumes here. */
  readonly offset: number;
  /** Of the file's first bytes when the offset was taken: a reused inode will not match. */
  readonly fingerprint: Fingerprint;
  /** Where the file was last seen: for people reading the file, never used for matching. */
  readonly path: string;
  /** Epoch milliseconds the file was last seen under a watched path; drives pruning. */
  readonly seenAt: number;
}

export interface CheckpointStoreOptions {
  /** Entries of files not seen for this long are dropped at the next flush. Default 24 h. */
  pruneAfterMs?: number;
  /** At most this many entries are kept; the least recently seen go first. Default 4096. */
  maxEntries?: number;
  logger?: Logger;
}

const QUIET: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => QUIET };

/**
 * What a Tailer needs of its checkpoints. `CheckpointStore` is the one on disk; a receiver
 * may hand a Tailer a view that shares one store with other Tailers.
 */
export interface Checkpoints {
  readonly file: string;
  readonly scannedAt: number | undefined;
  load(): Promise<void>;
  markScanned(startedAt: number): void;
  get(identity: string): CheckpointEntry | undefined;
  set(identity: string, entry: CheckpointEntry): void;
  touch(identity: string, now: number): void;
  delete(identity: string): void;
  identities(): string[];
  flush(options?: { force?: boolean }): Promise<void>;
}

/**
 * A receiver's own state, written with the offsets: it then always matches the lines read up
 * to them, after a crash too. Given by its provider at each write, stamped `savedAt`; as
 * loaded until a receiver of that id provides its own, and dropped when no receiver of that id
 * has provided it for as long as file entries are kept.
 */
export type ReceiverState = Record<string, unknown>;

const FILE_VERSION = 1;

const fileSchema = z.object({
  version: z.literal(FILE_VERSION),
  savedAt: z.iso.datetime(),
  scannedAt: z.iso.datetime().optional(),
  files: z.record(
    z.string().regex(/^\d+:\d+$/, 'expected a "device:inode" key'),
    z.object({
      offset: z.number().int().nonnegative(),
      fingerprint: z.object({ length: z.number().int().nonnegative(), hash: z.string().regex(/^[0-9a-f]+$/) }),
      path: z.string(),
      seenAt: z.iso.datetime(),
    }),
  ),
  receivers: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
});

export class CheckpointStore implements Checkpoints {
  private readonly entries = new Map<string, CheckpointEntry>();
  private readonly pruneAfterMs: number;
  private readonly maxEntries: number;
  private readonly stateFile: StateFileHandle;
  private dirty = false;
  private lastScannedAt: number | undefined;
  private writing: Promise<void> = Promise.resolve();
  /** Receivers' states as loaded, or as their providers last gave them, by receiver id. */
  private readonly states = new Map<string, ReceiverState>();
  private readonly stateProviders = new Map<string, () => ReceiverState | undefined>();

  constructor(
    readonly file: string,
    options: CheckpointStoreOptions = {},
  ) {
    this.pruneAfterMs = options.pruneAfterMs ?? 24 * 3_600_000;
    this.maxEntries = options.maxEntries ?? 4096;
    this.stateFile = new StateFile(file, options.logger ?? QUIET);
  }

  /**
   * Start (epoch ms) of the last scan of the watched paths whose files all have entries here,
   * as loaded or marked; undefined before any. A file without entry born after it is new.
   */
  get scannedAt(): number | undefined {
    return this.lastScannedAt;
  }

  /** Records a completed scan; written with the next flush, without forcing one. */
  markScanned(startedAt: number): void {
    this.lastScannedAt = startedAt;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Reads the checkpoint file; a missing file is an empty store. A file that is corrupt,
   * truncated or of another version is moved aside to `<file>.corrupt-<time>` (kept for
   * inspection) and logged by the state store, and the store starts empty: the agent keeps
   * running rather than refusing to start on its own state.
   */
  async load(): Promise<void> {
    this.entries.clear();
    this.states.clear();
    this.lastScannedAt = undefined;
    let document: z.output<typeof fileSchema> | undefined;
    try {
      document = await this.stateFile.read({
        versions: [FILE_VERSION],
        decode: (raw) => {
          const parsed = fileSchema.safeParse(raw);
          if (!parsed.success) throw new Error(z.prettifyError(parsed.error));
          return parsed.data;
        },
      });
    } catch (error) {
      throw new Error(`cannot read checkpoint file ${this.file}: ${(error as Error).message}`, { cause: error });
    }
    if (document === undefined) return;
    for (const [identity, entry] of Object.entries(document.files)) {
      this.entries.set(identity, { ...entry, seenAt: Date.parse(entry.seenAt) });
    }
    if (document.scannedAt) this.lastScannedAt = Date.parse(document.scannedAt);
    for (const [id, state] of Object.entries(document.receivers ?? {})) this.states.set(id, state);
  }

  get(identity: string): CheckpointEntry | undefined {
    return this.entries.get(identity);
  }

  set(identity: string, entry: CheckpointEntry): void {
    this.entries.set(identity, entry);
    this.dirty = true;
  }

  /** Records that the file is still there, without forcing a write of its own. */
  touch(identity: string, now: number): void {
    const entry = this.entries.get(identity);
    if (entry) this.entries.set(identity, { ...entry, seenAt: now });
  }

  delete(identity: string): void {
    if (this.entries.delete(identity)) this.dirty = true;
  }

  identities(): string[] {
    return [...this.entries.keys()];
  }

  /** The state of receiver `id` as last written. */
  receiverState(id: string): ReceiverState | undefined {
    return this.states.get(id);
  }

  /**
   * From now on each write asks `provider` for receiver `id`'s state (undefined: none); without
   * a provider, the state as it last was is kept. Called synchronously as a write begins.
   */
  provideReceiverState(id: string, provider: (() => ReceiverState | undefined) | undefined): void {
    const current = this.stateProviders.get(id);
    if (provider === undefined && current !== undefined) this.keepState(id, current(), Date.now());
    if (provider === undefined) this.stateProviders.delete(id);
    else this.stateProviders.set(id, provider);
  }

  private keepState(id: string, state: ReceiverState | undefined, now: number): void {
    if (state === undefined) this.states.delete(id);
    else this.states.set(id, { ...state, savedAt: new Date(now).toISOString() });
  }

  /**
   * Prunes, then writes the entries if anything changed since the last write (always when
   * `force`): to `<file>.tmp`, fsync, rename over `<file>`, fsync the directory so the rename
   * itself survives a power cut. Calls are serialised; each sees the entries as they are
   * when its turn comes.
   */
  flush(options: { force?: boolean } = {}): Promise<void> {
    const run = this.writing.then(() => this.write(options.force === true));
    this.writing = run.catch(() => undefined);
    return run;
  }

  private prune(now: number): void {
    for (const [identity, entry] of this.entries) {
      if (now - entry.seenAt > this.pruneAfterMs) this.delete(identity);
    }
    if (this.entries.size <= this.maxEntries) return;
    const oldestFirst = [...this.entries].sort((a, b) => a[1].seenAt - b[1].seenAt);
    for (const [identity] of oldestFirst.slice(0, this.entries.size - this.maxEntries)) this.delete(identity);
  }

  private async write(force: boolean): Promise<void> {
    const now = Date.now();
    this.prune(now);
    if (!this.dirty && !force) return;
    const files: Record<string, unknown> = {};
    for (const [identity, entry] of this.entries) {
      files[identity] = { ...entry, seenAt: new Date(entry.seenAt).toISOString() };
    }
    const scannedAt = this.lastScannedAt === undefined ? undefined : new Date(this.lastScannedAt).toISOString();
    // Taken in the same synchronous run as the offsets: what the receivers kept matches the lines read up to them.
    for (const [id, provider] of this.stateProviders) this.keepState(id, provider(), now);
    // States of receivers no longer running go when their files' entries would.
    for (const [id, state] of this.states) {
      if (!this.stateProviders.has(id) && !(now - Date.parse(String(state.savedAt)) <= this.pruneAfterMs)) this.states.delete(id);
    }
    const receivers = this.states.size === 0 ? undefined : Object.fromEntries(this.states);
    const document = { version: FILE_VERSION, savedAt: new Date(now).toISOString(), scannedAt, files, receivers };
    const text = `${JSON.stringify(document)}\n`;
    // Entries set while the write is in flight make the store dirty again.
    this.dirty = false;
    try {
      await this.stateFile.writeText(text);
    } catch (error) {
      this.dirty = true;
      throw new Error(`cannot write checkpoint file ${this.file}: ${(error as Error).message}`, { cause: error });
    }
  }
}
