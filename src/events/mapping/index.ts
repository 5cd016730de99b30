// The shared event-to-metrics mapping, used by every event receiver (joblog, mqtt).
// See docs/adr/0007-event-mapping.md.
export { compileConditions, conditionsSchema, fieldName, type Condition, type Conditions, type RecordPredicate } from './conditions.js';
export {
  fieldReferences,
  fieldsRead,
  metricSchema,
  metricsSchema,
  METRIC_TYPES,
  type AttributeSource,
  type FieldReference,
  type MetricMapping,
  type MetricsConfig,
  type MetricType,
  type PairConfig,
  type ValueSource,
} from './config.js';
export { compileMapping, parseNumber, type EventMapper, type MapperOptions, type SavedPair, type SavedState } from './mapper.js';
export { MAPPING_REFUSALS, type EventRecord, type MappingRefusal } from './record.js';
