// Space and inodes of every mounted filesystem that holds data, from the host's mountinfo
// and statfs(2) on each mount point.
import { compileNamePatterns } from './config.js';
import type { FsStats } from './hostfs.js';
import { parseMountinfo, type Mount } from './proc.js';
import type { Scraper, ScraperContext } from './scraper.js';

/**
 * How long one statfs may take. A hung network mount never answers, and each call holds
 * one of libuv's few threads, so a mount still pending is not asked again until it answers.
 */
export const STATFS_TIMEOUT_MS = 5000;

/**
 * statfs errors that are no trouble: a mount gone since mountinfo was read, or one the
 * agent's user may not look into (another user's FUSE mount). They are left out quietly.
 */
const QUIET_ERRORS = new Set(['ENOENT', 'EACCES', 'EPERM']);

export function createFilesystemScraper({ meter, host, config }: ScraperContext, statfsTimeoutMs = STATFS_TIMEOUT_MS): Scraper {
  const usage = meter.upDownCounter('system.filesystem.usage', {
    unit: 'By',
    valueType: 'int',
    description: 'Filesystem space by state: used, free (available to users) and reserved (for root).',
  });
  const limit = meter.upDownCounter('system.filesystem.limit', { unit: 'By', valueType: 'int', description: 'Filesystem size.' });
  const utilization = meter.gauge('system.filesystem.utilization', {
    unit: '1',
    description: 'Used share of the space users can have: used / (used + free), as df shows it.',
  });
  const inodes = meter.upDownCounter('system.filesystem.inodes.usage', {
    unit: '{inode}',
    valueType: 'int',
    description: 'Filesystem inodes by state.',
  });
  const excludedTypes = compileNamePatterns(config.filesystem.exclude_fs_types);
  const excludedMountPoints = compileNamePatterns(config.filesystem.exclude_mount_points);
  /** Mount points whose statfs has not answered yet. */
  const pending = new Set<string>();

  function statfs(mountPoint: string): Promise<FsStats> {
    pending.add(mountPoint);
    const call = host.statfs(mountPoint).finally(() => pending.delete(mountPoint));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`statfs gave no answer in ${statfsTimeoutMs} ms`)), statfsTimeoutMs);
      timer.unref();
    });
    return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
  }

  function record(mount: Mount, stats: FsStats): void {
    const attributes = {
      'system.device': mount.source,
      'system.filesystem.mountpoint': mount.mountPoint,
      'system.filesystem.type': mount.fsType,
      'system.filesystem.mode': mount.mode,
    };
    const used = (stats.blocks - stats.bfree) * stats.bsize;
    const free = stats.bavail * stats.bsize;
    usage.set(used, { ...attributes, 'system.filesystem.state': 'used' });
    usage.set(free, { ...attributes, 'system.filesystem.state': 'free' });
    usage.set((stats.bfree - stats.bavail) * stats.bsize, { ...attributes, 'system.filesystem.state': 'reserved' });
    limit.set(stats.blocks * stats.bsize, attributes);
    if (used + free > 0) utilization.set(used / (used + free), attributes);
    // Some filesystems (btrfs, vfat) have no inode table and report 0 inodes.
    if (stats.files > 0) {
      inodes.set(stats.files - stats.ffree, { ...attributes, 'system.filesystem.state': 'used' });
      inodes.set(stats.ffree, { ...attributes, 'system.filesystem.state': 'free' });
    }
  }

  return {
    name: 'filesystem',
    async scrape() {
      const mounts = parseMountinfo(host.read(`${host.hostProcess}/mountinfo`)).filter(
        (mount) => !excludedTypes?.test(mount.fsType) && !excludedMountPoints?.test(mount.mountPoint),
      );
      const problems: string[] = [];
      await Promise.all(
        mounts.map(async (mount) => {
          if (pending.has(mount.mountPoint)) {
            problems.push(`statfs of ${mount.mountPoint} has not answered since an earlier scrape`);
            return;
          }
          try {
            record(mount, await statfs(mount.mountPoint));
          } catch (error) {
            if (QUIET_ERRORS.has((error as NodeJS.ErrnoException).code ?? '')) return;
            problems.push(`statfs of ${mount.mountPoint}: ${(error as Error).message}`);
          }
        }),
      );
      return problems.sort();
    },
  };
}
