// `resource` processor: insert, update, upsert or delete resource attributes.
import type { ProcessorFactory } from '../../component/types.js';
import { configSchema, type ResourceProcessorConfig } from './config.js';

export type { ResourceProcessorConfig } from './config.js';

export const resourceProcessorFactory: ProcessorFactory<ResourceProcessorConfig> = {
  type: 'resource',
  kind: 'processor',
  stability: 'beta',
  description: 'Inserts, updates, upserts or deletes resource attributes (target_info labels).',
  configSchema,
  load: () => import('./processor.js'),
};
