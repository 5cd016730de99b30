// Load average over 1, 5 and 15 minutes, from /proc/loadavg. The semantic conventions have
// no load metric; the names are the OpenTelemetry Collector's.
import { parseLoadavg } from './proc.js';
import type { Scraper, ScraperContext } from './scraper.js';

export function createLoadScraper({ meter, host }: ScraperContext): Scraper {
  const options = (window: string) => ({
    unit: '{thread}',
    description: `Average number of runnable and uninterruptible threads over ${window}.`,
  });
  const one = meter.gauge('system.cpu.load_average.1m', options('1 minute'));
  const five = meter.gauge('system.cpu.load_average.5m', options('5 minutes'));
  const fifteen = meter.gauge('system.cpu.load_average.15m', options('15 minutes'));
  return {
    name: 'load',
    async scrape() {
      const load = parseLoadavg(host.read('/proc/loadavg'));
      one.set(load.one);
      five.set(load.five);
      fifteen.set(load.fifteen);
      return [];
    },
  };
}
