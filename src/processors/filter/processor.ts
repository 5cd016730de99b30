// `filter` processor: the implementation, imported when a pipeline uses the type.
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { CreateSettings, Processor } from '../../component/types.js';
import { globsMatcher } from '../../metrics/views.js';
import type { FilterProcessorConfig } from './config.js';

export function create(_settings: CreateSettings, config: Readonly<FilterProcessorConfig>): Processor {
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
}
