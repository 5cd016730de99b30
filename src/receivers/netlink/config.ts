// The netlink receiver's config: which interfaces (name globs), how often the kernel's
// counters are read in full besides at every collection, and how the event source is
// restarted when it dies.
import { z } from 'zod';
import { durationBetween } from '../../component/schema.js';


const globs = (fallback: string[]) => z.array(z.string().min(1, { message: 'an empty glob matches nothing' })).default(fallback);

export const configSchema = z
  .strictObject({
    /** Interface names reported (globs: `eth*`, `swp[0-9]*`, `{eth0,bond0}`); every interface by default. */
    include: globs(['*']),
    /** Interface names left out even when included; replaces the default list (`lo`). */
    exclude: globs(['lo']),
    /**
     * How often every interface is read again from /sys/class/net besides each collection:
     * the counters there make up for an event the kernel coalesced or the monitor missed.
     */
    reconcile_interval: durationBetween('10s', 100),
    /** The wait before the first restart of a dead event source; it doubles up to `max`. */
    restart_backoff: z
      .strictObject({
        initial_interval: durationBetween('500ms', 10),
        max_interval: durationBetween('30s', 10),
      })
      .prefault({})
      .refine((backoff) => backoff.max_interval >= backoff.initial_interval, {
        message: 'max_interval must be at least initial_interval',
      }),
  });

export type NetlinkConfig = z.output<typeof configSchema>;
