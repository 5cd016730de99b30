// The netlink receiver. Each link event from the monitor makes the receiver read that
// interface again from /sys/class/net and record what it finds, so the metrics follow the
// kernel within milliseconds; the flap count is the kernel's carrier_down_count, never a
// count of events, so an event the kernel coalesced or the monitor missed loses nothing.
// Every interface is read again at each collection and every `reconcile_interval`, which is
// also what finds renames and deletions the events alone would leave unclear, and what reads
// the traffic counters (an event reads only the link's state).
//
// Identity is the ifindex: a renamed interface keeps its counters and its series move to the
// new name; one deleted or moved to another namespace (RTM_DELLINK) loses its series.
import type { Attributes } from '@opentelemetry/api';
import { Lifecycle, StatusOnChange } from '../../component/lifecycle.js';
import { nameMatcher } from '../../component/glob.js';
import { ScrapeController } from '../../component/scrape-controller.js';
import type { Counter, Gauge, Histogram, Receiver, ReceiverSettings } from '../../component/types.js';
import type { NetlinkConfig } from './config.js';
import { LinkMonitor } from './monitor.js';
import { parseMonitorLine, type LinkEvent } from './parse.js';
import { SysClassNet, type CounterName, type LinkState } from './sysfs.js';

export const MONITOR_COMMAND = ['ip', '-o', '-ts', 'monitor', 'link'] as const;

/** Seconds from the kernel event (as `ip` received it) to the metrics updated. */
export const DEFAULT_DELAY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export type EventType = 'new' | 'changed' | 'deleted';

/** Test seams: where the interfaces are read and what command is the event source. */
export interface NetlinkSources {
  sysfs?: SysClassNet;
  command?: readonly string[];
}

interface Pending {
  name: string;
  deleted: boolean;
}

interface QueuedEvent {
  receivedMs: number;
  type: EventType;
}

const NAME = 'network.interface.name';
const DIRECTION = 'network.io.direction';
const DIRECTIONAL: ReadonlyArray<[CounterName, CounterName, 'io' | 'packets' | 'errors' | 'dropped']> = [
  ['rx_bytes', 'tx_bytes', 'io'],
  ['rx_packets', 'tx_packets', 'packets'],
  ['rx_errors', 'tx_errors', 'errors'],
  ['rx_dropped', 'tx_dropped', 'dropped'],
];

/** What `ip monitor` prints when the socket's receive buffer overflowed and events were dropped. */
const OVERRUN = /No buffer space available|ENOBUFS/;

/** Monitor lines that were not understood, and its stderr, are logged at most this often. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

export class NetlinkReceiver implements Receiver {
  private readonly lifecycle: Lifecycle;
  private readonly controller: ScrapeController<void>;
  private readonly monitor: LinkMonitor;
  private readonly sysfs: SysClassNet;
  private readonly status: StatusOnChange;
  private readonly included: (name: string) => boolean;
  /** Every interface seen, by ifindex, and whether its series are exported. */
  private readonly links = new Map<number, { name: string; exported: boolean }>();
  private pending = new Map<number, Pending>();
  private queued: QueuedEvent[] = [];
  private flushScheduled = false;
  /** Why the event source is down, while it is. */
  private sourceProblem: string | undefined;
  private lastRefusalLogMs = -Infinity;
  private lastStderrLogMs = -Infinity;

  private readonly m: {
    operStatus: Gauge;
    adminStatus: Gauge;
    carrier: Gauge;
    flaps: Counter;
    carrierChanges: Counter;
    speed: Gauge;
    mtu: Gauge;
    io: Counter;
    packets: Counter;
    errors: Counter;
    dropped: Counter;
    events: Counter;
    processed: Counter;
    failed: Counter;
    delay: Histogram;
    connected: Gauge;
    overruns: Counter;
  };

  constructor(
    private readonly settings: ReceiverSettings,
    private readonly config: NetlinkConfig,
    sources: NetlinkSources = {},
  ) {
    const meter = settings.meter;
    this.m = {
      // No unit on these four: a unit of 1 would give a `_ratio` suffix, and none is a ratio.
      operStatus: meter.gauge('netlink.interface.oper_status', {
        valueType: 'int',
        description: 'Operational status (IF-MIB ifOperStatus): 1 up, 2 down, 3 testing, 4 unknown, 5 dormant, 6 notPresent, 7 lowerLayerDown.',
      }),
      adminStatus: meter.gauge('netlink.interface.admin_status', {
        valueType: 'int',
        description: 'Administrative status (IF-MIB ifAdminStatus): 1 up, 2 down.',
      }),
      carrier: meter.gauge('netlink.interface.carrier', { valueType: 'int', description: '1 when the link has carrier, else 0.' }),
      flaps: meter.counter('netlink.interface.flaps', {
        unit: '{flap}',
        valueType: 'int',
        description: 'Carrier down transitions (the kernel carrier_down_count): one per flap.',
      }),
      carrierChanges: meter.counter('netlink.interface.carrier.changes', {
        unit: '{change}',
        valueType: 'int',
        description: 'Carrier changes, up and down (the kernel carrier_changes).',
      }),
      speed: meter.gauge('netlink.interface.speed', {
        unit: 'bit/s',
        valueType: 'int',
        description: 'Link speed the driver reports; absent when it reports none.',
      }),
      mtu: meter.gauge('netlink.interface.mtu', { unit: 'By', valueType: 'int', description: 'Maximum transmission unit.' }),
      io: meter.counter('system.network.io', { unit: 'By', valueType: 'int', description: 'Bytes received and transmitted.' }),
      packets: meter.counter('system.network.packet.count', {
        unit: '{packet}',
        valueType: 'int',
        description: 'Packets received and transmitted.',
      }),
      // Described as the hostmetrics network scraper describes them: the same kernel counters.
      errors: meter.counter('system.network.errors', {
        unit: '{error}',
        valueType: 'int',
        description: 'Receive and transmit errors (the errs columns).',
      }),
      dropped: meter.counter('system.network.packet.dropped', {
        unit: '{packet}',
        valueType: 'int',
        description: 'Packets dropped without an error (the drop columns).',
      }),
      events: meter.counter('netlink.events', {
        unit: '{event}',
        valueType: 'int',
        description: 'Link events of the reported interfaces, by type (new, changed, deleted).',
      }),
      processed: meter.counter('netlink.events.processed', {
        unit: '{event}',
        valueType: 'int',
        description: 'Link events of the reported interfaces that updated the metrics.',
      }),
      failed: meter.counter('netlink.events.failed', {
        unit: '{event}',
        valueType: 'int',
        description: 'Lines from the event source that were not a link event (skipped).',
      }),
      delay: meter.histogram('netlink.event.delay', {
        unit: 's',
        buckets: DEFAULT_DELAY_BUCKETS,
        description: 'Time from the kernel link event, as the monitor received it, to the metrics updated.',
      }),
      overruns: meter.counter('netlink.overruns', {
        unit: '{overrun}',
        valueType: 'int',
        description: 'Times the kernel dropped link events because the monitor read too slowly (ENOBUFS); each is followed by a full read.',
      }),
      connected: meter.gauge('netlink.connected', {
        valueType: 'int',
        description: '1 while the event source runs and is subscribed to link events, else 0.',
      }),
    };
    for (const type of ['new', 'changed', 'deleted'] as const) this.m.events.add(0, { 'netlink.event.type': type });
    this.m.processed.add(0);
    this.m.failed.add(0);
    this.m.overruns.add(0);
    this.m.connected.set(0);

    const includes = config.include.map(nameMatcher);
    const excludes = config.exclude.map(nameMatcher);
    this.included = (name) => includes.some((match) => match(name)) && !excludes.some((match) => match(name));
    this.sysfs = sources.sysfs ?? new SysClassNet();
    this.status = new StatusOnChange(settings.status);
    const name = `receiver "${settings.id}"`;
    this.controller = new ScrapeController({
      name,
      intervalMs: config.reconcile_interval,
      onCollect: 'refresh',
      scrape: async () => this.reconcile(),
      problem: () => this.sourceProblem,
      status: this.status,
    });
    this.monitor = new LinkMonitor({
      command: sources.command ?? MONITOR_COMMAND,
      initialMs: config.restart_backoff.initial_interval,
      maxMs: config.restart_backoff.max_interval,
      onLine: (line) => this.onLine(line),
      onUp: (pid) => this.sourceUp(pid),
      onDown: (reason, retryMs) => this.sourceDown(reason, retryMs),
      onStderr: (line) => this.onStderr(line),
    });
    this.lifecycle = new Lifecycle(name, { start: (signal) => this.begin(signal), stop: () => this.end() });
  }

  /** The event source's process id while it runs. */
  get monitorPid(): number | undefined {
    return this.monitor.pid;
  }

  start(signal: AbortSignal): Promise<void> {
    return this.lifecycle.start(signal);
  }

  private async begin(signal: AbortSignal): Promise<void> {
    this.monitor.start();
    this.controller.start(signal);
  }

  /** Every interface read again before a collection, under its deadline. */
  collect(signal: AbortSignal): Promise<void> {
    return this.controller.collect(signal);
  }

  shutdown(): Promise<void> {
    return this.lifecycle.shutdown();
  }

  private async end(): Promise<void> {
    await this.monitor.stop();
    await this.controller.stop();
    this.sysfs.releaseAll();
    const meter = this.settings.meter;
    meter.sweep(meter.mark());
  }

  private sourceUp(pid: number): void {
    this.sourceProblem = undefined;
    this.m.connected.set(1);
    this.settings.logger.info({ receiver: this.settings.id, pid }, 'link monitor running');
    this.status.report('ok');
    // What changed while no monitor ran is in the kernel's counters.
    void this.controller.run();
  }

  private sourceDown(reason: string, retryMs: number): void {
    if (this.lifecycle.phase === 'stopped') return;
    this.sourceProblem = `link event source down: ${reason}; restarting in ${retryMs}ms`;
    this.m.connected.set(0);
    this.settings.logger.warn({ receiver: this.settings.id, reason, retryMs }, 'link monitor down');
    this.status.report('degraded', this.sourceProblem);
  }

  private onStderr(line: string): void {
    if (OVERRUN.test(line)) {
      // The kernel dropped events for this socket: what they said is read from /sys instead.
      this.m.overruns.add(1);
      void this.controller.run();
    }
    const now = performance.now();
    if (now - this.lastStderrLogMs >= REFUSAL_LOG_INTERVAL_MS) {
      this.lastStderrLogMs = now;
      this.settings.logger.warn({ receiver: this.settings.id, stderr: line.slice(0, 200) }, 'link monitor wrote to stderr (logged at most once a minute)');
    }
  }

  private onLine(line: string): void {
    const event = parseMonitorLine(line);
    if (!event) {
      // Continuation lines of other message kinds never come with -o; anything else is refused.
      this.m.failed.add(1);
      const now = performance.now();
      if (now - this.lastRefusalLogMs >= REFUSAL_LOG_INTERVAL_MS) {
        this.lastRefusalLogMs = now;
        this.settings.logger.warn({ receiver: this.settings.id, line: line.slice(0, 200) }, 'link monitor line not understood; skipped');
      }
      return;
    }
    this.handleEvent(event);
  }

  /** One link event, from the monitor or another source (the benchmark feeds a native socket's). */
  handleEvent(event: LinkEvent): void {
    const known = this.links.get(event.ifindex);
    if (!this.included(event.name) && !known?.exported) return;
    const type: EventType = event.deleted ? 'deleted' : known || this.pending.has(event.ifindex) ? 'changed' : 'new';
    this.pending.set(event.ifindex, { name: event.name, deleted: event.deleted });
    this.queued.push({ receivedMs: event.receivedMs, type });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // A burst read in one chunk is applied once per interface.
      setImmediate(() => this.flush());
    }
  }

  /** Applies the queued events: each interface named in them is read once. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.lifecycle.phase === 'stopped') return;
    const pending = this.pending;
    const queued = this.queued;
    this.pending = new Map();
    this.queued = [];
    let unclear = false;
    for (const [ifindex, { name, deleted }] of pending) {
      if (deleted) {
        this.forget(ifindex);
        continue;
      }
      const state = this.sysfs.readState(ifindex, name);
      if (state) this.apply(state);
      else unclear = true; // Renamed again, or gone, since the event: the full read settles it.
    }
    // Through the controller: a failed full read is a status, never an exception in this callback.
    if (unclear) void this.controller.run();
    const now = performance.timeOrigin + performance.now();
    for (const { receivedMs, type } of queued) {
      this.m.events.add(1, { 'netlink.event.type': type });
      this.m.processed.add(1);
      this.m.delay.record(Math.max(0, now - receivedMs) / 1000);
    }
  }

  /** Reads every interface the kernel lists; those no longer there lose their series. */
  private reconcile(): void {
    const present = new Set<number>();
    for (const name of this.sysfs.names()) {
      const state = this.sysfs.read(name);
      if (!state) continue;
      present.add(state.ifindex);
      this.apply(state);
    }
    for (const ifindex of [...this.links.keys()]) if (!present.has(ifindex)) this.forget(ifindex);
  }

  private apply(state: LinkState): void {
    const known = this.links.get(state.ifindex);
    if (known?.exported && known.name !== state.name) this.removeSeries(known.name);
    const exported = this.included(state.name);
    this.links.set(state.ifindex, { name: state.name, exported });
    if (!exported) return;
    const nic = { [NAME]: state.name };
    this.m.operStatus.set(state.operStatus, nic);
    this.m.adminStatus.set(state.adminStatus, nic);
    this.m.carrier.set(state.carrier, nic);
    this.m.flaps.set(state.carrierDownCount, nic);
    this.m.carrierChanges.set(state.carrierChanges, nic);
    this.m.mtu.set(state.mtu, nic);
    // Speed and traffic are read at full reads only (`counters` there).
    const counters = state.counters;
    if (!counters) return;
    if (state.speed === undefined) this.m.speed.remove(nic);
    else this.m.speed.set(state.speed, nic);
    for (const [rx, tx, metric] of DIRECTIONAL) {
      this.m[metric].set(counters[rx], { ...nic, [DIRECTION]: 'receive' });
      this.m[metric].set(counters[tx], { ...nic, [DIRECTION]: 'transmit' });
    }
  }

  private forget(ifindex: number): void {
    const known = this.links.get(ifindex);
    if (!known) return;
    this.links.delete(ifindex);
    this.sysfs.release(ifindex);
    if (known.exported) this.removeSeries(known.name);
  }

  private removeSeries(name: string): void {
    const nic: Attributes = { [NAME]: name };
    for (const gauge of [this.m.operStatus, this.m.adminStatus, this.m.carrier, this.m.speed, this.m.mtu]) gauge.remove(nic);
    this.m.flaps.remove(nic);
    this.m.carrierChanges.remove(nic);
    for (const metric of [this.m.io, this.m.packets, this.m.errors, this.m.dropped]) {
      metric.remove({ ...nic, [DIRECTION]: 'receive' });
      metric.remove({ ...nic, [DIRECTION]: 'transmit' });
    }
  }
}
