// `resource` processor config.
import { z } from 'zod';
import { actionSchema } from '../actions.js';

export const configSchema = z.strictObject({
  attributes: z.array(actionSchema).min(1),
});

export type ResourceProcessorConfig = z.output<typeof configSchema>;
