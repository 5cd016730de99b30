// `attributes` processor config.
import { z } from 'zod';
import { actionSchema } from '../actions.js';

export const configSchema = z.strictObject({
  /** Only metrics whose name matches one of these globs; all when absent. */
  metrics: z.array(z.string().min(1)).min(1).optional(),
  actions: z.array(actionSchema).min(1),
});

export type AttributesProcessorConfig = z.output<typeof configSchema>;
