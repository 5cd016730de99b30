// The hostmetrics receiver's config: which scrapers run, how often, where the host's /proc
// and /sys are, and what each scraper leaves out.
import { z } from 'zod';
import { duration } from '../../component/schema.js';

export const SCRAPER_NAMES = ['cpu', 'memory', 'load', 'filesystem', 'disk', 'network', 'system', 'processes', 'process'] as const;
export type ScraperName = (typeof SCRAPER_NAMES)[number];
/** What runs when `scrapers` is not given: all but `process`, which needs to be told which processes. */
export const DEFAULT_SCRAPERS: ScraperName[] = SCRAPER_NAMES.filter((name) => name !== 'process');

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

/** A regular expression searched for anywhere in a text (as `pgrep -f` does). */
function searchPattern() {
  return z.string().min(1).superRefine((pattern, ctx) => {
    try {
      new RegExp(pattern);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `invalid regular expression "${pattern}": ${(error as Error).message}` });
    }
  });
}

const SELECTOR_KEYS = ['executable', 'command', 'pidfile', 'systemd_unit'] as const;

/**
 * One way of picking processes for the `process` scraper; an entry names exactly one of
 * `executable`, `command`, `pidfile`, `systemd_unit`. `executable` and `match_type` follow
 * the Collector's process scraper (`names`, `match_type`).
 */
const processSelector = z
  .strictObject({
    /** The executable's name: the base name of /proc/PID/exe (else the kernel's 15-character `comm`). */
    executable: z.string().min(1).optional(),
    /** For `executable`: `strict`, the name itself; `regexp`, a regular expression matched against the whole name. */
    match_type: z.enum(['strict', 'regexp']).optional(),
    /** A regular expression searched for in the command line (arguments joined by spaces), as `pgrep -f` does. */
    command: searchPattern().optional(),
    /** A file holding the PID, as daemons write it; read again at every scrape. */
    pidfile: z.string().refine((file) => file.startsWith('/'), { message: 'must be an absolute path' }).optional(),
    /** Every process in the unit's cgroup; a name without a suffix is taken as `.service`. */
    systemd_unit: z
      .string()
      .min(1)
      .refine((unit) => !unit.includes('/'), { message: 'must be a unit name such as portsyncd.service, not a path' })
      .transform((unit) => (unit.includes('.') ? unit : `${unit}.service`))
      .optional(),
  })
  .superRefine((selector, ctx) => {
    const given = SELECTOR_KEYS.filter((key) => selector[key] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `expected exactly one of ${SELECTOR_KEYS.join(', ')}, found ${given.length === 0 ? 'none' : given.join(' and ')}`,
      });
      return;
    }
    if (selector.match_type !== undefined && selector.executable === undefined) {
      ctx.addIssue({ code: 'custom', path: ['match_type'], message: 'applies to executable only' });
    }
    if (selector.match_type === 'regexp') {
      try {
        new RegExp(`^(?:${selector.executable})$`);
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: ['executable'], message: `invalid regular expression "${selector.executable}": ${(error as Error).message}` });
      }
    }
  });

export type ProcessSelector = z.output<typeof processSelector>;

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
    .default([...DEFAULT_SCRAPERS])
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
  process: z
    .strictObject({
      /** The processes reported: any process an entry picks, each once. */
      include: z.array(processSelector).default([]),
    })
    .prefault({}),
}).superRefine((config, ctx) => {
  if (config.scrapers.includes('process') && config.process.include.length === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['process', 'include'],
      message: 'the process scraper needs at least one entry (executable, command, pidfile or systemd_unit)',
    });
  }
});

export type HostmetricsConfig = z.output<typeof configSchema>;

/** One regular expression that matches a whole name when any of `patterns` does. */
export function compileNamePatterns(patterns: readonly string[]): RegExp | undefined {
  return patterns.length === 0 ? undefined : new RegExp(`^(?:${patterns.map((p) => `(?:${p})`).join('|')})$`);
}
