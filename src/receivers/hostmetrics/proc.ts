// Pure parsers of the /proc and /sys text the scrapers read. Each takes the file's text and
// returns plain numbers; none touches the file system, so each is tested on captured text.

/** CPU time of one line of /proc/stat, in USER_HZ ticks. */
export interface CpuTicks {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
}

export interface ProcStat {
  /** The aggregate `cpu` line. */
  total: CpuTicks;
  /** One entry per online CPU, keyed by its logical number. */
  cpus: Map<number, CpuTicks>;
  /** Forks since boot (`processes`). */
  processesCreated: number;
}

function fail(file: string, why: string): never {
  throw new Error(`${file}: ${why}`);
}

/** A non-negative integer field, or an error naming the file and the field. */
function integer(file: string, field: string, text: string | undefined): number {
  const value = Number(text);
  if (text === undefined || text === '' || !Number.isFinite(value) || value < 0) {
    fail(file, `expected a number for ${field}, found ${JSON.stringify(text)}`);
  }
  return value;
}

function cpuTicks(fields: string[]): CpuTicks {
  // Columns after the name: user nice system idle iowait irq softirq steal guest guest_nice.
  // Older kernels stop early; missing columns read as 0. guest and guest_nice are already
  // counted in user and nice, so they are not added again.
  const at = (index: number, name: string) => (fields[index] === undefined ? 0 : integer('/proc/stat', name, fields[index]));
  return {
    user: at(1, 'user'),
    nice: at(2, 'nice'),
    system: at(3, 'system'),
    idle: at(4, 'idle'),
    iowait: at(5, 'iowait'),
    irq: at(6, 'irq'),
    softirq: at(7, 'softirq'),
    steal: at(8, 'steal'),
  };
}

export function parseProcStat(text: string): ProcStat {
  let total: CpuTicks | undefined;
  const cpus = new Map<number, CpuTicks>();
  let processesCreated: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('cpu')) {
      const fields = line.trim().split(/\s+/);
      const name = fields[0];
      if (name === 'cpu') total = cpuTicks(fields);
      else cpus.set(integer('/proc/stat', 'cpu number', name.slice(3)), cpuTicks(fields));
    } else if (line.startsWith('processes ')) {
      processesCreated = integer('/proc/stat', 'processes', line.slice(10).trim());
    }
  }
  if (total === undefined) fail('/proc/stat', 'no "cpu" line');
  return { total, cpus, processesCreated: processesCreated ?? fail('/proc/stat', 'no "processes" line') };
}

/** /proc/meminfo as bytes per key (`kB` values scaled; unitless counts such as `HugePages_Total` kept). */
export function parseMeminfo(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon);
    const [amount, unit] = line.slice(colon + 1).trim().split(/\s+/);
    const value = integer('/proc/meminfo', key, amount);
    values.set(key, unit === 'kB' ? value * 1024 : value);
  }
  if (!values.has('MemTotal')) fail('/proc/meminfo', 'no MemTotal');
  return values;
}

export interface LoadAverage {
  one: number;
  five: number;
  fifteen: number;
}

export function parseLoadavg(text: string): LoadAverage {
  const fields = text.trim().split(/\s+/);
  const number = (index: number, name: string) => {
    const value = Number(fields[index]);
    if (fields[index] === undefined || !Number.isFinite(value)) fail('/proc/loadavg', `expected a number for ${name}, found ${JSON.stringify(fields[index])}`);
    return value;
  };
  return { one: number(0, '1m'), five: number(1, '5m'), fifteen: number(2, '15m') };
}

/** Seconds since boot, from /proc/uptime. */
export function parseUptime(text: string): number {
  const first = text.trim().split(/\s+/)[0];
  const seconds = Number(first);
  if (first === '' || !Number.isFinite(seconds)) fail('/proc/uptime', `expected seconds, found ${JSON.stringify(first)}`);
  return seconds;
}

/** One block device of /proc/diskstats. Times are milliseconds, sizes 512-byte sectors. */
export interface DiskStats {
  name: string;
  readsCompleted: number;
  readsMerged: number;
  sectorsRead: number;
  readMs: number;
  writesCompleted: number;
  writesMerged: number;
  sectorsWritten: number;
  writeMs: number;
  ioMs: number;
}

export function parseDiskstats(text: string): DiskStats[] {
  const disks: DiskStats[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 14) continue;
    const name = fields[2];
    const at = (index: number, field: string) => integer('/proc/diskstats', `${name} ${field}`, fields[index]);
    disks.push({
      name,
      readsCompleted: at(3, 'reads completed'),
      readsMerged: at(4, 'reads merged'),
      sectorsRead: at(5, 'sectors read'),
      readMs: at(6, 'ms reading'),
      writesCompleted: at(7, 'writes completed'),
      writesMerged: at(8, 'writes merged'),
      sectorsWritten: at(9, 'sectors written'),
      writeMs: at(10, 'ms writing'),
      ioMs: at(12, 'ms doing I/O'),
    });
  }
  return disks;
}

/** Counters of one interface of /proc/net/dev. */
export interface InterfaceStats {
  name: string;
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

export function parseNetDev(text: string): InterfaceStats[] {
  const interfaces: InterfaceStats[] = [];
  for (const line of text.split('\n')) {
    // The kernel forbids ':' and white space in interface names, so the first colon ends the
    // name; a long name or a large counter can leave no space after it (`veth1a2b3c4:123`).
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === '' || name.includes('|')) continue;
    const fields = line.slice(colon + 1).trim().split(/\s+/);
    if (fields.length < 16) fail('/proc/net/dev', `expected 16 counters for ${name}, found ${fields.length}`);
    const at = (index: number, field: string) => integer('/proc/net/dev', `${name} ${field}`, fields[index]);
    interfaces.push({
      name,
      rxBytes: at(0, 'receive bytes'),
      rxPackets: at(1, 'receive packets'),
      rxErrors: at(2, 'receive errs'),
      rxDropped: at(3, 'receive drop'),
      txBytes: at(8, 'transmit bytes'),
      txPackets: at(9, 'transmit packets'),
      txErrors: at(10, 'transmit errs'),
      txDropped: at(11, 'transmit drop'),
    });
  }
  return interfaces;
}

/** One mount of /proc/<pid>/mountinfo. */
export interface Mount {
  mountPoint: string;
  fsType: string;
  /** What was mounted: `/dev/sda1`, `server:/export`, or the fs type for virtual ones. */
  source: string;
  /** `rw` or `ro`, from the per-mount options. */
  mode: 'rw' | 'ro';
}

/** mountinfo escapes space, tab, newline and backslash as octal: `\040`, `\011`, `\012`, `\134`. */
export function unescapeMountField(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * Mounts in mount order. A mount point mounted over keeps only its last mount, the one a
 * path lookup (and so statfs) reaches.
 */
export function parseMountinfo(text: string): Mount[] {
  const byMountPoint = new Map<string, Mount>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    // id parent major:minor root mount_point options [optional fields...] - type source super_options
    const fields = line.split(' ');
    const separator = fields.indexOf('-', 6);
    if (separator < 0 || fields.length < separator + 3) fail('/proc/self/mountinfo', `malformed line ${JSON.stringify(line)}`);
    const mountPoint = unescapeMountField(fields[4]);
    const mode = fields[5].split(',').includes('ro') ? 'ro' : 'rw';
    byMountPoint.delete(mountPoint);
    byMountPoint.set(mountPoint, {
      mountPoint,
      fsType: unescapeMountField(fields[separator + 1]),
      source: unescapeMountField(fields[separator + 2]),
      mode,
    });
  }
  return [...byMountPoint.values()];
}

/** The process state letter of /proc/<pid>/stat. */
export function parsePidStatState(text: string): string {
  // The command name (field 2) is in parentheses and may itself hold spaces and ')'.
  const close = text.lastIndexOf(')');
  const state = close < 0 ? undefined : text.slice(close + 2, close + 3);
  if (state === undefined || !/^[A-Za-z]$/.test(state)) fail('/proc/<pid>/stat', `no state in ${JSON.stringify(text.slice(0, 80))}`);
  return state;
}

/** What the process scraper takes from /proc/<pid>/stat. Times in USER_HZ ticks. */
export interface PidStat {
  /** The kernel's name of the command (`comm`), at most 15 characters. */
  comm: string;
  userTicks: number;
  systemTicks: number;
  threads: number;
  /** When the process started, in ticks after boot: with the PID, who it is. */
  startTicks: number;
  virtualBytes: number;
}

export function parsePidStat(text: string): PidStat {
  // The command name (field 2) is in parentheses and may itself hold spaces and ')'.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) fail('/proc/<pid>/stat', `no command name in ${JSON.stringify(text.slice(0, 80))}`);
  // Fields from 3 (state) on; field n is at n - 3.
  const fields = text.slice(close + 2).trim().split(' ');
  const at = (field: number, name: string) => integer('/proc/<pid>/stat', name, fields[field - 3]);
  return {
    comm: text.slice(open + 1, close),
    userTicks: at(14, 'utime'),
    systemTicks: at(15, 'stime'),
    threads: at(20, 'num_threads'),
    startTicks: at(22, 'starttime'),
    virtualBytes: at(23, 'vsize'),
  };
}

/** What the process scraper takes from /proc/<pid>/status. */
export interface PidStatus {
  /** The real user ID. */
  uid: number;
  /** VmRSS; 0 for kernel threads, which have no memory of their own. */
  residentBytes: number;
}

export function parsePidStatus(text: string): PidStatus {
  let uid: number | undefined;
  let residentBytes = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('Uid:')) uid = integer('/proc/<pid>/status', 'Uid', line.slice(4).trim().split(/\s+/)[0]);
    else if (line.startsWith('VmRSS:')) residentBytes = integer('/proc/<pid>/status', 'VmRSS', line.slice(6).trim().split(/\s+/)[0]) * 1024;
  }
  return { uid: uid ?? fail('/proc/<pid>/status', 'no Uid line'), residentBytes };
}

/** Bytes the process made the storage layer read and write (`read_bytes`, `write_bytes`). */
export function parsePidIo(text: string): { readBytes: number; writeBytes: number } {
  let readBytes: number | undefined;
  let writeBytes: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('read_bytes:')) readBytes = integer('/proc/<pid>/io', 'read_bytes', line.slice(11).trim());
    else if (line.startsWith('write_bytes:')) writeBytes = integer('/proc/<pid>/io', 'write_bytes', line.slice(12).trim());
  }
  if (readBytes === undefined || writeBytes === undefined) fail('/proc/<pid>/io', 'no read_bytes or write_bytes line');
  return { readBytes, writeBytes };
}

/** The arguments of /proc/<pid>/cmdline (NUL-separated); empty for kernel threads and zombies. */
export function parseCmdline(text: string): string[] {
  const args = text.split('\0');
  if (args.length > 0 && args[args.length - 1] === '') args.pop();
  return args;
}

/**
 * Whether a process is in a systemd unit, from /proc/<pid>/cgroup: one of its cgroup paths
 * (the v2 line `0::/system.slice/x.service`, or v1's `name=systemd` hierarchy) has the unit
 * as a segment, so processes in cgroups below the unit's (delegated subtrees) are in it too.
 */
export function cgroupHasUnit(text: string, unit: string): boolean {
  for (const line of text.split('\n')) {
    const second = line.indexOf(':');
    const third = second < 0 ? -1 : line.indexOf(':', second + 1);
    if (third < 0) continue;
    const controllers = line.slice(second + 1, third);
    if (controllers !== '' && controllers !== 'name=systemd') continue;
    if (line.slice(third + 1).split('/').includes(unit)) return true;
  }
  return false;
}

/** User names by user ID, from /etc/passwd. */
export function parsePasswd(text: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields.length < 3 || line.startsWith('#')) continue;
    const uid = Number(fields[2]);
    if (fields[0] !== '' && Number.isInteger(uid) && !names.has(uid)) names.set(uid, fields[0]);
  }
  return names;
}
