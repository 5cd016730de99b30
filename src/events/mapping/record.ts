// What flows from a parser (a log line, an MQTT payload) into the mapping.

/**
 * One event: fields by name, as text. A field may be absent, or present as `undefined` (a
 * regex group that took no part in the match); both read as missing. Records may come with
 * `Object.prototype` (JSON.parse output), so a field is present only when its value is a string.
 */
export type EventRecord = Readonly<Record<string, string | undefined>>;

/** Why a record, or one measurement of it, was skipped or an open pair was dropped. */
export type MappingRefusal =
  /** A field the metric reads (value, attribute, pair key) is not in the record. */
  | 'missing_field'
  /** The value field is not a finite decimal number. */
  | 'non_numeric_value'
  /** A negative value for a counter or a histogram, which only go up. */
  | 'negative_value'
  /** A field's text is not in the value map and the map has no default. */
  | 'unmapped_value'
  /** An end record whose key has no open start. */
  | 'unmatched_end'
  /** An end record timed before its start. */
  | 'negative_duration'
  /** A start record whose key was already open: the older start is dropped. */
  | 'pair_restarted'
  /** An open start older than the pair's timeout, dropped. */
  | 'pair_expired'
  /** The oldest open start, dropped to make room when the table was full. */
  | 'pair_evicted';

export const MAPPING_REFUSALS: readonly MappingRefusal[] = [
  'missing_field',
  'non_numeric_value',
  'negative_value',
  'unmapped_value',
  'unmatched_end',
  'negative_duration',
  'pair_restarted',
  'pair_expired',
  'pair_evicted',
];
