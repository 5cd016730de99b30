// Each component's last reported status, for /health and the agent's own metrics.
import type { ComponentHealth, ComponentStatus, Kind, Logger, StatusReporter } from '../component/types.js';

export const STATUSES: readonly ComponentStatus[] = ['starting', 'ok', 'degraded', 'failed', 'stopping', 'stopped'];

export class StatusBoard {
  private readonly entries = new Map<string, ComponentHealth>();

  constructor(private readonly logger: Logger) {}

  /**
   * The reporter of one instance. An instance replaced by a reload is no longer `live`: what
   * it reports while it shuts down would otherwise overwrite its successor's status.
   */
  reporter(id: string, kind: Kind, live: () => boolean = () => true): StatusReporter {
    // A successor created while its predecessor runs leaves the running one's status shown
    // until it starts (the service then marks it starting).
    if (!this.entries.has(`${kind}:${id}`)) this.set(id, kind, 'starting');
    return {
      report: (status, reason) => {
        if (live()) this.set(id, kind, status, reason);
      },
    };
  }

  /** A component a reload removed: it no longer shows in /health. */
  remove(id: string, kind: Kind): void {
    this.entries.delete(`${kind}:${id}`);
  }

  set(id: string, kind: Kind, status: ComponentStatus, reason?: string): void {
    const key = `${kind}:${id}`;
    const previous = this.entries.get(key);
    if (previous?.status === status && previous.reason === reason) return;
    this.entries.set(key, { id, kind, status, reason, since: new Date().toISOString() });
    if (previous && (status === 'degraded' || status === 'failed')) {
      this.logger.warn({ component: id, kind, status, reason }, 'component status changed');
    } else if (previous) {
      this.logger.debug({ component: id, kind, status, reason }, 'component status changed');
    }
  }

  /**
   * Marks every component of `kind` still `starting` as `ok`. For processors, which have no
   * start of their own: they are ready once the service that runs their pipelines is.
   */
  started(kind: Kind): void {
    for (const entry of [...this.entries.values()]) {
      if (entry.kind === kind && entry.status === 'starting') this.set(entry.id, kind, 'ok');
    }
  }

  components(): ComponentHealth[] {
    return [...this.entries.values()];
  }
}
