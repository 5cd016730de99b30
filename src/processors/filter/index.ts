// `filter` processor: keep or drop whole metrics by name.
import type { ProcessorFactory } from '../../component/types.js';
import { configSchema, type FilterProcessorConfig } from './config.js';

export type { FilterProcessorConfig } from './config.js';

export const filterProcessorFactory: ProcessorFactory<FilterProcessorConfig> = {
  type: 'filter',
  kind: 'processor',
  stability: 'beta',
  description: 'Keeps or drops whole metrics by name (globs).',
  configSchema,
  load: () => import('./processor.js'),
};
