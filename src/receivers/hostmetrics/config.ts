// The hostmetrics receiver's config: which scrapers run, how often, where the host's /proc
// and /sys are, and what each scraper leaves out.
import { z } from 'zod';
import { duration } from '../../component/schema.js';

export const SCRAPER_NAMES = ['cpu', 'memory', 'load', 'filesystem', 'disk', 'network', 'system', 'processes'] as const;
export type ScraperName = (typeof SCRAPER_NAMES)[number];

/**
 * Filesystem types that hold no data of their own: kernel interfaces (proc, sysfs, cgroup...),
 * container layers that repeat the disk under them (overlay), and read-only images that are
 * always full (squashfs). tmpfs stays: it is real memory, and a full /run or /dev/shm is a
 * real incident.
 */
export const DEFAULT_EXCLUDED_FS_TYPES = [
  'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts', 'devtmpfs',
  'efivarfs', 'erofs', 'fusectl', 'fuse\\.portal', 'hugetlbfs', 'mqueue', 'nsfs', 'overlay', 'proc',
  'pstore', 'ramfs', 'rpc_pipefs', 'securityfs', 'selinuxfs', 'squashfs', 'sysfs', 'tracefs',
];

/** Kernel interface trees and container runtimes' private mounts. */
export const DEFAULT_EXCLUDED_MOUNT_POINTS = [
  '/proc(/.*)?', '/sys(/.*)?', '/dev', '/dev/pts', '/dev/mqueue', '/dev/hugepages', '/run/credentials/.+',
  '/run/netns/.+', '/var/lib/docker/.+', '/var/lib/containers/storage/.+', '/var/lib/kubelet/pods/.+',
];

/** Loop devices, RAM disks and floppies: no physical I/O worth a series. */
export const DEFAULT_EXCLUDED_DEVICES = ['loop\\d+', 'ram\\d+', 'fd\\d+'];

/** A regular expression matched against a whole name (it is anchored at both ends). */
function namePattern() {
  return z.string().superRefine((pattern, ctx) => {
    try {
      new RegExp(`^(?:${pattern})$`);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `invalid regular expression "${pattern}": ${(error as Error).message}` });
    }
  });
}

function patterns(defaults: string[]) {
  return z.array(namePattern()).default(defaults);
}

export const configSchema = z.strictObject({
  /** How often the scrapers read the host. */
  collection_interval: duration()
    .refine((ms) => ms >= 1000, { message: 'must be at least 1s' })
    .prefault('30s'),
  /** Where the host's / is: `/hostfs` when the agent runs in a container with it mounted there. */
  root_path: z
    .string()
    .default('/')
    .refine((path) => path.startsWith('/'), { message: 'must be an absolute path' }),
  scrapers: z
    .array(z.enum(SCRAPER_NAMES))
    .default([...SCRAPER_NAMES])
    .refine((names) => new Set(names).size === names.length, { message: 'lists a scraper twice' }),
  cpu: z
    .strictObject({
      /** `per_cpu`: a series per logical CPU and mode; `total`: one per mode for the host. */
      breakdown: z.enum(['per_cpu', 'total']).default('per_cpu'),
    })
    .prefault({}),
  filesystem: z
    .strictObject({
      /** Filesystem types (regular expressions) not reported; replaces the default list. */
      exclude_fs_types: patterns(DEFAULT_EXCLUDED_FS_TYPES),
      /** Mount points (regular expressions) not reported; replaces the default list. */
      exclude_mount_points: patterns(DEFAULT_EXCLUDED_MOUNT_POINTS),
    })
    .prefault({}),
  disk: z
    .strictObject({
      /** Block devices (regular expressions) not reported; replaces the default list. */
      exclude_devices: patterns(DEFAULT_EXCLUDED_DEVICES),
      /** `whole_disks`: partitions left out, so a sum over devices counts each byte once. */
      devices: z.enum(['whole_disks', 'all']).default('whole_disks'),
    })
    .prefault({}),
  network: z
    .strictObject({
      /** Interfaces (regular expressions) not reported; every interface is by default. */
      exclude_interfaces: patterns([]),
    })
    .prefault({}),
});

export type HostmetricsConfig = z.output<typeof configSchema>;

/** One regular expression that matches a whole name when any of `patterns` does. */
export function compileNamePatterns(patterns: readonly string[]): RegExp | undefined {
  return patterns.length === 0 ? undefined : new RegExp(`^(?:${patterns.map((p) => `(?:${p})`).join('|')})$`);
}
