// `attributes` processor: insert, update, upsert or delete data point attributes.
import type { DataPoint, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { z } from 'zod';
import type { Attributes, ProcessorFactory } from '../../component/types.js';
import { globsMatcher } from '../../metrics/views.js';
import { actionSchema, applyActions } from '../actions.js';

const configSchema = z.strictObject({
  /** Only metrics whose name matches one of these globs; all when absent. */
  metrics: z.array(z.string().min(1)).min(1).optional(),
  actions: z.array(actionSchema).min(1),
});

export type AttributesProcessorConfig = z.output<typeof configSchema>;

export const attributesProcessorFactory: ProcessorFactory<AttributesProcessorConfig> = {
  type: 'attributes',
  kind: 'processor',
  stability: 'beta',
  description: 'Inserts, updates, upserts or deletes data point attributes.',
  configSchema,
  create(_settings, config) {
    const only = config.metrics && globsMatcher(config.metrics);
    // The same input attributes object maps to the same output object, so the exporter's
    // per-series caches keep working across collections.
    const memo = new WeakMap<Attributes, Attributes>();
    const rewrite = (attributes: Attributes): Attributes => {
      let out = memo.get(attributes);
      if (out === undefined) {
        out = applyActions(config.actions, attributes);
        memo.set(attributes, out);
      }
      return out;
    };
    const processMetric = (metric: MetricData): MetricData => {
      if (only && !only(metric.descriptor.name)) return metric;
      // Every point copied, even where the actions changed nothing: measured (bench/processors.ts),
      // skipping unchanged points made the usual case, an upsert on every point, a third slower.
      const dataPoints = (metric.dataPoints as DataPoint<unknown>[]).map((point) => ({ ...point, attributes: rewrite(point.attributes) }));
      return { ...metric, dataPoints } as MetricData;
    };
    return {
      process(input: ResourceMetrics): ResourceMetrics {
        return {
          resource: input.resource,
          scopeMetrics: input.scopeMetrics.map((scope) => ({ scope: scope.scope, metrics: scope.metrics.map(processMetric) })),
        };
      },
    };
  },
};
