// The checksum receiver's config: which manifests to verify (paths or globs), which results
// files of `sha256sum -c` to read, how often, and how hard the disk may be read.
import { z } from 'zod';
import { duration, size } from '../../component/schema.js';

export const configSchema = z
  .strictObject({
    /** Manifests (`SHA256SUMS`, `*.sha512`, BSD tag files) to verify; paths or globs. */
    manifests: z.array(z.string().min(1)).default([]),
    /** Output of `sha256sum -c` (and its kin) written by something else; read when it changes. */
    results: z.array(z.string().min(1)).default([]),
    /** Time between the starts of two verification runs. */
    interval: duration()
      .refine((ms) => ms >= 1000, { message: 'must be at least 1s' })
      .prefault('1h'),
    /** Bytes read per second while hashing, at most; 0 reads as fast as the disk goes. */
    max_bytes_per_second: size().default(0),
    /** A file unchanged since its last good check (size, mtime, ctime, inode) is hashed again only this often; absent: never. */
    full_check_every: duration().optional(),
  })
  .superRefine((config, ctx) => {
    if (config.manifests.length === 0 && config.results.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['manifests'], message: 'expected at least one manifest or results file, found none' });
    }
  });

export type ChecksumConfig = z.output<typeof configSchema>;
