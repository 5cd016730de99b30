// `filter` processor: keep or drop whole metrics by name.
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { z } from 'zod';
import type { ProcessorFactory } from '../../component/types.js';
import { globsMatcher } from '../../metrics/views.js';

const configSchema = z
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

export const filterProcessorFactory: ProcessorFactory<FilterProcessorConfig> = {
  type: 'filter',
  kind: 'processor',
  stability: 'beta',
  description: 'Keeps or drops whole metrics by name (globs).',
  configSchema,
  create(_settings, config) {
    const include = config.metrics.include && globsMatcher(config.metrics.include);
    const exclude = config.metrics.exclude && globsMatcher(config.metrics.exclude);
    const keep = (name: string) => (!include || include(name)) && !(exclude && exclude(name));
    return {
      process(input: ResourceMetrics): ResourceMetrics {
        return {
          resource: input.resource,
          scopeMetrics: input.scopeMetrics.map((scope) => ({
            scope: scope.scope,
            metrics: scope.metrics.filter((metric) => keep(metric.descriptor.name)),
          })),
        };
      },
    };
  },
};
