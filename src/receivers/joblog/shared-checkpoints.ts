// One checkpoint file per state directory, shared by every joblog receiver of the process:
// `<state directory>/joblog/checkpoints.json`, in the type's shared area of the state store,
// and one table of it in memory, held by the store for as long as a receiver uses it.
//
// Offsets are keyed by file identity only, so a receiver that is renamed, or whose metrics or
// globs change, finds the offsets its predecessor left. Two receivers whose globs match the
// same file must not both read it (each would count its lines): a file is followed by the
// first receiver that claims it, and another receiver leaves it alone, with one log line
// saying so, until the first lets it go (it left that receiver's paths, or the receiver
// stopped). The second then resumes where the first stopped.
import path from 'node:path';
import type { Logger, StateStore } from '../../component/types.js';
import { CheckpointStore, type CheckpointEntry, type Checkpoints, type ReceiverState } from './checkpoint.js';

/** The name of the checkpoint file in joblog's shared area of the state store. */
const CHECKPOINT_FILE_NAME = 'checkpoints.json';

/** Where the joblog receivers of an agent keep their offsets, under its state directory. */
export function checkpointFileIn(stateDir: string): string {
  return path.join(stateDir, 'joblog', CHECKPOINT_FILE_NAME);
}

interface SharedStore {
  readonly store: CheckpointStore;
  loading: Promise<void> | undefined;
  /** `scannedAt` as read from disk: the last run's, for the birth test of files found at start. */
  loadedScannedAt: number | undefined;
  /** The receiver following each file identity. */
  readonly owners: Map<string, SharedCheckpoints>;
  readonly views: Set<SharedCheckpoints>;
}

/**
 * One receiver's handle on the shared store of `file`. Created when the receiver is created,
 * so that every receiver of a service is known before the first one marks a scan; closed on
 * shutdown.
 */
export class SharedCheckpoints implements Checkpoints {
  readonly file: string;
  private readonly shared: SharedStore;
  private lastScan: number | undefined;
  private closed = false;
  /** Files left to another receiver, each logged once. */
  private readonly yielded = new Set<string>();

  constructor(
    private readonly stateStore: StateStore,
    readonly receiverId: string,
    private readonly logger: Logger,
  ) {
    this.file = path.join(stateStore.sharedDirectory, CHECKPOINT_FILE_NAME);
    const shared = stateStore.shared<SharedStore>(CHECKPOINT_FILE_NAME, () => ({
      store: new CheckpointStore(this.file, { logger }),
      loading: undefined,
      loadedScannedAt: undefined,
      owners: new Map(),
      views: new Set(),
    }));
    shared.views.add(this);
    this.shared = shared;
  }

  /** Reads the file once for all receivers; later calls share that read. */
  load(): Promise<void> {
    const shared = this.shared;
    shared.loading ??= shared.store.load().then(
      () => {
        shared.loadedScannedAt = shared.store.scannedAt;
      },
      (error: unknown) => {
        // Unreadable now (permissions, say) is not unreadable forever: the next start tries again.
        shared.loading = undefined;
        throw error;
      },
    );
    return shared.loading;
  }

  get scannedAt(): number | undefined {
    return this.shared.loadedScannedAt;
  }

  /**
   * The file records the earliest of the receivers' last complete scans: a file without an
   * entry born after it is new to every receiver that could have seen it.
   */
  markScanned(startedAt: number): void {
    this.lastScan = startedAt;
    let earliest = Infinity;
    for (const view of this.shared.views) {
      const scan = view.lastScan ?? this.shared.loadedScannedAt;
      if (scan === undefined) return;
      earliest = Math.min(earliest, scan);
    }
    this.shared.store.markScanned(earliest);
  }

  get(identity: string): CheckpointEntry | undefined {
    return this.shared.store.get(identity);
  }

  set(identity: string, entry: CheckpointEntry): void {
    this.shared.store.set(identity, entry);
  }

  touch(identity: string, now: number): void {
    this.shared.store.touch(identity, now);
  }

  delete(identity: string): void {
    this.shared.store.delete(identity);
  }

  /** Entries of files followed by another receiver are not this receiver's to take over. */
  identities(): string[] {
    const owners = this.shared.owners;
    return this.shared.store.identities().filter((identity) => {
      const owner = owners.get(identity);
      return owner === undefined || owner === this;
    });
  }

  flush(options?: { force?: boolean }): Promise<void> {
    return this.shared.store.flush(options);
  }

  /** This receiver's state as last written with the offsets (after `load`). */
  state(): ReceiverState | undefined {
    return this.shared.store.receiverState(this.receiverId);
  }

  /** What this receiver's state is at each write, until it closes; its last word is kept after. */
  provideState(provider: () => ReceiverState | undefined): void {
    this.shared.store.provideReceiverState(this.receiverId, provider);
  }

  /** True when this receiver may follow the file: nobody else does. */
  claim(identity: string, filePath: string): boolean {
    const owner = this.shared.owners.get(identity);
    if (owner === undefined || owner === this) {
      this.shared.owners.set(identity, this);
      this.yielded.delete(identity);
      return true;
    }
    if (!this.yielded.has(identity)) {
      this.yielded.add(identity);
      this.logger.warn(
        { path: filePath, identity, readBy: owner.receiverId },
        `file matches the paths of two joblog receivers; "${owner.receiverId}" reads it, "${this.receiverId}" leaves it alone`,
      );
    }
    return false;
  }

  release(identity: string): void {
    if (this.shared.owners.get(identity) === this) this.shared.owners.delete(identity);
  }

  /** Files this receiver found but leaves to another receiver. */
  get filesYielded(): number {
    let count = 0;
    for (const identity of this.yielded) if (this.shared.owners.has(identity)) count += 1;
    return count;
  }

  /** Lets go of every claim; the last receiver out drops the shared store. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.shared.store.provideReceiverState(this.receiverId, undefined);
    for (const [identity, owner] of this.shared.owners) {
      if (owner === this) this.shared.owners.delete(identity);
    }
    this.shared.views.delete(this);
    if (this.shared.views.size === 0) this.stateStore.releaseShared(CHECKPOINT_FILE_NAME, this.shared);
  }
}
