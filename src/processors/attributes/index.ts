// `attributes` processor: insert, update, upsert or delete data point attributes.
import type { ProcessorFactory } from '../../component/types.js';
import { configSchema, type AttributesProcessorConfig } from './config.js';

export type { AttributesProcessorConfig } from './config.js';

export const attributesProcessorFactory: ProcessorFactory<AttributesProcessorConfig> = {
  type: 'attributes',
  kind: 'processor',
  stability: 'beta',
  description: 'Inserts, updates, upserts or deletes data point attributes.',
  configSchema,
  load: () => import('./processor.js'),
};
