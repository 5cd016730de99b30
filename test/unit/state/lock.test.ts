// One agent per state directory: the lock file names the PID of the agent holding it; a live
// holder refuses the start, a dead one (or a PID now used by another process) is taken over.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_FILE_NAME, lockHolder, StateDirectoryInUse, StateLock } from '../../../src/state/lock.js';

let directory: string;
const children: ChildProcess[] = [];

beforeEach(() => {
  directory = mkdtempSync(path.join(tmpdir(), 'otel-agent-lock-'));
});

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  rmSync(directory, { recursive: true, force: true });
});

/** A process that stays up until the test ends: stands in for another agent. */
function liveProcess(): number {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(child);
  return child.pid!;
}

async function deadPid(): Promise<number> {
  const child = spawn('true', [], { stdio: 'ignore' });
  const pid = child.pid!;
  await new Promise((resolve) => child.on('exit', resolve));
  return pid;
}

const lockFile = () => path.join(directory, LOCK_FILE_NAME);

describe('StateLock', () => {
  it('creates the directory and writes this process’s PID; release removes it', () => {
    const nested = path.join(directory, 'a', 'b');
    const lock = StateLock.acquire(nested);
    expect(readFileSync(path.join(nested, LOCK_FILE_NAME), 'utf8').split('\n')[0]).toBe(String(process.pid));
    lock.release();
    lock.release();
    expect(existsSync(path.join(nested, LOCK_FILE_NAME))).toBe(false);
  });

  it('refuses a directory held by a live process, naming the directory and its PID', () => {
    const pid = liveProcess();
    writeFileSync(lockFile(), `${pid}\n`);
    expect(() => StateLock.acquire(directory)).toThrow(`state directory ${directory} is in use by another agent (PID ${pid})`);
    expect(() => StateLock.acquire(directory)).toThrow(StateDirectoryInUse);
    expect(lockHolder(directory)).toBe(pid);
    // The other agent's lock is left as it was.
    expect(readFileSync(lockFile(), 'utf8')).toBe(`${pid}\n`);
  });

  it('takes over a lock whose process is gone, and says which PID it named', async () => {
    const pid = await deadPid();
    writeFileSync(lockFile(), `${pid}\n`);
    const takenOver: Array<number | undefined> = [];
    const lock = StateLock.acquire(directory, (stale) => takenOver.push(stale));
    expect(takenOver).toEqual([pid]);
    expect(readFileSync(lockFile(), 'utf8').split('\n')[0]).toBe(String(process.pid));
    lock.release();
  });

  it('takes over a lock whose PID now belongs to a process started later (PID reuse)', () => {
    const pid = liveProcess();
    writeFileSync(lockFile(), `${pid}\nstart 1\n`);
    const lock = StateLock.acquire(directory);
    expect(readFileSync(lockFile(), 'utf8').split('\n')[0]).toBe(String(process.pid));
    lock.release();
  });

  it('takes over an unreadable lock (no PID in it) and one naming this very process', () => {
    writeFileSync(lockFile(), 'garbage');
    StateLock.acquire(directory);
    // A restarted agent in a container is PID 1 again: its own PID is no other agent.
    writeFileSync(lockFile(), `${process.pid}\n`);
    const lock = StateLock.acquire(directory);
    lock.release();
    expect(existsSync(lockFile())).toBe(false);
  });

  it('release leaves alone a lock that another agent took over meanwhile', () => {
    const lock = StateLock.acquire(directory);
    const pid = liveProcess();
    writeFileSync(lockFile(), `${pid}\n`);
    lock.release();
    expect(readFileSync(lockFile(), 'utf8')).toBe(`${pid}\n`);
  });
});
