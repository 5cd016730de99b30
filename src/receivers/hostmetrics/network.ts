// Bytes, packets, errors and drops of every network interface of the host's network
// namespace, from /proc/<pid>/net/dev.
import { compileNamePatterns } from './config.js';
import { parseNetDev } from './proc.js';
import type { Scraper, ScraperContext } from './scraper.js';

export function createNetworkScraper({ meter, host, config }: ScraperContext): Scraper {
  const io = meter.counter('system.network.io', { unit: 'By', valueType: 'int', description: 'Bytes received and transmitted.' });
  const packets = meter.counter('system.network.packet.count', {
    unit: '{packet}',
    valueType: 'int',
    description: 'Packets received and transmitted.',
  });
  const errors = meter.counter('system.network.errors', {
    unit: '{error}',
    valueType: 'int',
    description: 'Receive and transmit errors (the errs columns).',
  });
  const dropped = meter.counter('system.network.packet.dropped', {
    unit: '{packet}',
    valueType: 'int',
    description: 'Packets dropped without an error (the drop columns).',
  });
  const excluded = compileNamePatterns(config.network.exclude_interfaces);

  return {
    name: 'network',
    async scrape() {
      for (const nic of parseNetDev(host.read(`${host.hostProcess}/net/dev`))) {
        if (excluded?.test(nic.name)) continue;
        const receive = { 'network.interface.name': nic.name, 'network.io.direction': 'receive' };
        const transmit = { 'network.interface.name': nic.name, 'network.io.direction': 'transmit' };
        io.set(nic.rxBytes, receive);
        io.set(nic.txBytes, transmit);
        packets.set(nic.rxPackets, receive);
        packets.set(nic.txPackets, transmit);
        errors.set(nic.rxErrors, receive);
        errors.set(nic.txErrors, transmit);
        dropped.set(nic.rxDropped, receive);
        dropped.set(nic.txDropped, transmit);
      }
      return [];
    },
  };
}
