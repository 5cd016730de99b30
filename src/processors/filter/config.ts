// `filter` processor config.
import { z } from 'zod';

export const configSchema = z
  .strictObject({
    metrics: z.strictObject({
      /** Keep only metrics matching one of these globs. */
      include: z.array(z.string().min(1)).min(1).optional(),
      /** Then drop metrics matching one of these globs. */
      exclude: z.array(z.string().min(1)).min(1).optional(),
    }),
  })
  .refine((config) => config.metrics.include !== undefined || config.metrics.exclude !== undefined, {
    message: 'expected "include" or "exclude" (or both) under "metrics"',
    path: ['metrics'],
  });

export type FilterProcessorConfig = z.output<typeof configSchema>;
