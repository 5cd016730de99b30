// Block device I/O: bytes, operations, merges and time, from /proc/diskstats; /sys/block
// tells whole disks from partitions.
import { compileNamePatterns } from './config.js';
import { parseDiskstats } from './proc.js';
import type { Scraper, ScraperContext } from './scraper.js';

/** /proc/diskstats counts 512-byte sectors whatever the device's own sector size. */
const SECTOR_BYTES = 512;

export function createDiskScraper({ meter, host, config }: ScraperContext): Scraper {
  const io = meter.counter('system.disk.io', { unit: 'By', valueType: 'int', description: 'Bytes read and written.' });
  const operations = meter.counter('system.disk.operations', {
    unit: '{operation}',
    valueType: 'int',
    description: 'Reads and writes completed.',
  });
  const merged = meter.counter('system.disk.merged', {
    unit: '{operation}',
    valueType: 'int',
    description: 'Reads and writes merged into a neighbouring one before reaching the device.',
  });
  const ioTime = meter.counter('system.disk.io_time', {
    unit: 's',
    description: 'Time the device was busy with at least one operation (wall clock).',
  });
  const operationTime = meter.counter('system.disk.operation_time', {
    unit: 's',
    description: 'Sum of the time each read or write took; parallel operations each count.',
  });
  const excluded = compileNamePatterns(config.disk.exclude_devices);
  const wholeDisksOnly = config.disk.devices === 'whole_disks';

  /** Names of whole disks: /sys/block lists no partitions. Undefined without /sys. */
  function wholeDisks(): Set<string> | undefined {
    try {
      return new Set(host.readdir('/sys/block'));
    } catch {
      return undefined;
    }
  }

  return {
    name: 'disk',
    async scrape() {
      const disks = wholeDisksOnly ? wholeDisks() : undefined;
      for (const disk of parseDiskstats(host.read('/proc/diskstats'))) {
        if (excluded?.test(disk.name)) continue;
        if (disks !== undefined && !disks.has(disk.name)) continue;
        const read = { 'system.device': disk.name, 'disk.io.direction': 'read' };
        const write = { 'system.device': disk.name, 'disk.io.direction': 'write' };
        io.set(disk.sectorsRead * SECTOR_BYTES, read);
        io.set(disk.sectorsWritten * SECTOR_BYTES, write);
        operations.set(disk.readsCompleted, read);
        operations.set(disk.writesCompleted, write);
        merged.set(disk.readsMerged, read);
        merged.set(disk.writesMerged, write);
        operationTime.set(disk.readMs / 1000, read);
        operationTime.set(disk.writeMs / 1000, write);
        ioTime.set(disk.ioMs / 1000, { 'system.device': disk.name });
      }
      return wholeDisksOnly && disks === undefined ? ['/sys/block is not readable: partitions are reported too'] : [];
    },
  };
}
