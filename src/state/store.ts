// Where components keep what must outlive their process: one file per component, and a
// folder per component type for what all instances of the type share. Every file is a JSON
// object with a format `version`, written atomically (atomic.ts). A file that is corrupt,
// truncated or of a version the reader does not know is moved aside to
// `<file>.corrupt-<time>` (kept for inspection), logged with both paths, and the component
// starts fresh: never a crash on its own state, never a silent reset. See docs/adr/0010.
//
// Layout under the state directory (one agent per directory: lock.ts):
//   otel-agent.pid                  the lock
//   receivers/joblog%2Fci.json      receiver "joblog/ci"'s own record (the id, URI-encoded)
//   exporters/prometheus.json       exporter "prometheus"'s own record
//   joblog/checkpoints.json         shared by every receiver of type joblog
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kind, Logger, StateFileHandle, StateFormat, StateStore as ComponentStateStore } from '../component/types.js';
import { writeFileAtomically } from './atomic.js';

/** A record as stored: a JSON object with its format version; the rest is the writer's. */
export type StateDocument = { version: number } & Record<string, unknown>;

export type { StateFormat };

/** A record file of unknown shape or version, found on load. */
export class StateFileProblem extends Error {}

/** The name a corrupt file is moved to: beside it, stamped with the time it was found. */
export function quarantineName(file: string, now = new Date()): string {
  return `${file}.corrupt-${now.toISOString().replace(/[-:]/g, '')}`;
}

/** One record file: read (moving a bad one aside), written atomically, writes one at a time. */
export class StateFile implements StateFileHandle {
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {}

  /**
   * The record's value; undefined when there is none, or when the file was bad: then it is
   * moved aside and an error logged naming it and where it went. A file that cannot be read
   * at all (permissions) throws: that is the operator's to fix, and nothing is moved.
   */
  async read<T>(format: StateFormat<T>): Promise<T | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`cannot read state file ${this.path}: ${(error as Error).message}`, { cause: error });
    }
    let problem: string;
    try {
      return format.decode(documentOf(text, format.versions));
    } catch (error) {
      problem = (error as Error).message;
    }
    const movedTo = quarantineName(this.path);
    try {
      await rename(this.path, movedTo);
    } catch (error) {
      throw new Error(`state file ${this.path} is unusable (${problem}) and could not be moved aside: ${(error as Error).message}`, { cause: error });
    }
    this.logger.error({ file: this.path, movedTo, problem }, `state file unusable, moved aside to ${movedTo}; starting without it`);
    return undefined;
  }

  /** Writes `{ version, ...body }` atomically, after any write already under way. */
  write(version: number, body: Record<string, unknown>): Promise<void> {
    // `body` is serialised now, so the record is what it was when the write was asked for.
    const text = `${JSON.stringify({ version, ...body })}\n`;
    const run = this.writing.then(() => writeFileAtomically(this.path, text));
    this.writing = run.catch(() => undefined);
    return run;
  }

  /** Writes `text` as it is (a document the caller serialised, `version` included). */
  writeText(text: string): Promise<void> {
    const run = this.writing.then(() => writeFileAtomically(this.path, text));
    this.writing = run.catch(() => undefined);
    return run;
  }
}

function documentOf(text: string, versions: readonly number[]): StateDocument {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    // A torn or truncated write shows here: an atomic write never leaves one, a disk or an editor may.
    throw new StateFileProblem(`not JSON (${(error as Error).message}); ${text.length} bytes`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new StateFileProblem('expected a JSON object');
  const version = (parsed as { version?: unknown }).version;
  if (typeof version !== 'number' || !versions.includes(version)) {
    throw new StateFileProblem(`format version ${JSON.stringify(version)} is not one this agent reads (${versions.join(', ')})`);
  }
  return parsed as StateDocument;
}

/** The file name of component `id`'s record: the id URI-encoded, so every id has its own file. */
export function recordFileName(id: string): string {
  return `${encodeURIComponent(id)}.json`;
}

/**
 * An agent's state directory: hands each component its store, and keeps what the instances
 * of one type share in the process (joblog's checkpoint table) for as long as one holds it.
 * One per agent; its lock is taken apart (lock.ts), by the agent.
 */
export class StateDirectory {
  private readonly sharedValues = new Map<string, unknown>();

  constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {}

  /** The store of component `id` of `kind`, logging through `logger` (the component's). */
  storeFor(kind: Kind, id: string, logger: Logger = this.logger): StateStore {
    return new StateStore(this, kind, id, logger);
  }

  /** @internal the value shared under `key`, made by `create` when nobody holds one. */
  shared<T>(key: string, create: () => T): T {
    if (!this.sharedValues.has(key)) this.sharedValues.set(key, create());
    return this.sharedValues.get(key) as T;
  }

  /** @internal forgets `value` under `key`, unless another took its place. */
  forget(key: string, value: unknown): void {
    if (this.sharedValues.get(key) === value) this.sharedValues.delete(key);
  }
}

/**
 * A component's handle on the state directory, namespaced by its kind and id. Creating one
 * touches nothing on disk; files and folders are made when first written.
 */
export class StateStore implements ComponentStateStore {
  /** This component's own record. */
  readonly record: StateFile;

  constructor(
    private readonly root: StateDirectory,
    readonly kind: Kind,
    readonly id: string,
    private readonly logger: Logger,
  ) {
    this.record = new StateFile(join(root.path, `${kind}s`, recordFileName(id)), logger);
  }

  /** The agent's state directory. */
  get directory(): string {
    return this.root.path;
  }

  /** The component's type: `joblog` for `joblog/ci`. */
  get type(): string {
    const slash = this.id.indexOf('/');
    return slash === -1 ? this.id : this.id.slice(0, slash);
  }

  /** The folder shared by every instance of this component's type: `<directory>/<type>`. */
  get sharedDirectory(): string {
    return join(this.root.path, this.type);
  }

  /** A file in the type's shared folder (`joblog/checkpoints.json`). */
  sharedFile(name: string): StateFile {
    return new StateFile(join(this.sharedDirectory, name), this.logger);
  }

  /**
   * What the running instances of this type share under `name` (in this state directory):
   * made by `create` for the first that asks, the same object for the others until
   * `releaseShared` lets it go.
   */
  shared<T>(name: string, create: () => T): T {
    return this.root.shared(`${this.kind}:${this.type}:${name}`, create);
  }

  /** Lets the shared `value` go (its last holder stopped): the next `shared` makes a new one. */
  releaseShared(name: string, value: unknown): void {
    this.root.forget(`${this.kind}:${this.type}:${name}`, value);
  }
}
