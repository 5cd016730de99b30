// The netlink receiver on the real kernel: veth pairs made here (in the test's own network
// namespace, under names no other process uses, so only they are included), flapped, renamed,
// moved to another namespace and deleted under a running receiver, and its `ip monitor`
// child killed. Each count is compared with what the kernel says in /sys/class/net.
import { afterEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/receivers/netlink/config.js';
import { NetlinkReceiver } from '../../src/receivers/netlink/receiver.js';
import { eventually } from '../support/eventually.js';
import { points, valueOf } from '../support/metric-sink.js';
import { ip, ipBatch, namespace, removeAll, sysValue, track, uniqueName, vethPair } from '../support/netns.js';
import { testSettings } from '../support/settings.js';

const NAME = 'network.interface.name';
const running: NetlinkReceiver[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.shutdown()));
  removeAll();
});

function receiver(config: Record<string, unknown>) {
  const settings = testSettings('netlink');
  const r = new NetlinkReceiver(settings, configSchema.parse(config));
  running.push(r);
  return { receiver: r, meter: settings.meter, settings };
}

async function connected(meter: ReturnType<typeof receiver>['meter']): Promise<void> {
  await eventually(() => expect(valueOf(meter, 'netlink.connected')).toBe(1));
}

describe('netlink receiver on real veth pairs', () => {
  it('counts exactly the kernel carrier_down_count delta over 500 flaps in a burst, with no periodic reconcile nor collect', async () => {
    const { name, peer } = vethPair();
    // No periodic reconcile and no collect during the burst: what the metric shows comes from the
    // events, and from the full read after an overrun (the burst blocks this process, so the
    // kernel may drop events for the monitor: netlink.overruns).
    const { receiver: r, meter } = receiver({ include: [name], reconcile_interval: '1h' });
    await r.start(new AbortController().signal);
    await connected(meter);
    await eventually(() => expect(valueOf(meter, 'netlink.interface.flaps', { [NAME]: name })).toBe(sysValue(name, 'carrier_down_count')));
    const before = sysValue(name, 'carrier_down_count');
    const processedBefore = valueOf(meter, 'netlink.events.processed')!;

    const commands: string[] = [];
    for (let i = 0; i < 500; i++) commands.push(`link set ${peer} down`, `link set ${peer} up`);
    ipBatch(commands);

    const after = sysValue(name, 'carrier_down_count');
    expect(after - before).toBe(500);
    await eventually(() => expect(valueOf(meter, 'netlink.interface.flaps', { [NAME]: name })).toBe(after));
    await eventually(() => expect(valueOf(meter, 'netlink.interface.carrier', { [NAME]: name })).toBe(1));
    expect(valueOf(meter, 'netlink.interface.carrier.changes', { [NAME]: name })).toBe(sysValue(name, 'carrier_changes'));
    expect(valueOf(meter, 'netlink.interface.oper_status', { [NAME]: name })).toBe(1);
    expect(valueOf(meter, 'netlink.interface.admin_status', { [NAME]: name })).toBe(1);
    expect(valueOf(meter, 'netlink.interface.mtu', { [NAME]: name })).toBe(sysValue(name, 'mtu'));
    expect(valueOf(meter, 'netlink.interface.speed', { [NAME]: name })).toBe(sysValue(name, 'speed') * 1e6);

    // Each event is counted once by type, once as processed, and once in the delay histogram.
    const processed = valueOf(meter, 'netlink.events.processed')!;
    expect(processed - processedBefore).toBeGreaterThanOrEqual(1);
    expect(valueOf(meter, 'netlink.events', { 'netlink.event.type': 'changed' })).toBe(processed);
    const delay = points<{ count: number }>(meter, 'netlink.event.delay')[0].value;
    expect(delay.count).toBe(processed);
    expect(valueOf(meter, 'netlink.events.failed')).toBe(0);

    // A full read agrees with what the events left.
    await r.collect(new AbortController().signal);
    expect(valueOf(meter, 'netlink.interface.flaps', { [NAME]: name })).toBe(after);
  });

  it('shows state and counters as the kernel has them, for an interface down and with traffic', async () => {
    const { name, peer } = vethPair();
    const { receiver: r, meter } = receiver({ include: [name] });
    await r.start(new AbortController().signal);
    ip('link', 'set', peer, 'mtu', '1400');
    ip('link', 'set', name, 'down');
    await eventually(() => expect(valueOf(meter, 'netlink.interface.admin_status', { [NAME]: name })).toBe(2));
    expect(valueOf(meter, 'netlink.interface.oper_status', { [NAME]: name })).toBe(2);
    expect(valueOf(meter, 'netlink.interface.carrier', { [NAME]: name })).toBe(0);
    ip('link', 'set', name, 'up');
    await eventually(() => expect(valueOf(meter, 'netlink.interface.oper_status', { [NAME]: name })).toBe(1));
    // IPv6 router solicitations and the like move the counters; a collection reads them.
    await r.collect(new AbortController().signal);
    for (const [file, direction] of [['tx_packets', 'transmit'], ['rx_packets', 'receive']] as const) {
      const kernel = sysValue(name, `statistics/${file}`);
      const reported = valueOf(meter, 'system.network.packet.count', { [NAME]: name, 'network.io.direction': direction })!;
      expect(reported).toBeLessThanOrEqual(kernel);
      expect(reported).toBeGreaterThanOrEqual(0);
    }
    expect(valueOf(meter, 'system.network.io', { [NAME]: name, 'network.io.direction': 'transmit' })).toBeDefined();
  });

  it('follows an interface created, renamed, moved to another namespace and deleted under it', async () => {
    const prefix = uniqueName('nq');
    const { receiver: r, meter } = receiver({ include: [`${prefix}*`], reconcile_interval: '1h' });
    await r.start(new AbortController().signal);
    await connected(meter);
    const names = () => points(meter, 'netlink.interface.oper_status').map((p) => p.attributes[NAME]).filter((n) => String(n).startsWith(prefix)).sort();

    const { name, peer } = vethPair(`${prefix}a`, `${prefix}b`);
    await eventually(() => expect(names()).toEqual([name, peer]));
    expect(valueOf(meter, 'netlink.events', { 'netlink.event.type': 'new' })).toBeGreaterThanOrEqual(2);
    ipBatch([`link set ${peer} down`, `link set ${peer} up`]);
    await eventually(() => expect(valueOf(meter, 'netlink.interface.flaps', { [NAME]: name })).toBe(sysValue(name, 'carrier_down_count')));
    const flaps = sysValue(name, 'carrier_down_count');

    // Renamed: the same interface (ifindex) under its new name, counters kept.
    const renamed = `${prefix}c`;
    track(renamed);
    ip('link', 'set', name, 'name', renamed);
    await eventually(() => expect(names()).toEqual([peer, renamed]));
    expect(valueOf(meter, 'netlink.interface.flaps', { [NAME]: renamed })).toBe(flaps);

    // Moved to another namespace: gone from this one.
    const ns = namespace();
    ip('link', 'set', peer, 'netns', ns);
    await eventually(() => expect(names()).toEqual([renamed]));
    expect(valueOf(meter, 'netlink.events', { 'netlink.event.type': 'deleted' })).toBeGreaterThanOrEqual(1);

    // Deleted (its peer, in the other namespace, goes with it).
    ip('link', 'del', renamed);
    await eventually(() => expect(names()).toEqual([]));
    await r.collect(new AbortController().signal);
    expect(names()).toEqual([]);
    expect(valueOf(meter, 'netlink.events.failed')).toBe(0);
  });

  it('reports the event source killed, restarts it, and catches up on the flaps it missed', async () => {
    const { name, peer } = vethPair();
    // A long first wait, so the flaps below happen while no monitor runs.
    const { receiver: r, meter, settings } = receiver({
      include: [name],
      reconcile_interval: '1h',
      restart_backoff: { initial_interval: '1500ms', max_interval: '3s' },
    });
    await r.start(new AbortController().signal);
    await connected(meter);
    const first = r.monitorPid!;
    process.kill(first, 'SIGKILL');
    await eventually(() => expect(valueOf(meter, 'netlink.connected')).toBe(0));
    const down = settings.statuses.at(-1)!;
    expect(down.status).toBe('degraded');
    expect(down.reason).toMatch(/link event source down: ip -o -ts monitor link exited on SIGKILL; restarting in 1500ms/);

    const before = sysValue(name, 'carrier_down_count');
    ipBatch(['down', 'up', 'down', 'up', 'down', 'up'].map((state) => `link set ${peer} ${state}`));
    expect(sysValue(name, 'carrier_down_count')).toBe(before + 3);

    await connected(meter);
    expect(r.monitorPid).not.toBe(first);
    expect(settings.statuses.at(-1)).toEqual({ status: 'ok', reason: undefined });
    // The reconcile on return read the counters the missed events would have moved.
    await eventually(() => expect(valueOf(meter, 'netlink.interface.flaps', { [NAME]: name })).toBe(before + 3));
  });

  it('without ip on the PATH: degraded with why, connected 0, and every interface still read from /sys at each collection', async () => {
    const { name, peer } = vethPair();
    const settings = testSettings('netlink');
    const r = new NetlinkReceiver(settings, configSchema.parse({ include: [name] }), { command: ['/nonexistent/ip', 'monitor', 'link'] });
    running.push(r);
    await r.start(new AbortController().signal);
    await eventually(() =>
      expect(settings.statuses.at(-1)).toEqual({
        status: 'degraded',
        reason: expect.stringMatching(/^link event source down: \/nonexistent\/ip monitor link could not run: spawn \/nonexistent\/ip ENOENT; restarting in 500ms/),
      }),
    );
    ipBatch([`link set ${peer} down`, `link set ${peer} up`]);
    await r.collect(new AbortController().signal);
    expect(valueOf(settings.meter, 'netlink.connected')).toBe(0);
    expect(valueOf(settings.meter, 'netlink.interface.flaps', { [NAME]: name })).toBe(sysValue(name, 'carrier_down_count'));
    expect(settings.statuses.at(-1)?.status).toBe('degraded');
  });
});
