// `resource` processor: the implementation, imported when a pipeline uses the type.
import type { Resource } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { CreateSettings, Processor } from '../../component/types.js';
import { resourceFromAttributes } from '../../metrics/otel.js';
import { applyActions } from '../actions.js';
import type { ResourceProcessorConfig } from './config.js';

export function create(_settings: CreateSettings, config: Readonly<ResourceProcessorConfig>): Processor {
  // The resource is the same object at every collection: rewrite it once.
  const memo = new WeakMap<Resource, Resource>();
  return {
    process(input: ResourceMetrics): ResourceMetrics {
      let resource = memo.get(input.resource);
      if (resource === undefined) {
        resource = resourceFromAttributes(applyActions(config.attributes, input.resource.attributes));
        memo.set(input.resource, resource);
      }
      return { resource, scopeMetrics: input.scopeMetrics };
    },
  };
}
