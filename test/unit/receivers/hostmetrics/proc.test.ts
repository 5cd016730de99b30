import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  parseDiskstats,
  parseLoadavg,
  parseMeminfo,
  parseMountinfo,
  parseNetDev,
  parsePidStatState,
  parseProcStat,
  parseUptime,
  unescapeMountField,
  cgroupHasUnit,
  parseCmdline,
  parsePasswd,
  parsePidIo,
  parsePidStat,
  parsePidStatus,
} from '../../../../src/receivers/hostmetrics/proc.js';

const captured = (path: string) => readFileSync(new URL(`./testdata/host/${path}`, import.meta.url), 'utf8');

describe('parseProcStat', () => {
  it('reads the total and every CPU, in ticks, and the forks since boot', () => {
    const stat = parseProcStat(captured('proc/stat'));
    expect(stat.total).toEqual({ user: 2255034, nice: 1520, system: 813320, idle: 46085131, iowait: 30113, irq: 0, softirq: 12117, steal: 3210 });
    expect([...stat.cpus.keys()]).toEqual([0, 1, 2, 3]);
    expect(stat.cpus.get(3)).toEqual({ user: 563853, nice: 377, system: 204010, idle: 11522668, iowait: 7450, irq: 0, softirq: 2298, steal: 798 });
    expect(stat.processesCreated).toBe(1880213);
  });

  it('reads the short lines of old kernels, missing columns as 0', () => {
    const stat = parseProcStat('cpu  10 1 5 100\ncpu0 10 1 5 100\nprocesses 7\n');
    expect(stat.cpus.get(0)).toEqual({ user: 10, nice: 1, system: 5, idle: 100, iowait: 0, irq: 0, softirq: 0, steal: 0 });
  });

  it('names the file and the field when a value is not a number', () => {
    expect(() => parseProcStat('cpu  10 x 5 100\nprocesses 1\n')).toThrow('/proc/stat: expected a number for nice, found "x"');
    expect(() => parseProcStat('intr 1 2\nprocesses 1\n')).toThrow('/proc/stat: no "cpu" line');
  });
});

describe('parseMeminfo', () => {
  it('scales kB to bytes and keeps page counts as they are', () => {
    const info = parseMeminfo(captured('proc/meminfo'));
    expect(info.get('MemTotal')).toBe(65765720 * 1024);
    expect(info.get('SUnreclaim')).toBe(711222 * 1024);
    expect(info.get('HugePages_Total')).toBe(0);
  });

  it('refuses a file without MemTotal', () => {
    expect(() => parseMeminfo('MemFree: 12 kB\n')).toThrow('/proc/meminfo: no MemTotal');
  });
});

describe('parseLoadavg and parseUptime', () => {
  it('reads the three averages and the seconds since boot', () => {
    expect(parseLoadavg(captured('proc/loadavg'))).toEqual({ one: 1.42, five: 0.98, fifteen: 0.77 });
    expect(parseUptime(captured('proc/uptime'))).toBe(1209383.52);
  });

  it('names what is wrong', () => {
    expect(() => parseLoadavg('1.0 0.5\n')).toThrow('/proc/loadavg: expected a number for 15m, found undefined');
    expect(() => parseUptime('\n')).toThrow('/proc/uptime: expected seconds, found ""');
  });
});

describe('parseDiskstats', () => {
  it('reads the 20-field lines of current kernels and the 14-field lines of old ones', () => {
    const disks = parseDiskstats(captured('proc/diskstats'));
    expect(disks.map((d) => d.name)).toEqual(['loop0', 'sda', 'sda1', 'nvme0n1', 'nvme0n1p1', 'nvme0n1p2', 'dm-0', 'ram0']);
    expect(disks[1]).toEqual({
      name: 'sda',
      readsCompleted: 1204112,
      readsMerged: 30122,
      sectorsRead: 98120344,
      readMs: 812344,
      writesCompleted: 3301222,
      writesMerged: 901233,
      sectorsWritten: 401221344,
      writeMs: 9123456,
      ioMs: 2012344,
    });
    expect(disks[7].ioMs).toBe(0);
  });
});

describe('parseNetDev', () => {
  it('reads every interface, long names with no space after the colon included', () => {
    const nics = parseNetDev(captured('proc/1/net/dev'));
    expect(nics.map((n) => n.name)).toEqual(['lo', 'enp3s0f0', 'bond0', 'veth9f3c1a2b', 'docker0']);
    expect(nics[1]).toEqual({
      name: 'enp3s0f0',
      rxBytes: 81234567123,
      rxPackets: 91233412,
      rxErrors: 12,
      rxDropped: 341,
      txBytes: 12345678901,
      txPackets: 45123344,
      txErrors: 3,
      txDropped: 7,
    });
    expect(nics[3].rxBytes).toBe(4294967296);
  });

  it('refuses a line with counters missing', () => {
    expect(() => parseNetDev('  eth0: 1 2 3\n')).toThrow('/proc/net/dev: expected 16 counters for eth0, found 3');
  });
});

describe('parseMountinfo', () => {
  const mounts = parseMountinfo(captured('proc/1/mountinfo'));

  it('reads mount point, type, source and mode, past the optional fields', () => {
    expect(mounts.find((m) => m.mountPoint === '/')).toEqual({ mountPoint: '/', fsType: 'ext4', source: '/dev/mapper/vg0-root', mode: 'rw' });
    expect(mounts.find((m) => m.mountPoint === '/mnt/archive')).toEqual({
      mountPoint: '/mnt/archive',
      fsType: 'nfs4',
      source: 'nas01:/export/archive',
      mode: 'ro',
    });
  });

  it('unescapes a mount point with a space (\\040)', () => {
    expect(mounts.find((m) => m.source === '/dev/sda1')?.mountPoint).toBe('/srv/backup disk');
    expect(unescapeMountField('/a\\011b\\012c\\134d')).toBe('/a\tb\nc\\d');
  });

  it('keeps only the top mount of a mount point mounted over', () => {
    const shm = mounts.filter((m) => m.mountPoint === '/dev/shm');
    expect(shm).toEqual([{ mountPoint: '/dev/shm', fsType: 'tmpfs', source: 'shm', mode: 'rw' }]);
  });

  it('refuses a line without the separator', () => {
    expect(() => parseMountinfo('22 28 0:21 / /proc rw,nosuid shared:12 proc proc rw\n')).toThrow('/proc/self/mountinfo: malformed line');
  });
});

describe('parsePidStatState', () => {
  it('finds the state after a command name holding spaces and parentheses', () => {
    expect(parsePidStatState(captured('proc/1201/stat'))).toBe('S');
    expect(parsePidStatState(captured('proc/880/stat'))).toBe('Z');
  });

  it('refuses text without a state', () => {
    expect(() => parsePidStatState('12 (cut')).toThrow('/proc/<pid>/stat: no state');
  });
});

describe('per-process files', () => {
  it('reads times, threads, start and virtual size from a stat whose command holds spaces and parentheses', () => {
    expect(parsePidStat(captured('proc/1201/stat'))).toEqual({
      comm: 'tmux: server) (2)',
      userTicks: 121,
      systemTicks: 43,
      threads: 1,
      startTicks: 120334,
      virtualBytes: 10_121_216,
    });
    expect(() => parsePidStat('12 (cut) S 1 2')).toThrow('/proc/<pid>/stat: expected a number for utime, found undefined');
  });

  it('reads the owner and resident size of status; a kernel thread has no VmRSS', () => {
    expect(parsePidStatus(captured('proc/523/status'))).toEqual({ uid: 0, residentBytes: 1201 * 4 * 1024 });
    expect(parsePidStatus(captured('proc/2002/status'))).toEqual({ uid: 0, residentBytes: 0 });
    expect(() => parsePidStatus('Name:\tx\n')).toThrow('/proc/<pid>/status: no Uid line');
  });

  it('reads storage bytes of io, not the rchar/wchar of every read', () => {
    expect(parsePidIo(captured('proc/523/io'))).toEqual({ readBytes: 8192, writeBytes: 1_048_576 });
    expect(() => parsePidIo('rchar: 1\n')).toThrow('/proc/<pid>/io: no read_bytes or write_bytes line');
  });

  it('splits cmdline on NUL; a kernel thread has none', () => {
    expect(parseCmdline('/usr/sbin/nginx\0-g\0daemon on;\0')).toEqual(['/usr/sbin/nginx', '-g', 'daemon on;']);
    expect(parseCmdline('')).toEqual([]);
  });

  it("finds a unit in the v2 line, in v1's name=systemd hierarchy, and above a delegated sub-cgroup, nowhere else", () => {
    expect(cgroupHasUnit('0::/system.slice/portsyncd.service\n', 'portsyncd.service')).toBe(true);
    expect(cgroupHasUnit('9:name=systemd:/system.slice/portsyncd.service\n8:pids:/\n0::/\n', 'portsyncd.service')).toBe(true);
    expect(cgroupHasUnit('0::/system.slice/backup.service/worker\n', 'backup.service')).toBe(true);
    expect(cgroupHasUnit('4:memory:/system.slice/portsyncd.service\n0::/\n', 'portsyncd.service')).toBe(false);
    expect(cgroupHasUnit('0::/system.slice/portsyncd.service.d\n', 'portsyncd.service')).toBe(false);
  });

  it('maps user IDs to names, the first entry winning', () => {
    expect(parsePasswd('root:x:0:0::/root:/bin/sh\n# comment\ntoor:x:0:0::/:/bin/sh\nbad line\nalice:x:1000:1000::/home/alice:/bin/sh\n')).toEqual(
      new Map([[0, 'root'], [1000, 'alice']]),
    );
  });
});
