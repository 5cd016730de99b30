// The shared ground of event receivers (joblog, mqtt): parsing a message into a record,
// keeping or dropping it, mapping records to metrics, counting what was refused, and the
// config keys for all of it. See README.md beside this file.
export {
  checkedAsWritten,
  checkEventHandling,
  compiledEventHandling,
  eventMetricsSchema,
  eventParsingShape,
  type EventHandlingConfig,
} from './config.js';
export * from './mapping/index.js';
export {
  compileLineParser,
  LINE_FORMATS,
  lineParserSchema,
  type LineFormat,
  type LineOutcome,
  type LineParser,
  type LineParserConfig,
  type LineSink,
  type ParseRefusal,
} from './parse.js';
export { EventPipeline, parseRefusals, type EventPipelineOptions, type ReceiverStateSlot, type SavedReceiverState } from './pipeline.js';
export { REFUSAL_LOG_INTERVAL_MS, REFUSED_METRIC, RefusalCounter } from './refusals.js';
export { parseIso8601, TIMESTAMP_FORMATS, timestampParser, type TimestampFormat } from './timestamp.js';
