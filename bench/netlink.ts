// Link events to metrics, for each event source tried: the netlink receiver's supervised
// `ip -o -ts monitor link`, and, for comparison, polling /sys/class/net at an interval (what a
// receiver without events does), and a native rtnetlink socket (the `netlink` npm binding,
// not a dependency: measured when it can be loaded, see NETLINK_BINDING below) feeding the
// same receiver. A veth pair is made under a unique name and removed after.
//
// - Paced: one carrier change at a time (the peer set down or up by a long-lived `ip -batch`),
//   the next sent once the metric shows the last. Delay: from the command written to the
//   carrier metric changed ("command to metric"), and, for the monitor, the receiver's own
//   `netlink.event.delay` (`ip` received the kernel's message to metrics updated).
// - Burst: all flaps written at once, as fast as the kernel takes them; the flap count is then
//   compared with the kernel's carrier_down_count delta.
// - CPU: this process plus the `ip monitor` child, per 1,000 link events of the watched
//   interface (a flap is two: down and up). The flap generator's own CPU is left out.
//
//   npm run bench -- netlink                         10,000 flaps, polling at 10 ms over 1,000
//   npm run bench -- netlink --netlink-flaps=2000
//   NETLINK_BINDING=/some/dir/node_modules/netlink npm run bench -- netlink
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Attributes } from '@opentelemetry/api';
import type { Meter, ReceiverSettings } from '../src/component/types.js';
import { MetricStore } from '../src/metrics/store.js';
import { configSchema } from '../src/receivers/netlink/config.js';
import { NetlinkReceiver } from '../src/receivers/netlink/receiver.js';
import { SysClassNet } from '../src/receivers/netlink/sysfs.js';
import { benchSettings, formatTable, percentile, readCpuTicks, ticksPerSecond } from './support.js';

export interface NetlinkOptions {
  flaps?: number;
  /** Flaps of the polling comparison: each change waits half an interval on average. */
  pollFlaps?: number;
  pollIntervalMs?: number;
}

export interface NetlinkRow {
  source: string;
  mode: 'paced' | 'burst';
  flaps: number;
  events: number;
  commandP50Ms?: number;
  commandP99Ms?: number;
  receiverP50Ms?: number;
  receiverP99Ms?: number;
  cpuPer1000Events: number;
  counted?: number;
  kernel?: number;
  note?: string;
}

const NAME = 'network.interface.name';

function sysValue(name: string, file: string): number {
  return Number(readFileSync(`/sys/class/net/${name}/${file}`, 'utf8').trim());
}

/** A long-lived `ip -batch -`: each line written is one command, run as it arrives. */
class FlapGenerator {
  private readonly child: ChildProcess;
  constructor(private readonly peer: string) {
    this.child = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'inherit'] });
  }
  set(state: 'up' | 'down'): void {
    this.child.stdin!.write(`link set ${this.peer} ${state}\n`);
  }
  burst(flaps: number): void {
    const lines: string[] = [];
    for (let i = 0; i < flaps; i++) lines.push(`link set ${this.peer} down`, `link set ${this.peer} up`);
    this.child.stdin!.write(`${lines.join('\n')}\n`);
  }
  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.child.on('exit', resolve));
    this.child.stdin!.end();
    await exited;
  }
}

/** A meter that tells the bench when the carrier of `name` is set, and keeps every delay recorded. */
function watchingMeter(store: MetricStore, name: string, onCarrier: (value: number) => void, delaysMs: number[]): Meter {
  return {
    counter: (n, o) => store.counter(n, o),
    upDownCounter: (n, o) => store.upDownCounter(n, o),
    mark: () => store.mark(),
    sweep: (mark) => store.sweep(mark),
    gauge(n, o) {
      const gauge = store.gauge(n, o);
      if (n !== 'netlink.interface.carrier') return gauge;
      return {
        set(value: number, attributes?: Attributes) {
          gauge.set(value, attributes);
          if (attributes?.[NAME] === name) onCarrier(value);
        },
        remove: (attributes?: Attributes) => gauge.remove(attributes),
      };
    },
    histogram(n, o) {
      const histogram = store.histogram(n, o);
      if (n !== 'netlink.event.delay') return histogram;
      return {
        record(value: number, attributes?: Attributes) {
          histogram.record(value, attributes);
          delaysMs.push(value * 1000);
        },
        remove: (attributes?: Attributes) => histogram.remove(attributes),
      };
    },
  };
}

function cpuSeconds(monitorPid: number | undefined): number {
  return ownCpuSeconds() + monitorCpuSeconds(monitorPid);
}

function ownCpuSeconds(): number {
  const own = process.cpuUsage();
  return (own.user + own.system) / 1e6;
}

function monitorCpuSeconds(monitorPid: number | undefined): number {
  return monitorPid === undefined ? 0 : readCpuTicks(monitorPid) / ticksPerSecond();
}

/** Resolves when `changed()` says the carrier took `value`, or after 2 s (then false). */
class CarrierWait {
  private wanted?: { value: number; resolve: (ok: boolean) => void; timer: NodeJS.Timeout };
  seen(value: number): void {
    if (this.wanted && this.wanted.value === value) {
      clearTimeout(this.wanted.timer);
      const { resolve } = this.wanted;
      this.wanted = undefined;
      resolve(true);
    }
  }
  until(value: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.wanted = { value, resolve, timer: setTimeout(() => ((this.wanted = undefined), resolve(false)), 2000) };
    });
  }
}

function vethPair(): { name: string; peer: string; remove(): void } {
  const name = `nlb${process.pid % 100_000}`;
  const peer = `${name}p`;
  execFileSync('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', peer]);
  execFileSync('ip', ['link', 'set', name, 'up']);
  execFileSync('ip', ['link', 'set', peer, 'up']);
  return { name, peer, remove: () => execFileSync('ip', ['link', 'del', name]) };
}

function settingsWith(meter: Meter): ReceiverSettings {
  return { ...benchSettings('netlink'), meter };
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

/** Where the receiver's events come from: its own `ip monitor`, or something attached to it. */
interface EventSource {
  label: string;
  /** The receiver's child: `ip monitor`, or a silent stand-in when events come from elsewhere. */
  command?: readonly string[];
  /** Feeds the receiver; returns how to stop. */
  attach?(receiver: NetlinkReceiver): () => void;
  /** Whether the receiver's child's CPU is part of the source's cost. */
  countChild: boolean;
  /** Why the burst is not run, if it is not. */
  noBurst?: string;
}

interface NativeBinding {
  createRtNetlink(): {
    addMembership(group: string): void;
    on(event: 'message', listener: (parts: Array<{ kind: string; data: { index: number }; attrs?: { ifname?: string } }>) => void): void;
    socket: { close(): void; setRecvBufferSize(bytes: number): void };
  };
}

/** The `netlink` npm binding (native rtnetlink socket), if it can be loaded: not a dependency. */
function nativeBinding(): NativeBinding | string {
  const where = process.env.NETLINK_BINDING ?? 'netlink';
  try {
    return createRequire(import.meta.url)(where) as NativeBinding;
  } catch (error) {
    return `not measured: the netlink binding did not load from ${where} (${(error as Error).message.split('\n')[0]}); npm install --no-save netlink@0.3.0, or NETLINK_BINDING=<its folder>`;
  }
}

function nativeSource(binding: NativeBinding): EventSource {
  return {
    label: 'native socket (netlink 0.3.0)',
    command: ['sleep', '86400'],
    countChild: false,
    noBurst: 'burst not run: an ENOBUFS on the socket (a burst of 300 flaps is enough) ends the process (Napi::Error thrown from the native callback)',
    attach(receiver) {
      const socket = binding.createRtNetlink();
      // The largest buffer unprivileged code may ask for: an overflow ends the process (below).
      socket.socket.setRecvBufferSize(8 * 1024 * 1024);
      socket.addMembership('LINK');
      socket.on('message', (parts) => {
        const receivedMs = performance.timeOrigin + performance.now();
        for (const part of parts) {
          if (part.kind !== 'link' || part.attrs?.ifname === undefined) continue;
          // A flap brings only RTM_NEWLINK; the binding's parsed parts do not say NEW from DEL.
          receiver.handleEvent({ receivedMs, ifindex: part.data.index, name: part.attrs.ifname, deleted: false });
        }
      });
      return () => socket.socket.close();
    },
  };
}

async function eventRows(name: string, peer: string, flaps: number, source: EventSource): Promise<NetlinkRow[]> {
  const store = new MetricStore({ scope: 'netlink' });
  const wait = new CarrierWait();
  const receiverDelays: number[] = [];
  const meter = watchingMeter(store, name, (value) => wait.seen(value), receiverDelays);
  const receiver = new NetlinkReceiver(settingsWith(meter), configSchema.parse({ include: [name], reconcile_interval: '1h' }), {
    command: source.command,
  });
  await receiver.start(new AbortController().signal);
  while (receiver.monitorPid === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
  const detach = source.attach?.(receiver);
  await new Promise((resolve) => setTimeout(resolve, 200)); // Subscribed.
  const childPid = source.countChild ? receiver.monitorPid : undefined;
  const generator = new FlapGenerator(peer);
  const processed = () => store.collect().metrics.find((m) => m.descriptor.name === 'netlink.events.processed')!.dataPoints[0].value as number;
  const flapsMetric = () =>
    store.collect().metrics.find((m) => m.descriptor.name === 'netlink.interface.flaps')!.dataPoints.find((p) => p.attributes[NAME] === name)!.value as number;
  const rows: NetlinkRow[] = [];
  try {
    // Paced.
    const commandDelays: number[] = [];
    let missed = 0;
    const kernelBefore = sysValue(name, 'carrier_down_count');
    const eventsBefore = processed();
    const cpuBefore = cpuSeconds(childPid);
    const monitorCpuBefore = monitorCpuSeconds(childPid);
    for (let i = 0; i < flaps; i++) {
      for (const [state, carrier] of [['down', 0], ['up', 1]] as const) {
        const sent = performance.now();
        const seen = wait.until(carrier);
        generator.set(state);
        if (await seen) commandDelays.push(performance.now() - sent);
        else missed++;
      }
    }
    const cpu = cpuSeconds(childPid) - cpuBefore;
    const monitorCpu = monitorCpuSeconds(childPid) - monitorCpuBefore;
    const events = processed() - eventsBefore;
    const kernel = sysValue(name, 'carrier_down_count') - kernelBefore;
    rows.push({
      source: source.label,
      mode: 'paced',
      flaps,
      events,
      commandP50Ms: percentile(sorted(commandDelays), 50),
      commandP99Ms: percentile(sorted(commandDelays), 99),
      receiverP50Ms: percentile(sorted(receiverDelays), 50),
      receiverP99Ms: percentile(sorted(receiverDelays), 99),
      cpuPer1000Events: (cpu / events) * 1000,
      counted: flapsMetric() - kernelBefore,
      kernel,
      note: `${source.countChild ? `ip monitor ${((monitorCpu / events) * 1000).toFixed(3)} s of it` : 'no child'}${missed > 0 ? `; ${missed} changes not seen within 2 s` : ''}`,
    });

    if (source.noBurst) {
      rows.push({ source: source.label, mode: 'burst', flaps: 0, events: 0, cpuPer1000Events: NaN, note: source.noBurst });
      return rows;
    }
    // Burst.
    receiverDelays.length = 0;
    const burstKernelBefore = sysValue(name, 'carrier_down_count');
    const burstEventsBefore = processed();
    const burstCpuBefore = cpuSeconds(childPid);
    const burstMonitorBefore = monitorCpuSeconds(childPid);
    const overrunsBefore = store.collect().metrics.find((m) => m.descriptor.name === 'netlink.overruns')!.dataPoints[0].value as number;
    generator.burst(flaps);
    const target = burstKernelBefore + flaps;
    const deadline = performance.now() + 120_000;
    while (flapsMetric() < target && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 200)); // Events still in the pipe.
    const burstCpu = cpuSeconds(childPid) - burstCpuBefore;
    const burstEvents = processed() - burstEventsBefore;
    const burstMonitor = monitorCpuSeconds(childPid) - burstMonitorBefore;
    const overruns = (store.collect().metrics.find((m) => m.descriptor.name === 'netlink.overruns')!.dataPoints[0].value as number) - overrunsBefore;
    rows.push({
      source: source.label,
      mode: 'burst',
      flaps,
      events: burstEvents,
      receiverP50Ms: receiverDelays.length ? percentile(sorted(receiverDelays), 50) : undefined,
      receiverP99Ms: receiverDelays.length ? percentile(sorted(receiverDelays), 99) : undefined,
      cpuPer1000Events: burstEvents > 0 ? (burstCpu / burstEvents) * 1000 : NaN,
      counted: flapsMetric() - burstKernelBefore,
      kernel: sysValue(name, 'carrier_down_count') - burstKernelBefore,
      note: `${source.countChild ? `ip monitor ${burstMonitor.toFixed(2)} s; ` : ''}events applied in batches${overruns > 0 ? `; ${overruns} overruns (ENOBUFS), each followed by a full read` : ''}`,
    });
  } finally {
    detach?.();
    await generator.close();
    await receiver.shutdown();
  }
  return rows;
}

/** Reads the interface every `intervalMs`, as a receiver without events would. */
async function pollingRow(name: string, peer: string, flaps: number, intervalMs: number): Promise<NetlinkRow> {
  const sysfs = new SysClassNet();
  const wait = new CarrierWait();
  let reads = 0;
  const timer = setInterval(() => {
    const state = sysfs.read(name);
    reads++;
    if (state) wait.seen(state.carrier);
  }, intervalMs);
  const generator = new FlapGenerator(peer);
  const delays: number[] = [];
  let missed = 0;
  try {
    const kernelBefore = sysValue(name, 'carrier_down_count');
    const cpuBefore = cpuSeconds(undefined);
    for (let i = 0; i < flaps; i++) {
      for (const [state, carrier] of [['down', 0], ['up', 1]] as const) {
        const sent = performance.now();
        const seen = wait.until(carrier);
        generator.set(state);
        if (await seen) delays.push(performance.now() - sent);
        else missed++;
      }
    }
    const cpu = cpuSeconds(undefined) - cpuBefore;
    return {
      source: `poll /sys every ${intervalMs} ms`,
      mode: 'paced',
      flaps,
      events: flaps * 2,
      commandP50Ms: percentile(sorted(delays), 50),
      commandP99Ms: percentile(sorted(delays), 99),
      cpuPer1000Events: (cpu / (flaps * 2)) * 1000,
      kernel: sysValue(name, 'carrier_down_count') - kernelBefore,
      note: `${reads} reads${missed ? `; ${missed} changes not seen within 2 s` : ''}; a flap shorter than the interval is seen only in the counters`,
    };
  } finally {
    clearInterval(timer);
    await generator.close();
  }
}

export async function runNetlinkBench(options: NetlinkOptions = {}): Promise<NetlinkRow[]> {
  const flaps = options.flaps ?? 10_000;
  const pair = vethPair();
  try {
    const rows = await eventRows(pair.name, pair.peer, flaps, { label: 'ip monitor (receiver)', countChild: true });
    const binding = nativeBinding();
    if (typeof binding === 'string') rows.push({ source: 'native socket', mode: 'paced', flaps: 0, events: 0, cpuPer1000Events: NaN, note: binding });
    else rows.push(...(await eventRows(pair.name, pair.peer, flaps, nativeSource(binding))));
    rows.push(await pollingRow(pair.name, pair.peer, options.pollFlaps ?? Math.min(flaps, 1000), options.pollIntervalMs ?? 10));
    return rows;
  } finally {
    pair.remove();
  }
}

export function formatNetlinkTable(rows: NetlinkRow[]): string {
  const ms = (value: number | undefined) => (value === undefined ? '' : value.toFixed(value < 10 ? 2 : 1));
  return formatTable(
    'Netlink: link events to metrics on a veth pair; delay p50 / p99 in ms, CPU (this process + ip monitor) per 1,000 events',
    ['source', 'mode', 'flaps', 'events', 'command->metric p50 / p99', 'ip->metric p50 / p99', 'CPU s / 1000 events', 'flaps counted / kernel', 'note'],
    rows.map((row) => [
      row.source,
      row.mode,
      row.flaps,
      row.events,
      row.commandP50Ms === undefined ? '' : `${ms(row.commandP50Ms)} / ${ms(row.commandP99Ms)}`,
      row.receiverP50Ms === undefined ? '' : `${ms(row.receiverP50Ms)} / ${ms(row.receiverP99Ms)}`,
      Number.isNaN(row.cpuPer1000Events) ? '' : row.cpuPer1000Events.toFixed(3),
      row.kernel === undefined ? '' : row.counted === undefined ? `- / ${row.kernel}` : `${row.counted} / ${row.kernel}`,
      row.note ?? '',
    ]),
  );
}
