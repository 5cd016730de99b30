// The hostmetrics receiver on this machine's real /proc and /sys, checked against what the
// test reads itself, before and after each scrape: a counter must fall between the two.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statfsSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/receivers/hostmetrics/config.js';
import { HostmetricsReceiver } from '../../src/receivers/hostmetrics/receiver.js';
import { attributeValues, points, valueOf } from '../support/metric-sink.js';
import { testSettings } from '../support/settings.js';

function receiver(config: Record<string, unknown> = {}) {
  const settings = testSettings();
  return { receiver: new HostmetricsReceiver(settings, configSchema.parse(config)), meter: settings.meter };
}

const read = (file: string) => readFileSync(file, 'utf8');

/** Ticks per mode of one /proc/stat line, read independently of the receiver's parser. */
function ticksOf(cpuLine: string): Record<string, number> {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = cpuLine.trim().split(/\s+/).slice(1).map(Number);
  return { user, nice, system, idle, iowait, interrupt: irq + softirq, steal };
}

function cpuLines(): Map<number, string> {
  const lines = new Map<number, string>();
  for (const line of read('/proc/stat').split('\n')) {
    const match = /^cpu(\d+) /.exec(line);
    if (match) lines.set(Number(match[1]), line);
  }
  return lines;
}

/** Receive bytes of one interface in /proc/net/dev. */
function receivedBytes(name: string): number {
  const line = read('/proc/net/dev').split('\n').find((l) => l.trim().startsWith(`${name}:`));
  if (line === undefined) throw new Error(`${name} is not in /proc/net/dev`);
  return Number(line.slice(line.indexOf(':') + 1).trim().split(/\s+/)[0]);
}

describe('hostmetrics on this machine', () => {
  it('reports CPU time per CPU and mode between the ticks read just before and just after', async () => {
    const { receiver: r, meter } = receiver({ scrapers: ['cpu'] });
    const before = cpuLines();
    await r.scrape();
    const after = cpuLines();
    expect(valueOf(meter, 'system.cpu.logical.count')).toBe(after.size);
    for (const [cpu, line] of after) {
      const low = ticksOf(before.get(cpu)!);
      const high = ticksOf(line);
      for (const mode of Object.keys(high)) {
        const seconds = valueOf(meter, 'system.cpu.time', { 'cpu.logical_number': cpu, 'cpu.mode': mode })!;
        // One tick of slack below: iowait may step back a tick between two reads.
        expect(seconds * 100).toBeGreaterThanOrEqual(low[mode] - 1);
        expect(seconds * 100).toBeLessThanOrEqual(high[mode] + 1e-6);
      }
    }
    // Keep a CPU busy for a few ticks, then check every CPU's utilisation sums to 1.
    const until = Date.now() + 100;
    while (Date.now() < until);
    await r.scrape();
    for (const cpu of after.keys()) {
      const shares = points(meter, 'system.cpu.utilization').filter((p) => p.attributes['cpu.logical_number'] === cpu);
      if (shares.length === 0) continue; // no tick elapsed on this CPU
      expect(shares).toHaveLength(7);
      expect(shares.reduce((sum, p) => sum + p.value, 0)).toBeCloseTo(1, 9);
    }
    expect(attributeValues(meter, 'system.cpu.utilization', 'cpu.logical_number').length).toBeGreaterThan(0);
  });

  it('reports MemTotal exactly, and used + available = total', async () => {
    const { receiver: r, meter } = receiver({ scrapers: ['memory'] });
    await r.scrape();
    const memTotal = Number(/^MemTotal:\s+(\d+) kB$/m.exec(read('/proc/meminfo'))![1]) * 1024;
    expect(valueOf(meter, 'system.memory.limit')).toBe(memTotal);
    const used = valueOf(meter, 'system.memory.usage', { 'system.memory.state': 'used' })!;
    expect(used + valueOf(meter, 'system.memory.linux.available')!).toBe(memTotal);
    expect(valueOf(meter, 'system.memory.utilization', { 'system.memory.state': 'used' })).toBeCloseTo(used / memTotal, 12);
  });

  it('reports the load average as read just before or just after, and uptime between the two', async () => {
    const { receiver: r, meter } = receiver({ scrapers: ['load', 'system'] });
    const loadBefore = read('/proc/loadavg').split(' ').slice(0, 3).map(Number);
    const uptimeBefore = Number(read('/proc/uptime').split(' ')[0]);
    await r.scrape();
    const loadAfter = read('/proc/loadavg').split(' ').slice(0, 3).map(Number);
    const uptimeAfter = Number(read('/proc/uptime').split(' ')[0]);
    const ours = ['1m', '5m', '15m'].map((window) => valueOf(meter, `system.cpu.load_average.${window}`));
    expect([loadBefore, loadAfter]).toContainEqual(ours);
    const uptime = valueOf(meter, 'system.uptime')!;
    expect(uptime).toBeGreaterThanOrEqual(uptimeBefore);
    expect(uptime).toBeLessThanOrEqual(uptimeAfter);
  });

  it('reports the bytes that the test sends over loopback on lo', async () => {
    const { receiver: r, meter } = receiver({ scrapers: ['network'] });
    const lo = { 'network.interface.name': 'lo', 'network.io.direction': 'receive' };
    await r.scrape();
    const first = valueOf(meter, 'system.network.io', lo)!;

    const payload = Buffer.alloc(1024 * 1024, 7);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const received = new Promise<number>((resolve) => {
      server.on('connection', (socket) => {
        let total = 0;
        socket.on('data', (chunk) => (total += chunk.length));
        socket.on('end', () => resolve(total));
      });
    });
    const { port } = server.address() as net.AddressInfo;
    const client = net.connect(port, '127.0.0.1', () => client.end(payload));
    expect(await received).toBe(payload.length);
    server.close();

    const low = receivedBytes('lo');
    await r.scrape();
    const high = receivedBytes('lo');
    const second = valueOf(meter, 'system.network.io', lo)!;
    expect(second).toBeGreaterThanOrEqual(low);
    expect(second).toBeLessThanOrEqual(high);
    expect(second - first).toBeGreaterThanOrEqual(payload.length);
    expect(valueOf(meter, 'system.network.packet.count', lo)).toBeGreaterThan(0);
  });

  it('reports the size of / as statfs gives it, and only mount points that exist', async () => {
    const { receiver: r, meter } = receiver({ scrapers: ['filesystem'] });
    const result = await r.scrape();
    expect(result.failed.size).toBe(0);
    const root = statfsSync('/');
    expect(valueOf(meter, 'system.filesystem.limit', { 'system.filesystem.mountpoint': '/' })).toBe(root.blocks * root.bsize);
    const mountPoints = new Set(read('/proc/self/mountinfo').split('\n').filter(Boolean).map((line) => line.split(' ')[4].replace(/\\040/g, ' ')));
    for (const mountPoint of attributeValues(meter, 'system.filesystem.limit', 'system.filesystem.mountpoint')) {
      expect(mountPoints).toContain(mountPoint);
    }
    expect(attributeValues(meter, 'system.filesystem.limit', 'system.filesystem.type')).not.toContain('proc');
  });

  it('reports each whole disk of /sys/block with read bytes between two reads of /proc/diskstats', async () => {
    const { receiver: r, meter } = receiver({ scrapers: ['disk'] });
    const sectors = () =>
      new Map(read('/proc/diskstats').split('\n').filter(Boolean).map((line) => {
        const fields = line.trim().split(/\s+/);
        return [fields[2], Number(fields[5])] as const;
      }));
    const before = sectors();
    await r.scrape();
    const after = sectors();
    const expected = readdirSync('/sys/block').filter((name) => after.has(name) && !/^(loop|ram|fd)\d+$/.test(name)).sort();
    expect(attributeValues(meter, 'system.disk.io', 'system.device')).toEqual(expected);
    for (const device of expected) {
      const bytes = valueOf(meter, 'system.disk.io', { 'system.device': device, 'disk.io.direction': 'read' })!;
      expect(bytes).toBeGreaterThanOrEqual(before.get(device)! * 512);
      expect(bytes).toBeLessThanOrEqual(after.get(device)! * 512);
    }
  });

  it('counts processes near the number of /proc/<pid> entries, and forks between two reads', async () => {
    const { receiver: r, meter } = receiver({ scrapers: ['processes'] });
    const created = () => Number(/^processes (\d+)$/m.exec(read('/proc/stat'))![1]);
    const forksBefore = created();
    await r.scrape();
    const forksAfter = created();
    const pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name)).length;
    const total = points(meter, 'system.process.count').reduce((sum, p) => sum + p.value, 0);
    // Other tests start and end processes meanwhile; threads would count many times more.
    expect(Math.abs(total - pids)).toBeLessThanOrEqual(20);
    expect(valueOf(meter, 'system.process.count', { 'process.state': 'running' })).toBeGreaterThanOrEqual(1);
    const forks = valueOf(meter, 'system.process.created')!;
    expect(forks).toBeGreaterThanOrEqual(forksBefore);
    expect(forks).toBeLessThanOrEqual(forksAfter);
  });
});

describe('hostmetrics and interfaces that come and go', () => {
  const suffix = String(process.pid % 100000);
  const namespace = `hm-test-${suffix}`;
  const moved = `hmm${suffix}`;
  const deleted = `hmd${suffix}`;

  function ip(...args: string[]): void {
    execFileSync('ip', args, { stdio: 'pipe' });
  }

  beforeAll(() => {
    try {
      execFileSync('ip', ['-V'], { stdio: 'pipe' });
    } catch {
      throw new Error('the `ip` command is missing: apt-get install iproute2');
    }
    ip('netns', 'add', namespace);
  });

  afterAll(() => {
    for (const name of [moved, deleted]) {
      try {
        ip('link', 'del', name);
      } catch {
        // already gone, as the test intends
      }
    }
    ip('netns', 'del', namespace);
  });

  it('reports a veth when it appears, and drops it within one scrape when moved to another namespace or deleted', async () => {
    const { receiver: r, meter } = receiver({ scrapers: ['network'] });
    const interfaces = () => attributeValues(meter, 'system.network.io', 'network.interface.name');
    ip('link', 'add', moved, 'type', 'veth', 'peer', 'name', `${moved}p`, 'netns', namespace);
    ip('link', 'add', deleted, 'type', 'veth', 'peer', 'name', `${deleted}p`);
    await r.scrape();
    expect(interfaces()).toEqual(expect.arrayContaining([moved, deleted, `${deleted}p`, 'lo']));
    // The peer created inside the namespace is not on this host's interface list.
    expect(interfaces()).not.toContain(`${moved}p`);
    expect(valueOf(meter, 'system.network.io', { 'network.interface.name': moved, 'network.io.direction': 'transmit' })).toBe(0);

    ip('link', 'set', moved, 'netns', namespace);
    ip('link', 'del', deleted);
    await r.scrape();
    for (const name of ['system.network.io', 'system.network.packet.count', 'system.network.errors', 'system.network.packet.dropped']) {
      const left = attributeValues(meter, name, 'network.interface.name');
      expect(left).not.toContain(moved);
      expect(left).not.toContain(deleted);
      expect(left).not.toContain(`${deleted}p`);
      expect(left).toContain('lo');
    }
  });
});
