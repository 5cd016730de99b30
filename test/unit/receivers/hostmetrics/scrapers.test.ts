// Every scraper run on a captured host tree (root_path pointed at testdata/host), with
// statfs answered from a table, since the captured mounts do not exist here.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricStore } from '../../../../src/metrics/store.js';
import { configSchema } from '../../../../src/receivers/hostmetrics/config.js';
import { createFilesystemScraper } from '../../../../src/receivers/hostmetrics/filesystem.js';
import { HostFs, type FsStats } from '../../../../src/receivers/hostmetrics/hostfs.js';
import { HostmetricsReceiver } from '../../../../src/receivers/hostmetrics/receiver.js';
import { attributeValues, points, valueOf } from '../../../support/metric-sink.js';
import { testSettings } from '../../../support/settings.js';

const CAPTURED_HOST = fileURLToPath(new URL('./testdata/host', import.meta.url));
const KiB = 1024;

/** statfs answers per mount point, as the host names it. */
const FILESYSTEMS: Record<string, FsStats> = {
  '/': { bsize: 4096, blocks: 1_000_000, bfree: 400_000, bavail: 350_000, files: 65_536, ffree: 60_000 },
  '/run': { bsize: 4096, blocks: 1000, bfree: 900, bavail: 900, files: 5000, ffree: 4000 },
  '/dev/shm': { bsize: 4096, blocks: 16384, bfree: 16384, bavail: 16384, files: 8000, ffree: 7999 },
  '/boot/efi': { bsize: 512, blocks: 1_000_000, bfree: 990_000, bavail: 990_000, files: 0, ffree: 0 },
  '/srv/backup disk': { bsize: 4096, blocks: 2_000_000, bfree: 100_000, bavail: 100_000, files: 1_000_000, ffree: 900_000 },
  '/mnt/archive': { bsize: 1_048_576, blocks: 10_000, bfree: 2_000, bavail: 2_000, files: 100, ffree: 50 },
};

function tableStatfs(root: string, table: Record<string, FsStats | Error | 'hang'> = FILESYSTEMS) {
  return (resolved: string): Promise<FsStats> => {
    const entry = table[`/${path.relative(root, resolved)}`.replace(/^\/$/, '/')];
    if (entry === undefined) return Promise.reject(Object.assign(new Error('no such mount'), { code: 'ENOENT' }));
    if (entry === 'hang') return new Promise(() => {});
    return entry instanceof Error ? Promise.reject(entry) : Promise.resolve(entry);
  };
}

function receiverOn(root: string, config: Record<string, unknown> = {}) {
  const settings = testSettings();
  const parsed = configSchema.parse({ root_path: root, ...config });
  const receiver = new HostmetricsReceiver(settings, parsed, new HostFs(root, tableStatfs(root)));
  return { receiver, meter: settings.meter, settings };
}

const copies: string[] = [];
/** A writable copy of the captured host, to change between two scrapes. */
function copyOfHost(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'hostmetrics-'));
  cpSync(CAPTURED_HOST, root, { recursive: true });
  copies.push(root);
  return root;
}
afterEach(() => {
  for (const root of copies.splice(0)) rmSync(root, { recursive: true, force: true });
});

function edit(root: string, file: string, change: (text: string) => string): void {
  const target = path.join(root, file);
  writeFileSync(target, change(readFileSync(target, 'utf8')));
}

describe('cpu scraper', () => {
  it('reports seconds per mode and logical CPU, interrupts hard and soft together', async () => {
    const { receiver, meter } = receiverOn(CAPTURED_HOST, { scrapers: ['cpu'] });
    await receiver.scrape();
    expect(valueOf(meter, 'system.cpu.time', { 'cpu.logical_number': 0, 'cpu.mode': 'user' })).toBe(5602.01);
    expect(valueOf(meter, 'system.cpu.time', { 'cpu.logical_number': 0, 'cpu.mode': 'interrupt' })).toBe(51.2);
    expect(valueOf(meter, 'system.cpu.time', { 'cpu.logical_number': 3, 'cpu.mode': 'steal' })).toBe(7.98);
    expect(points(meter, 'system.cpu.time')).toHaveLength(4 * 7);
    expect(attributeValues(meter, 'system.cpu.time', 'cpu.mode')).toEqual(['idle', 'interrupt', 'iowait', 'nice', 'steal', 'system', 'user']);
    expect(valueOf(meter, 'system.cpu.logical.count')).toBe(4);
    // Utilisation needs two scrapes of the receiver's own.
    expect(points(meter, 'system.cpu.utilization')).toHaveLength(0);
  });

  it('computes utilisation from the ticks between two scrapes, the modes summing to 1', async () => {
    const root = copyOfHost();
    const { receiver, meter } = receiverOn(root, { scrapers: ['cpu'] });
    await receiver.scrape();
    // cpu1: +60 user, +20 system, +100 idle, +20 softirq = 200 ticks.
    edit(root, 'proc/stat', (text) => text.replace('cpu1 571103 372 201788 11519022 7240 0 2401', 'cpu1 571163 372 201808 11519122 7240 0 2421'));
    await receiver.scrape();
    const share = (mode: string) => valueOf(meter, 'system.cpu.utilization', { 'cpu.logical_number': 1, 'cpu.mode': mode });
    expect([share('user'), share('system'), share('idle'), share('interrupt'), share('iowait')]).toEqual([0.3, 0.1, 0.5, 0.1, 0]);
    // Only cpu1 has ticks between the two scrapes, so only it has a utilisation yet.
    expect(attributeValues(meter, 'system.cpu.utilization', 'cpu.logical_number')).toEqual([1]);
    // A scrape within the same tick keeps the last utilisation rather than losing the series.
    await receiver.scrape();
    expect([share('user'), share('system'), share('idle'), share('interrupt'), share('iowait')]).toEqual([0.3, 0.1, 0.5, 0.1, 0]);
  });

  it('never lets cumulative time go back when iowait steps back a tick', async () => {
    const root = copyOfHost();
    const { receiver, meter } = receiverOn(root, { scrapers: ['cpu'] });
    await receiver.scrape();
    edit(root, 'proc/stat', (text) => text.replace('cpu0 560201 410 204012 11520340 8012', 'cpu0 560301 410 204012 11520440 8011'));
    await receiver.scrape();
    expect(valueOf(meter, 'system.cpu.time', { 'cpu.logical_number': 0, 'cpu.mode': 'iowait' })).toBe(80.12);
    expect(valueOf(meter, 'system.cpu.utilization', { 'cpu.logical_number': 0, 'cpu.mode': 'iowait' })).toBe(0);
    expect(valueOf(meter, 'system.cpu.utilization', { 'cpu.logical_number': 0, 'cpu.mode': 'user' })).toBe(0.5);
  });

  it('drops the series of a CPU taken offline', async () => {
    const root = copyOfHost();
    const { receiver, meter } = receiverOn(root, { scrapers: ['cpu'] });
    await receiver.scrape();
    edit(root, 'proc/stat', (text) => text.replace(/^cpu3 .*\n/m, ''));
    await receiver.scrape();
    expect(attributeValues(meter, 'system.cpu.time', 'cpu.logical_number')).toEqual([0, 1, 2]);
    expect(valueOf(meter, 'system.cpu.logical.count')).toBe(3);
  });

  it('reports one series per mode for the host with breakdown: total', async () => {
    const { receiver, meter } = receiverOn(CAPTURED_HOST, { scrapers: ['cpu'], cpu: { breakdown: 'total' } });
    await receiver.scrape();
    expect(points(meter, 'system.cpu.time')).toHaveLength(7);
    expect(valueOf(meter, 'system.cpu.time', { 'cpu.mode': 'idle' })).toBe(460851.31);
    expect(attributeValues(meter, 'system.cpu.time', 'cpu.logical_number')).toEqual([undefined]);
  });
});

describe('memory scraper', () => {
  it('reports used as MemTotal - MemAvailable, the other states, their shares, slab and swap', async () => {
    const { receiver, meter } = receiverOn(CAPTURED_HOST, { scrapers: ['memory'] });
    await receiver.scrape();
    const total = 65765720 * KiB;
    const usage = (state: string) => valueOf(meter, 'system.memory.usage', { 'system.memory.state': state });
    expect(usage('used')).toBe((65765720 - 41023344) * KiB);
    expect(usage('free')).toBe(3210456 * KiB);
    expect(usage('buffers')).toBe(812344 * KiB);
    expect(usage('cached')).toBe(35120112 * KiB);
    expect(valueOf(meter, 'system.memory.utilization', { 'system.memory.state': 'used' })).toBeCloseTo(usage('used')! / total, 12);
    expect(valueOf(meter, 'system.memory.limit')).toBe(total);
    expect(valueOf(meter, 'system.memory.linux.available')).toBe(41023344 * KiB);
    expect(valueOf(meter, 'system.memory.linux.shared')).toBe(912340 * KiB);
    expect(valueOf(meter, 'system.memory.linux.slab.usage', { 'system.memory.linux.slab.state': 'unreclaimable' })).toBe(711222 * KiB);
    expect(valueOf(meter, 'system.paging.usage', { 'system.paging.state': 'used' })).toBe((8388604 - 8123456) * KiB);
    expect(valueOf(meter, 'system.paging.utilization', { 'system.paging.state': 'free' })).toBeCloseTo(8123456 / 8388604, 12);
  });

  it('estimates used memory on kernels without MemAvailable', async () => {
    const root = copyOfHost();
    edit(root, 'proc/meminfo', (text) => text.replace(/^MemAvailable:.*\n/m, ''));
    const { receiver, meter } = receiverOn(root, { scrapers: ['memory'] });
    await receiver.scrape();
    expect(valueOf(meter, 'system.memory.usage', { 'system.memory.state': 'used' })).toBe(
      (65765720 - 3210456 - 812344 - 35120112 - 2301234) * KiB,
    );
  });
});

describe('load and system scrapers', () => {
  it('report the load averages and the uptime', async () => {
    const { receiver, meter } = receiverOn(CAPTURED_HOST, { scrapers: ['load', 'system'] });
    await receiver.scrape();
    expect(valueOf(meter, 'system.cpu.load_average.1m')).toBe(1.42);
    expect(valueOf(meter, 'system.cpu.load_average.5m')).toBe(0.98);
    expect(valueOf(meter, 'system.cpu.load_average.15m')).toBe(0.77);
    expect(valueOf(meter, 'system.uptime')).toBe(1209383.52);
  });
});

describe('filesystem scraper', () => {
  it('reports the filesystems that hold data: pseudo ones, container layers and images left out', async () => {
    const { receiver, meter } = receiverOn(CAPTURED_HOST, { scrapers: ['filesystem'] });
    const result = await receiver.scrape();
    expect(result.problems).toEqual([]);
    expect(attributeValues(meter, 'system.filesystem.limit', 'system.filesystem.mountpoint')).toEqual([
      '/',
      '/boot/efi',
      '/dev/shm',
      '/mnt/archive',
      '/run',
      '/srv/backup disk',
    ]);
  });

  it('splits space into used, free and reserved, with df-style utilisation', async () => {
    const { receiver, meter } = receiverOn(CAPTURED_HOST, { scrapers: ['filesystem'] });
    await receiver.scrape();
    const root = {
      'system.device': '/dev/mapper/vg0-root',
      'system.filesystem.mountpoint': '/',
      'system.filesystem.type': 'ext4',
      'system.filesystem.mode': 'rw',
    };
    expect(valueOf(meter, 'system.filesystem.usage', { ...root, 'system.filesystem.state': 'used' })).toBe(600_000 * 4096);
    expect(valueOf(meter, 'system.filesystem.usage', { ...root, 'system.filesystem.state': 'free' })).toBe(350_000 * 4096);
    expect(valueOf(meter, 'system.filesystem.usage', { ...root, 'system.filesystem.state': 'reserved' })).toBe(50_000 * 4096);
    expect(valueOf(meter, 'system.filesystem.limit', root)).toBe(1_000_000 * 4096);
    expect(valueOf(meter, 'system.filesystem.utilization', root)).toBeCloseTo(600_000 / 950_000, 12);
    expect(valueOf(meter, 'system.filesystem.inodes.usage', { ...root, 'system.filesystem.state': 'used' })).toBe(5536);
    expect(valueOf(meter, 'system.filesystem.limit', { 'system.filesystem.mountpoint': '/mnt/archive' })).toBe(10_000 * 1_048_576);
    expect(points(meter, 'system.filesystem.limit').find((p) => p.attributes['system.filesystem.mountpoint'] === '/mnt/archive')?.attributes)
      .toMatchObject({ 'system.device': 'nas01:/export/archive', 'system.filesystem.mode': 'ro', 'system.filesystem.type': 'nfs4' });
    // vfat has no inode table: no inode series rather than a misleading 0.
    expect(valueOf(meter, 'system.filesystem.inodes.usage', { 'system.filesystem.mountpoint': '/boot/efi', 'system.filesystem.state': 'free' })).toBeUndefined();
  });

  it('follows the exclusion lists of the config, which replace the defaults', async () => {
    const { receiver, meter } = receiverOn(CAPTURED_HOST, {
      scrapers: ['filesystem'],
      filesystem: { exclude_fs_types: ['tmpfs', 'nfs\\d?', 'proc', 'sysfs', 'devtmpfs', 'devpts', 'securityfs', 'cgroup2', 'squashfs', 'overlay'], exclude_mount_points: ['/boot/.*'] },
    });
    await receiver.scrape();
    expect(attributeValues(meter, 'system.filesystem.limit', 'system.filesystem.mountpoint')).toEqual(['/', '/srv/backup disk']);
  });

  it('leaves out a mount whose statfs hangs, and does not ask it again while it hangs', async () => {
    const root = CAPTURED_HOST;
    const calls: string[] = [];
    const statfs = tableStatfs(root, { ...FILESYSTEMS, '/mnt/archive': 'hang' });
    const host = new HostFs(root, (resolved) => {
      calls.push(resolved);
      return statfs(resolved);
    });
    const meter = new MetricStore({ scope: 'hostmetrics' });
    const scraper = createFilesystemScraper({ meter, host, config: configSchema.parse({ root_path: root }), telemetry: new MetricStore({ scope: 'otel-agent' }), receiverId: 'hostmetrics' }, 50);
    expect(await scraper.scrape()).toEqual(['statfs of /mnt/archive: statfs gave no answer in 50 ms']);
    expect(await scraper.scrape()).toEqual(['statfs of /mnt/archive has not answered since an earlier scrape']);
    expect(calls.filter((call) => call.endsWith('/mnt/archive'))).toHaveLength(1);
    expect(attributeValues(meter, 'system.filesystem.limit', 'system.filesystem.mountpoint')).not.toContain('/mnt/archive');
    expect(attributeValues(meter, 'system.filesystem.limit', 'system.filesystem.mountpoint')).toContain('/');
  });

  it('skips quietly a mount it may not look into, and reports other statfs errors', async () => {
    const root = CAPTURED_HOST;
    const denied = Object.assign(new Error('permission denied'), { code: 'EACCES' });
    const broken = Object.assign(new Error('input/output error'), { code: 'EIO' });
    const host = new HostFs(root, tableStatfs(root, { ...FILESYSTEMS, '/srv/backup disk': denied, '/run': broken }));
    const meter = new MetricStore({ scope: 'hostmetrics' });
    const scraper = createFilesystemScraper({ meter, host, config: configSchema.parse({ root_path: root }), telemetry: new MetricStore({ scope: 'otel-agent' }), receiverId: 'hostmetrics' });
    expect(await scraper.scrape()).toEqual(['statfs of /run: input/output error']);
    expect(attributeValues(meter, 'system.filesystem.limit', 'system.filesystem.mountpoint')).toEqual(['/', '/boot/efi', '/dev/shm', '/mnt/archive']);
  });
});

describe('disk scraper', () => {
  it('reports whole disks only by default, loop and RAM disks left out', async () => {
    const { receiver, meter } = receiverOn(CAPTURED_HOST, { scrapers: ['disk'] });
    await receiver.scrape();
    expect(attributeValues(meter, 'system.disk.io', 'system.device')).toEqual(['dm-0', 'nvme0n1', 'sda']);
    const read = { 'system.device': 'sda', 'disk.io.direction': 'read' };
    const write = { 'system.device': 'sda', 'disk.io.direction': 'write' };
    expect(valueOf(meter, 'system.disk.io', read)).toBe(98120344 * 512);
    expect(valueOf(meter, 'system.disk.io', write)).toBe(401221344 * 512);
    expect(valueOf(meter, 'system.disk.operations', read)).toBe(1204112);
    expect(valueOf(meter, 'system.disk.merged', write)).toBe(901233);
    expect(valueOf(meter, 'system.disk.operation_time', write)).toBe(9123.456);
    expect(valueOf(meter, 'system.disk.io_time', { 'system.device': 'sda' })).toBe(2012.344);
  });

  it('reports partitions too with devices: all', async () => {
    const { receiver, meter } = receiverOn(CAPTURED_HOST, { scrapers: ['disk'], disk: { devices: 'all' } });
    await receiver.scrape();
    expect(attributeValues(meter, 'system.disk.io', 'system.device')).toEqual(['dm-0', 'nvme0n1', 'nvme0n1p1', 'nvme0n1p2', 'sda', 'sda1']);
  });

  it('reports every device, and says so, when /sys/block cannot be read', async () => {
    const root = copyOfHost();
    rmSync(path.join(root, 'sys'), { recursive: true });
    const { receiver, meter } = receiverOn(root, { scrapers: ['disk'] });
    const result = await receiver.scrape();
    expect(result.problems).toEqual(['disk: /sys/block is not readable: partitions are reported too']);
    expect(attributeValues(meter, 'system.disk.io', 'system.device')).toContain('sda1');
  });
});

describe('network scraper', () => {
  it('reports every interface by default, in both directions', async () => {
    const { receiver, meter } = receiverOn(CAPTURED_HOST, { scrapers: ['network'] });
    await receiver.scrape();
    expect(attributeValues(meter, 'system.network.io', 'network.interface.name')).toEqual(['bond0', 'docker0', 'enp3s0f0', 'lo', 'veth9f3c1a2b']);
    const receive = { 'network.interface.name': 'enp3s0f0', 'network.io.direction': 'receive' };
    const transmit = { 'network.interface.name': 'enp3s0f0', 'network.io.direction': 'transmit' };
    expect(valueOf(meter, 'system.network.io', receive)).toBe(81234567123);
    expect(valueOf(meter, 'system.network.io', transmit)).toBe(12345678901);
    expect(valueOf(meter, 'system.network.packet.count', receive)).toBe(91233412);
    expect(valueOf(meter, 'system.network.errors', transmit)).toBe(3);
    expect(valueOf(meter, 'system.network.packet.dropped', receive)).toBe(341);
  });

  it('leaves out the interfaces the config excludes', async () => {
    const { receiver, meter } = receiverOn(CAPTURED_HOST, { scrapers: ['network'], network: { exclude_interfaces: ['veth.*', 'docker\\d+'] } });
    await receiver.scrape();
    expect(attributeValues(meter, 'system.network.io', 'network.interface.name')).toEqual(['bond0', 'enp3s0f0', 'lo']);
  });
});

describe('processes scraper', () => {
  it('counts processes per state and reports forks since boot', async () => {
    const { receiver, meter } = receiverOn(CAPTURED_HOST, { scrapers: ['processes'] });
    await receiver.scrape();
    const count = (state: string) => valueOf(meter, 'system.process.count', { 'process.state': state });
    expect([count('running'), count('sleeping'), count('stopped'), count('defunct')]).toEqual([1, 3, 1, 1]);
    expect(valueOf(meter, 'system.process.created')).toBe(1880213);
  });
});

describe('things that vanish between two scrapes', () => {
  it('lose their series at the next scrape: an interface, a disk, a mount', async () => {
    const root = copyOfHost();
    const { receiver, meter } = receiverOn(root);
    await receiver.scrape();
    expect(valueOf(meter, 'system.network.io', { 'network.interface.name': 'veth9f3c1a2b', 'network.io.direction': 'receive' })).toBe(4294967296);
    edit(root, 'proc/1/net/dev', (text) => text.replace(/^veth9f3c1a2b:.*\n/m, ''));
    edit(root, 'proc/diskstats', (text) => text.replace(/^ +8 +0 sda .*\n/m, ''));
    edit(root, 'proc/1/mountinfo', (text) => text.replace(/^41 .*\n/m, ''));
    rmSync(path.join(root, 'proc/3100'), { recursive: true });
    await receiver.scrape();
    for (const name of ['system.network.io', 'system.network.packet.count', 'system.network.errors', 'system.network.packet.dropped']) {
      expect(attributeValues(meter, name, 'network.interface.name')).toEqual(['bond0', 'docker0', 'enp3s0f0', 'lo']);
    }
    for (const name of ['system.disk.io', 'system.disk.operations', 'system.disk.io_time', 'system.disk.operation_time', 'system.disk.merged']) {
      expect(attributeValues(meter, name, 'system.device')).toEqual(['dm-0', 'nvme0n1']);
    }
    for (const name of ['system.filesystem.usage', 'system.filesystem.limit', 'system.filesystem.utilization', 'system.filesystem.inodes.usage']) {
      expect(attributeValues(meter, name, 'system.filesystem.mountpoint')).not.toContain('/srv/backup disk');
    }
    expect(valueOf(meter, 'system.process.count', { 'process.state': 'stopped' })).toBe(0);
  });
});
