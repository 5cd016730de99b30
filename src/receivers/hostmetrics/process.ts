// Per-process metrics of the processes the config picks (by executable, command line,
// pidfile or systemd unit): CPU time, memory, disk I/O, file descriptors, threads and uptime,
// from /proc/<pid>/{stat,status,io,fd}. The selection is made again at every scrape, so a
// process that exits leaves the scrape and one that restarts is found under its new PID.
import path from 'node:path';
import type { Attributes } from '../../component/types.js';
import type { ProcessSelector } from './config.js';
import {
  cgroupHasUnit,
  parseCmdline,
  parsePasswd,
  parsePidIo,
  parsePidStat,
  parsePidStatus,
  parseUptime,
  type PidStat,
} from './proc.js';
import type { Scraper, ScraperContext } from './scraper.js';

/** /proc/<pid>/stat counts in USER_HZ ticks, which the kernel fixes at 100 on every Linux ABI. */
const TICKS_PER_SECOND = 100;

/** Files read between two yields to the event loop, as the processes scraper does. */
const READS_PER_SLICE = 128;

/** Who a process is, read once per PID and start time: its names, and its series' attributes. */
interface Identity {
  startTicks: number;
  comm: string;
  executable: string;
  command: string;
  commandLine: string;
  /** The owner the attributes were built for; a setuid changes them. */
  uid?: number;
  attributes?: {
    base: Attributes;
    user: Attributes;
    system: Attributes;
    read: Attributes;
    write: Attributes;
  };
}

const isCode = (error: unknown, ...codes: string[]) => codes.includes((error as NodeJS.ErrnoException)?.code ?? '');
/** The errors of a file the agent may not read: the process is there, its file is not ours to see. */
const REFUSED = ['EACCES', 'EPERM'];

export function createProcessScraper({ meter, host, config, telemetry, receiverId }: ScraperContext): Scraper {
  const selectors = config.process.include;
  const cpuTime = meter.counter('process.cpu.time', { unit: 's', description: 'CPU seconds the process spent in each mode.' });
  const memoryUsage = meter.upDownCounter('process.memory.usage', {
    unit: 'By',
    valueType: 'int',
    description: 'Physical memory the process holds (resident set, VmRSS).',
  });
  const memoryVirtual = meter.upDownCounter('process.memory.virtual', {
    unit: 'By',
    valueType: 'int',
    description: 'Virtual memory the process has mapped (VmSize).',
  });
  const diskIo = meter.counter('process.disk.io', {
    unit: 'By',
    valueType: 'int',
    description: 'Bytes the process had read from and written to storage (/proc/PID/io read_bytes, write_bytes).',
  });
  const fileDescriptors = meter.upDownCounter('process.unix.file_descriptor.count', {
    unit: '{file_descriptor}',
    valueType: 'int',
    description: 'File descriptors the process has open.',
  });
  const threads = meter.upDownCounter('process.thread.count', { unit: '{thread}', valueType: 'int', description: 'Threads of the process.' });
  const uptime = meter.gauge('process.uptime', { unit: 's', description: 'Time since the process started.' });
  const unreadable = telemetry.counter('otel_agent.hostmetrics.process.unreadable', {
    unit: '{reads}',
    description: "Reads of a picked process's /proc file the agent may not make (another user's process, without privileges): the metrics it feeds are left out for that process.",
  });
  for (const file of ['io', 'fd', 'exe']) unreadable.add(0, { receiver: receiverId, file });

  const executables = selectors.flatMap((s) => (s.executable !== undefined ? [s] : []));
  const strictNames = new Set(executables.filter((s) => s.match_type !== 'regexp').map((s) => s.executable!));
  const nameRegexps = executables.filter((s) => s.match_type === 'regexp').map((s) => new RegExp(`^(?:${s.executable})$`));
  const commandRegexps = selectors.flatMap((s) => (s.command !== undefined ? [new RegExp(s.command)] : []));
  const units = selectors.flatMap((s) => (s.systemd_unit !== undefined ? [s.systemd_unit] : []));
  const pidfiles = selectors.flatMap((s) => (s.pidfile !== undefined ? [s.pidfile] : []));
  /** Only pidfiles: no walk of /proc at all. */
  const walks = executables.length + commandRegexps.length + units.length > 0;

  const identities = new Map<number, Identity>();
  let owners: Map<number, string> | undefined;
  let reads = 0;

  async function pace(): Promise<void> {
    if (++reads % READS_PER_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
  }

  function refused(file: string): void {
    unreadable.add(1, { receiver: receiverId, file });
  }

  /** The process's names, from the cache while its start time and `comm` are unchanged (an exec changes `comm`). */
  function identityOf(pid: number, stat: PidStat): Identity | undefined {
    const known = identities.get(pid);
    if (known !== undefined && known.startTicks === stat.startTicks && known.comm === stat.comm) return known;
    let args: string[];
    try {
      args = parseCmdline(host.read(`/proc/${pid}/cmdline`));
    } catch {
      return undefined; // exited
    }
    let executable = stat.comm;
    try {
      const target = host.readlink(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '');
      executable = path.posix.basename(target);
    } catch (error) {
      // Kernel threads have no executable (ENOENT); another user's process may be hidden.
      if (isCode(error, ...REFUSED)) refused('exe');
    }
    const identity: Identity = {
      startTicks: stat.startTicks,
      comm: stat.comm,
      executable,
      command: args[0] ?? stat.comm,
      commandLine: args.join(' '),
    };
    identities.set(pid, identity);
    return identity;
  }

  function picked(pid: number, identity: Identity): boolean {
    if (strictNames.has(identity.executable)) return true;
    if (nameRegexps.some((re) => re.test(identity.executable))) return true;
    if (commandRegexps.some((re) => re.test(identity.commandLine))) return true;
    if (units.length > 0) {
      let cgroup: string;
      try {
        cgroup = host.read(`/proc/${pid}/cgroup`);
      } catch {
        return false;
      }
      if (units.some((unit) => cgroupHasUnit(cgroup, unit))) return true;
    }
    return false;
  }

  function ownerOf(uid: number, reloaded: { done: boolean }): string {
    let name = owners?.get(uid);
    if (name === undefined && !reloaded.done) {
      // A user added since we last read the file: read it again, once per scrape.
      reloaded.done = true;
      try {
        owners = parsePasswd(host.read('/etc/passwd'));
      } catch {
        owners = new Map();
      }
      name = owners.get(uid);
    }
    return name ?? String(uid);
  }

  function attributesOf(pid: number, identity: Identity, uid: number, reloaded: { done: boolean }): NonNullable<Identity['attributes']> {
    if (identity.attributes !== undefined && identity.uid === uid) return identity.attributes;
    const base = {
      'process.pid': pid,
      'process.executable.name': identity.executable,
      'process.command': identity.command,
      'process.owner': ownerOf(uid, reloaded),
    };
    const frozen = (extra: Attributes) => Object.freeze({ ...base, ...extra });
    identity.uid = uid;
    identity.attributes = {
      base: Object.freeze(base),
      user: frozen({ 'cpu.mode': 'user' }),
      system: frozen({ 'cpu.mode': 'system' }),
      read: frozen({ 'disk.io.direction': 'read' }),
      write: frozen({ 'disk.io.direction': 'write' }),
    };
    return identity.attributes;
  }

  /** PIDs named by the pidfiles; problems for files that hold no PID. A missing file is a stopped daemon, not a problem. */
  function pidsOfPidfiles(problems: string[]): number[] {
    const pids: number[] = [];
    for (const file of pidfiles) {
      let text: string;
      try {
        text = host.read(file);
      } catch (error) {
        if (!isCode(error, 'ENOENT')) problems.push(`pidfile ${file}: ${(error as Error).message}`);
        continue;
      }
      const first = text.trim().split(/\s+/)[0];
      if (!/^[1-9]\d*$/.test(first)) {
        problems.push(`pidfile ${file}: expected a PID, found ${JSON.stringify(first.slice(0, 40))}`);
        continue;
      }
      pids.push(Number(first));
    }
    return pids;
  }

  function readStat(pid: number): PidStat | undefined {
    try {
      return parsePidStat(host.read(`/proc/${pid}/stat`));
    } catch {
      return undefined; // exited since it was listed or named
    }
  }

  /** Records one process; false when it exited while being read (nothing recorded). */
  function record(pid: number, stat: PidStat, identity: Identity, uptimeSeconds: number, reloaded: { done: boolean }): boolean {
    let status;
    try {
      status = parsePidStatus(host.read(`/proc/${pid}/status`));
    } catch {
      return false;
    }
    let io: { readBytes: number; writeBytes: number } | undefined;
    try {
      io = parsePidIo(host.read(`/proc/${pid}/io`));
    } catch (error) {
      if (!isCode(error, ...REFUSED)) return false;
      refused('io');
    }
    let fds: number | undefined;
    try {
      fds = host.readdir(`/proc/${pid}/fd`).length;
    } catch (error) {
      if (!isCode(error, ...REFUSED)) return false;
      refused('fd');
    }
    const attributes = attributesOf(pid, identity, status.uid, reloaded);
    cpuTime.set(stat.userTicks / TICKS_PER_SECOND, attributes.user);
    cpuTime.set(stat.systemTicks / TICKS_PER_SECOND, attributes.system);
    memoryUsage.set(status.residentBytes, attributes.base);
    memoryVirtual.set(stat.virtualBytes, attributes.base);
    if (io !== undefined) {
      diskIo.set(io.readBytes, attributes.read);
      diskIo.set(io.writeBytes, attributes.write);
    }
    if (fds !== undefined) fileDescriptors.set(fds, attributes.base);
    threads.set(stat.threads, attributes.base);
    uptime.set(Math.max(0, uptimeSeconds - stat.startTicks / TICKS_PER_SECOND), attributes.base);
    return true;
  }

  return {
    name: 'process',
    async scrape() {
      const problems: string[] = [];
      const uptimeSeconds = parseUptime(host.read('/proc/uptime'));
      const reloaded = { done: false };
      const chosen = new Map<number, PidStat>();
      const seen = new Set<number>();

      for (const pid of pidsOfPidfiles(problems)) {
        const stat = readStat(pid);
        if (stat !== undefined) chosen.set(pid, stat);
      }
      if (walks) {
        for (const name of host.readdir('/proc')) {
          if (!/^\d+$/.test(name)) continue;
          const pid = Number(name);
          await pace();
          const stat = chosen.get(pid) ?? readStat(pid);
          if (stat === undefined) continue;
          const identity = identityOf(pid, stat);
          if (identity === undefined) continue;
          seen.add(pid);
          if (!chosen.has(pid) && picked(pid, identity)) chosen.set(pid, stat);
        }
      }

      for (const [pid, stat] of chosen) {
        await pace();
        const identity = identityOf(pid, stat);
        if (identity === undefined) continue;
        seen.add(pid);
        record(pid, stat, identity, uptimeSeconds, reloaded);
      }
      // Names of processes that are gone, or no longer picked by a pidfile, are forgotten.
      for (const pid of identities.keys()) if (!seen.has(pid)) identities.delete(pid);
      return problems;
    },
  };
}
