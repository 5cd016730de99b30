// Time since boot, from /proc/uptime.
import { parseUptime } from './proc.js';
import type { Scraper, ScraperContext } from './scraper.js';

export function createSystemScraper({ meter, host }: ScraperContext): Scraper {
  const uptime = meter.gauge('system.uptime', { unit: 's', description: 'Time since the host booted.' });
  return {
    name: 'system',
    async scrape() {
      uptime.set(parseUptime(host.read('/proc/uptime')));
      return [];
    },
  };
}
