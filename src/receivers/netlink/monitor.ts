// The event source: `ip -o -ts monitor link`, a child process supervised here. Each line it
// prints is handed on; when it exits (killed, crashed, `ip` missing) the owner is told why and
// it is started again after a wait that doubles from `initialMs` up to `maxMs`. The wait starts
// over once a child has stayed up for `stableMs`.
import { spawn, type ChildProcess } from 'node:child_process';

export interface MonitorOptions {
  /** The command and its arguments; `ip -o -ts monitor link` in production. */
  command: readonly string[];
  initialMs: number;
  maxMs: number;
  /** A child up this long was healthy: the next wait is `initialMs` again. Defaults to `maxMs`. */
  stableMs?: number;
  /** One complete line of the child's output. */
  onLine(line: string): void;
  /** The child is running (again): it has been spawned and is subscribed shortly after. */
  onUp(pid: number): void;
  /** The child is gone; `retryMs` is the wait before the next start. */
  onDown(reason: string, retryMs: number): void;
  /** A line the child wrote to stderr. */
  onStderr(line: string): void;
}

/** Longest partial line kept: an `ip` line is a few hundred bytes. */
const MAX_PARTIAL_LINE = 64 * 1024;

export class LinkMonitor {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private retryTimer?: NodeJS.Timeout;
  private waitMs: number;
  private upSince = 0;
  private stopped = false;

  constructor(private readonly options: MonitorOptions) {
    this.waitMs = options.initialMs;
  }

  /** The running child's process id, if one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.stopped || this.child) return;
    const [file, ...args] = this.options.command;
    // TZ=UTC: `ip -ts` prints local time without a zone.
    const child = spawn(file, args, { env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let partial = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      if (partial.length > MAX_PARTIAL_LINE) partial = '';
      for (const line of lines) if (line !== '') this.options.onLine(line);
    });
    let errPartial = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      const lines = (errPartial + chunk).split('\n');
      errPartial = lines.pop()!.slice(0, MAX_PARTIAL_LINE);
      for (const line of lines) if (line.trim() !== '') this.options.onStderr(line);
    });
    let failure: string | undefined;
    child.on('error', (error) => (failure = error.message));
    child.on('spawn', () => {
      this.upSince = performance.now();
      this.options.onUp(child.pid!);
    });
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        resolve();
        if (this.child === child) this.child = undefined;
        if (this.stopped) return;
        const command = this.options.command.join(' ');
        const reason = failure
          ? `${command} could not run: ${failure}`
          : `${command} exited ${signal ? `on ${signal}` : `with code ${code}`}`;
        this.scheduleRestart(reason);
      });
    });
  }

  private scheduleRestart(reason: string): void {
    if (this.upSince > 0 && performance.now() - this.upSince >= (this.options.stableMs ?? this.options.maxMs)) this.waitMs = this.options.initialMs;
    const wait = this.waitMs;
    this.waitMs = Math.min(this.waitMs * 2, this.options.maxMs);
    this.upSince = 0;
    this.options.onDown(reason, wait);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.start();
    }, wait).unref();
  }

  /** Stops the child and any pending restart; resolves once the child has exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    await this.exited;
    clearTimeout(kill);
  }
}
