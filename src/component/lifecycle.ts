// The part of start and shutdown every component writes the same way: start once, shut down
// once however often asked (and safely without start), stop the component's own work when the
// service aborts, and report a status only when it changed. Components keep what is theirs
// (opening files, binding a port, draining) in the two callbacks.
import type { ComponentStatus, StatusReporter } from './types.js';

export type Phase = 'created' | 'starting' | 'running' | 'stopped';

export interface LifecycleHooks {
  /** The component's own start: open, bind, schedule. `signal` aborts when the service stops. */
  start(signal: AbortSignal): Promise<void>;
  /** The component's own stop; `started` is false when start never ran (or had not yet begun). */
  stop(started: boolean): Promise<void>;
}

export class Lifecycle {
  private current: Phase = 'created';
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** Aborted when the component stops, or when the service's start signal does. */
  private readonly own = new AbortController();

  constructor(
    /** Named in errors: `receiver "joblog/ci"`. */
    private readonly name: string,
    private readonly hooks: LifecycleHooks,
  ) {}

  get phase(): Phase {
    return this.current;
  }

  /** True from start until shutdown begins. */
  get active(): boolean {
    return this.current === 'starting' || this.current === 'running';
  }

  /** Aborts when the component stops: for timers, reads and connections of its own. */
  get signal(): AbortSignal {
    return this.own.signal;
  }

  /** Runs the component's start once; a second call rejects: a stopped component is made anew. */
  start(signal: AbortSignal): Promise<void> {
    if (this.current !== 'created') {
      return Promise.reject(new Error(`${this.name} was already started; create a new one`));
    }
    this.current = 'starting';
    if (signal.aborted) this.own.abort();
    else signal.addEventListener('abort', () => this.own.abort(), { once: true, signal: this.own.signal });
    this.starting = this.hooks.start(this.own.signal).then(() => {
      if (this.current === 'starting') this.current = 'running';
    });
    return this.starting;
  }

  /** Stops once: later calls share the first one's promise. Waits for a start in progress first. */
  shutdown(): Promise<void> {
    this.stopping ??= this.stop();
    return this.stopping;
  }

  private async stop(): Promise<void> {
    const started = this.current !== 'created';
    this.current = 'stopped';
    this.own.abort();
    await this.starting?.catch(() => undefined);
    await this.hooks.stop(started);
  }
}

/** A status reporter that passes a status on only when it, or its reason, changed. */
export class StatusOnChange implements StatusReporter {
  private last: string | undefined;

  constructor(private readonly target: StatusReporter) {}

  report(status: ComponentStatus, reason?: string): void {
    const key = `${status}\u0000${reason ?? ''}`;
    if (key === this.last) return;
    this.last = key;
    this.target.report(status, reason);
  }
}
