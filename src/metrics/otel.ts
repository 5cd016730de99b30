// OpenTelemetry data-model constants and a plain Resource, without loading the SDK.
//
// The agent speaks the SDK's data model (`ResourceMetrics`, `MetricData`) but needs none of
// its code at run time: importing `@opentelemetry/sdk-metrics` and `@opentelemetry/resources`
// only for two enums and `resourceFromAttributes` cost several MB of resident memory on a
// process whose whole budget is 60 MB (bench/RESULTS.md). The values below are the SDK's own
// enum values; the `satisfies`-style casts make the compiler check them against its types.
import type { Attributes, ValueType as ApiValueType } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { AggregationTemporality as SdkTemporality, DataPointType as SdkDataPointType } from '@opentelemetry/sdk-metrics';

export const DataPointType = {
  HISTOGRAM: 0 as SdkDataPointType.HISTOGRAM,
  EXPONENTIAL_HISTOGRAM: 1 as SdkDataPointType.EXPONENTIAL_HISTOGRAM,
  GAUGE: 2 as SdkDataPointType.GAUGE,
  SUM: 3 as SdkDataPointType.SUM,
} as const;

export const AggregationTemporality = {
  DELTA: 0 as SdkTemporality.DELTA,
  CUMULATIVE: 1 as SdkTemporality.CUMULATIVE,
} as const;

export const ValueType = {
  INT: 0 as ApiValueType.INT,
  DOUBLE: 1 as ApiValueType.DOUBLE,
} as const;

/** A resource whose attributes are all known up front (no async detectors). */
class StaticResource implements Resource {
  readonly attributes: Attributes;

  constructor(attributes: Attributes) {
    this.attributes = Object.freeze({ ...attributes });
  }

  merge(other: Resource | null): Resource {
    return other ? new StaticResource({ ...this.attributes, ...other.attributes }) : this;
  }

  getRawAttributes(): [string, Attributes[string]][] {
    return Object.entries(this.attributes);
  }
}

export function resourceFromAttributes(attributes: Attributes): Resource {
  return new StaticResource(attributes);
}
