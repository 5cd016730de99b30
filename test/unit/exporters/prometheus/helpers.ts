// Builders for hand-made ResourceMetrics, so each test states exactly what goes in.
import type { Attributes } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';

const TIME: [number, number] = [1_700_000_000, 0];

export interface ScopeInput {
  name: string;
  version?: string;
  metrics: MetricData[];
}

export function resourceMetrics(resource: Attributes, scopes: ScopeInput[]): ResourceMetrics {
  return {
    resource: resourceFromAttributes(resource),
    scopeMetrics: scopes.map(({ name, version, metrics }) => ({ scope: { name, version }, metrics })),
  };
}

interface Descriptor {
  unit?: string;
  description?: string;
  valueType?: ValueType;
}

function descriptor(name: string, d: Descriptor) {
  return { name, unit: d.unit ?? '', description: d.description ?? '', valueType: d.valueType ?? ValueType.DOUBLE };
}

function points<T>(values: Array<[Attributes, T]>) {
  return values.map(([attributes, value]) => ({ attributes, value, startTime: TIME, endTime: TIME }));
}

export function sum(
  name: string,
  d: Descriptor & { monotonic?: boolean; temporality?: AggregationTemporality },
  values: Array<[Attributes, number]>,
): MetricData {
  return {
    descriptor: descriptor(name, d),
    aggregationTemporality: d.temporality ?? AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: d.monotonic ?? true,
    dataPoints: points(values),
  };
}

export function gauge(name: string, d: Descriptor, values: Array<[Attributes, number]>): MetricData {
  return {
    descriptor: descriptor(name, d),
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: points(values),
  };
}

export interface HistogramInput {
  counts: number[];
  sum?: number;
  count?: number;
}

export function histogram(
  name: string,
  d: Descriptor & { boundaries: number[] },
  values: Array<[Attributes, HistogramInput]>,
): MetricData {
  return {
    descriptor: descriptor(name, d),
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints: points(
      values.map(([attributes, h]) => [
        attributes,
        {
          buckets: { boundaries: d.boundaries, counts: h.counts },
          sum: h.sum,
          count: h.count ?? h.counts.reduce((a, b) => a + b, 0),
        },
      ]),
    ),
  };
}

export function exponentialHistogram(name: string, values: Attributes[]): MetricData {
  return {
    descriptor: descriptor(name, {}),
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
    dataPoints: points(
      values.map((attributes) => [
        attributes,
        { count: 1, sum: 1, scale: 0, zeroCount: 0, positive: { offset: 0, bucketCounts: [1] }, negative: { offset: 0, bucketCounts: [] } },
      ]),
    ),
  };
}
