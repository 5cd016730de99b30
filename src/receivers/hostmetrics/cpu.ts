// CPU time per mode (and per logical CPU), utilisation between two of our own scrapes, and
// the number of logical CPUs, from /proc/stat.
import type { Attributes } from '../../component/types.js';
import { parseProcStat, type CpuTicks } from './proc.js';
import type { Scraper, ScraperContext } from './scraper.js';

/** /proc/stat counts in USER_HZ ticks, which the kernel fixes at 100 on every Linux ABI. */
const TICKS_PER_SECOND = 100;

const MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'interrupt', 'steal'] as const;
type Mode = (typeof MODES)[number];

/** Ticks per semantic-convention `cpu.mode`; hard and soft interrupts are both `interrupt`. */
function ticksByMode(ticks: CpuTicks): Record<Mode, number> {
  return {
    user: ticks.user,
    nice: ticks.nice,
    system: ticks.system,
    idle: ticks.idle,
    iowait: ticks.iowait,
    interrupt: ticks.irq + ticks.softirq,
    steal: ticks.steal,
  };
}

export function createCpuScraper({ meter, host, config }: ScraperContext): Scraper {
  const time = meter.counter('system.cpu.time', { unit: 's', description: 'Seconds each logical CPU spent in each mode.' });
  const utilization = meter.gauge('system.cpu.utilization', {
    unit: '1',
    description: 'Share of each mode in the CPU time elapsed since the previous scrape.',
  });
  const logicalCount = meter.upDownCounter('system.cpu.logical.count', {
    unit: '{cpu}',
    valueType: 'int',
    description: 'Logical CPUs online.',
  });
  const perCpu = config.cpu.breakdown === 'per_cpu';
  // Per CPU (or -1 for the host total): the ticks last reported per mode, and the
  // utilisation computed from them.
  const previous = new Map<number, { ticks: Record<Mode, number>; utilization?: Record<Mode, number> }>();

  function record(cpu: number, ticks: CpuTicks, seen: Set<number>): void {
    seen.add(cpu);
    const now = ticksByMode(ticks);
    const before = previous.get(cpu);
    let elapsed = 0;
    if (before !== undefined) {
      for (const mode of MODES) {
        // iowait can step back by a tick on tickless kernels; a cumulative counter must not.
        now[mode] = Math.max(now[mode], before.ticks[mode]);
        elapsed += now[mode] - before.ticks[mode];
      }
    }
    // Utilisation is the share of each mode in this CPU's ticks since our previous scrape:
    // it needs two scrapes of our own, never a collection's timing, and the modes sum to 1.
    // Two scrapes within one tick keep the older baseline and the last utilisation.
    let share = before?.utilization;
    if (before !== undefined && elapsed > 0) {
      share = {} as Record<Mode, number>;
      for (const mode of MODES) share[mode] = (now[mode] - before.ticks[mode]) / elapsed;
    }
    for (const mode of MODES) {
      const attributes: Attributes = cpu < 0 ? { 'cpu.mode': mode } : { 'cpu.mode': mode, 'cpu.logical_number': cpu };
      time.set(now[mode] / TICKS_PER_SECOND, attributes);
      if (share !== undefined) utilization.set(share[mode], attributes);
    }
    if (before === undefined || elapsed > 0) previous.set(cpu, { ticks: now, utilization: share });
  }

  return {
    name: 'cpu',
    async scrape() {
      const stat = parseProcStat(host.read('/proc/stat'));
      const seen = new Set<number>();
      if (perCpu) for (const [cpu, ticks] of stat.cpus) record(cpu, ticks, seen);
      else record(-1, stat.total, seen);
      // A CPU taken offline starts from nothing when it comes back.
      for (const cpu of previous.keys()) if (!seen.has(cpu)) previous.delete(cpu);
      logicalCount.set(stat.cpus.size);
      return [];
    },
  };
}
