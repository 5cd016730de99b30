// Memory by state, its utilisation, the kernel's own estimates (available, shared, slab),
// and swap, from /proc/meminfo.
import { parseMeminfo } from './proc.js';
import type { Scraper, ScraperContext } from './scraper.js';

export function createMemoryScraper({ meter, host }: ScraperContext): Scraper {
  const bytes = { unit: 'By', valueType: 'int' } as const;
  const usage = meter.upDownCounter('system.memory.usage', { ...bytes, description: 'Memory in use by state.' });
  const utilization = meter.gauge('system.memory.utilization', { unit: '1', description: 'Share of memory in each state.' });
  const limit = meter.upDownCounter('system.memory.limit', { ...bytes, description: 'Total memory (MemTotal).' });
  const available = meter.upDownCounter('system.memory.linux.available', {
    ...bytes,
    description: 'Memory available for starting new applications without swapping (MemAvailable).',
  });
  const shared = meter.upDownCounter('system.memory.linux.shared', { ...bytes, description: 'Shared memory, mostly tmpfs (Shmem).' });
  const slab = meter.upDownCounter('system.memory.linux.slab.usage', { ...bytes, description: 'Kernel slab memory by state.' });
  const paging = meter.upDownCounter('system.paging.usage', { ...bytes, description: 'Swap in use and free, all devices together.' });
  const pagingUtilization = meter.gauge('system.paging.utilization', { unit: '1', description: 'Share of swap in each state.' });

  return {
    name: 'memory',
    async scrape() {
      const info = parseMeminfo(host.read('/proc/meminfo'));
      const get = (key: string) => info.get(key) ?? 0;
      const total = get('MemTotal');
      const free = get('MemFree');
      const buffers = get('Buffers');
      const cached = get('Cached');
      const reclaimable = get('SReclaimable');
      // `used` is MemTotal - MemAvailable, as the semantic conventions define it; kernels
      // older than 3.14 have no MemAvailable, and get the older estimate.
      const availableBytes = info.get('MemAvailable') ?? free + buffers + cached + reclaimable;
      const states: Array<[string, number]> = [
        ['used', Math.max(0, total - availableBytes)],
        ['free', free],
        ['buffers', buffers],
        ['cached', cached],
      ];
      for (const [state, value] of states) {
        usage.set(value, { 'system.memory.state': state });
        if (total > 0) utilization.set(value / total, { 'system.memory.state': state });
      }
      limit.set(total);
      available.set(availableBytes);
      shared.set(get('Shmem'));
      slab.set(reclaimable, { 'system.memory.linux.slab.state': 'reclaimable' });
      slab.set(get('SUnreclaim'), { 'system.memory.linux.slab.state': 'unreclaimable' });
      const swapTotal = get('SwapTotal');
      const swapFree = get('SwapFree');
      paging.set(swapTotal - swapFree, { 'system.paging.state': 'used' });
      paging.set(swapFree, { 'system.paging.state': 'free' });
      if (swapTotal > 0) {
        pagingUtilization.set((swapTotal - swapFree) / swapTotal, { 'system.paging.state': 'used' });
        pagingUtilization.set(swapFree / swapTotal, { 'system.paging.state': 'free' });
      }
      return [];
    },
  };
}
