import { describe, expect, it } from 'vitest';
import { parseMonitorLine } from '../../../../src/receivers/netlink/parse.js';

describe('parseMonitorLine', () => {
  it('reads time, ifindex and name of a changed link, without its @peer part', () => {
    const line =
      '[2026-12-03T10:27:25.790052] 42: eth0@nlt0p: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 qdisc noqueue state LOWERLAYERDOWN group default \\    link/ether 2e:03:68:ec:da:f7 brd ff:ff:ff:ff:ff:ff';
    const event = parseMonitorLine(line)!;
    expect(event).toMatchObject({ ifindex: 42, name: 'eth0', deleted: false });
    expect(event.receivedMs).toBeCloseTo(Date.UTC(2026, 11, 3, 10, 27, 25) + 790.052, 3);
  });

  it('marks a deleted link (or one moved to another namespace) as deleted', () => {
    const line =
      '[2026-12-03T10:27:26.062267] Deleted 41: swp1@if7: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether 96:6a:e9:d6:1d:39 brd ff:ff:ff:ff:ff:ff new-netnsid 0 new-ifindex 41';
    expect(parseMonitorLine(line)).toMatchObject({ ifindex: 41, name: 'swp1', deleted: true });
  });

  it('keeps a name without a peer as it is', () => {
    expect(parseMonitorLine('[2026-12-03T10:00:00.000001] 1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536')).toMatchObject({ ifindex: 1, name: 'lo' });
  });

  it.each([
    ['no timestamp', '42: eth0: <UP> mtu 1500'],
    ['an address message', '[2026-12-03T10:00:00.000001] 2: eth0    inet 10.0.0.1/24 scope global eth0'],
    ['garbage', 'Timestamp: nonsense'],
    ['an empty line', ''],
  ])('refuses %s', (_what, line) => {
    expect(parseMonitorLine(line)).toBeUndefined();
  });
});
