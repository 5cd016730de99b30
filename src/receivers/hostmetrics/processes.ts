// Processes by state, from the state letter of each /proc/<pid>/stat, and processes
// created since boot, from /proc/stat.
import { parsePidStatState, parseProcStat } from './proc.js';
import type { Scraper, ScraperContext } from './scraper.js';

/** ps(1) state letters mapped onto the semantic conventions' `process.state`. */
const STATE_OF_LETTER: Record<string, string> = {
  R: 'running',
  S: 'sleeping',
  D: 'sleeping', // uninterruptible (disk) sleep
  I: 'sleeping', // idle kernel thread
  T: 'stopped',
  t: 'stopped', // stopped by a tracer
  Z: 'defunct',
  X: 'defunct',
};
const STATES = ['running', 'sleeping', 'stopped', 'defunct'];

/** Files read between two yields to the event loop, so a host with thousands of processes
 * never stalls it for long. */
const READS_PER_SLICE = 128;

export function createProcessesScraper({ meter, host }: ScraperContext): Scraper {
  const count = meter.upDownCounter('system.process.count', {
    unit: '{process}',
    valueType: 'int',
    description: 'Processes in each state.',
  });
  const created = meter.counter('system.process.created', {
    unit: '{process}',
    valueType: 'int',
    description: 'Processes created since boot.',
  });

  async function countByState(): Promise<Map<string, number>> {
    const counts = new Map<string, number>(STATES.map((state) => [state, 0]));
    const pids = host.readdir('/proc').filter((name) => /^\d+$/.test(name));
    for (let index = 0; index < pids.length; index++) {
      if (index > 0 && index % READS_PER_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
      let text: string;
      try {
        text = host.read(`/proc/${pids[index]}/stat`);
      } catch {
        continue; // exited since the directory was listed
      }
      // Rare letters (P parked, W paging on old kernels) are kinds of sleep.
      const state = STATE_OF_LETTER[parsePidStatState(text)] ?? 'sleeping';
      counts.set(state, counts.get(state)! + 1);
    }
    return counts;
  }

  return {
    name: 'processes',
    async scrape() {
      created.set(parseProcStat(host.read('/proc/stat')).processesCreated);
      const counts = await countByState();
      for (const [state, n] of counts) count.set(n, { 'process.state': state });
      return [];
    },
  };
}
