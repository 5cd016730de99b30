// `resource` processor: insert, update, upsert or delete resource attributes.
import type { Resource } from '@opentelemetry/resources';
import { resourceFromAttributes } from '../../metrics/otel.js';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { z } from 'zod';
import type { ProcessorFactory } from '../../component/types.js';
import { actionSchema, applyActions } from '../actions.js';

const configSchema = z.strictObject({
  attributes: z.array(actionSchema).min(1),
});

export type ResourceProcessorConfig = z.output<typeof configSchema>;

export const resourceProcessorFactory: ProcessorFactory<ResourceProcessorConfig> = {
  type: 'resource',
  kind: 'processor',
  stability: 'beta',
  description: 'Inserts, updates, upserts or deletes resource attributes (target_info labels).',
  configSchema,
  create(_settings, config) {
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
  },
};
