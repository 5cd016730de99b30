// One agent per state directory. Two agents on one directory would each read the job logs
// from the same offsets and both count every line, and overwrite each other's checkpoints.
// The lock is `<state directory>/otel-agent.pid`, holding the PID of the agent that owns it
// (and, on Linux, that process's start time, so a PID reused by another process after a
// crash is recognised as stale).
//
// Taken exclusively: the file is written whole to a temporary name, then hard-linked to the
// lock's name, which fails when the lock exists (as an O_EXCL create does) but never shows
// a lock file without its PID. A lock whose process is gone (kill -9, power cut) is taken
// over; a live one refuses the start, naming the directory and the PID.
import { linkSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE_NAME = 'otel-agent.pid';

export class StateDirectoryInUse extends Error {
  readonly code = 'AGT_ERR_STATE_LOCKED';
  constructor(
    readonly directory: string,
    readonly pid: number,
  ) {
    super(`state directory ${directory} is in use by another agent (PID ${pid})`);
    this.name = 'StateDirectoryInUse';
  }
}

interface LockOwner {
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat field 22). */
  startTicks?: string;
}

/** The start time of process `pid`, when /proc tells it. */
function startTicksOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

function parseOwner(text: string): LockOwner | undefined {
  const [pidLine, startLine] = text.split('\n');
  const pid = Number(pidLine);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  const startTicks = startLine?.startsWith('start ') ? startLine.slice(6) : undefined;
  return { pid, ...(startTicks && { startTicks }) };
}

/** True while the process that wrote the lock runs: not this one, not dead, not a newer process on its PID. */
function alive(owner: LockOwner): boolean {
  // A restarted agent in a container is often PID 1 again: its own PID is never another agent.
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    // EPERM: it runs, as another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (owner.startTicks === undefined) return true;
  const now = startTicksOf(owner.pid);
  return now === undefined || now === owner.startTicks;
}

/** Who holds the lock of `directory`, when a live agent does. For `validate`, which takes nothing. */
export function lockHolder(directory: string): number | undefined {
  try {
    const owner = parseOwner(readFileSync(join(directory, LOCK_FILE_NAME), 'utf8'));
    return owner !== undefined && alive(owner) ? owner.pid : undefined;
  } catch {
    return undefined;
  }
}

export class StateLock {
  private released = false;

  private constructor(
    readonly directory: string,
    readonly file: string,
    private readonly content: string,
  ) {}

  /**
   * Takes the lock of `directory` (made if missing) or throws StateDirectoryInUse. `onTakeover`
   * hears of a stale lock taken over, with the PID it named.
   */
  static acquire(directory: string, onTakeover?: (stalePid: number | undefined) => void): StateLock {
    mkdirSync(directory, { recursive: true });
    const file = join(directory, LOCK_FILE_NAME);
    const startTicks = startTicksOf(process.pid);
    const content = `${process.pid}\n${startTicks === undefined ? '' : `start ${startTicks}\n`}`;
    const temporary = `${file}.${process.pid}.tmp`;
    try {
      writeFileSync(temporary, content, { mode: 0o644 });
      // Two tries: the second after a stale lock was removed; losing that race to another agent refuses.
      for (let attempt = 0; ; attempt++) {
        try {
          linkSync(temporary, file);
          return new StateLock(directory, file, content);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
        }
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw error;
        }
        const owner = parseOwner(text);
        if (owner !== undefined && alive(owner)) throw new StateDirectoryInUse(directory, owner.pid);
        // Only the lock as read goes: one another agent took over meanwhile stays.
        if (readFileSync(file, 'utf8') === text) unlinkSync(file);
        onTakeover?.(owner?.pid);
      }
    } catch (error) {
      if (error instanceof StateDirectoryInUse) throw error;
      const again = lockHolder(directory);
      if (again !== undefined) throw new StateDirectoryInUse(directory, again);
      throw new Error(`cannot lock state directory ${directory}: ${(error as Error).message}`, { cause: error });
    } finally {
      rmSync(temporary, { force: true });
    }
  }

  /** Removes the lock file if it is still this agent's. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      if (readFileSync(this.file, 'utf8') === this.content) unlinkSync(this.file);
    } catch {
      // Gone already, or the directory with it: nothing is held.
    }
  }
}
