// `attributes` processor: the implementation, imported when a pipeline uses the type.
import type { DataPoint, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Attributes, CreateSettings, Processor } from '../../component/types.js';
import { globsMatcher } from '../../metrics/views.js';
import { applyActions } from '../actions.js';
import type { AttributesProcessorConfig } from './config.js';

export function create(_settings: CreateSettings, config: Readonly<AttributesProcessorConfig>): Processor {
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
}
