// From a log line to a record of text fields: `json`, `logfmt`, or a `regex` with named
// groups; then `include`/`exclude` conditions and, when asked, the record's time from a field.
// Each format parser returns a record or the reason it refused the line, and never throws.
import { isAscii } from 'node:buffer';
import { z } from 'zod';
import { compileConditions, conditionsSchema, fieldName, type Conditions, type EventRecord } from './mapping/index.js';
import { JsonFieldScanner } from './json-scan.js';
import { escapeText, LogfmtFieldScanner } from './logfmt-scan.js';
import { TIMESTAMP_FORMATS, timestampParser, type TimestampFormat } from './timestamp.js';

export { parseIso8601, TIMESTAMP_FORMATS, timestampParser, type TimestampFormat } from './timestamp.js';

/** Why a line gave no record. */
export type ParseRefusal =
  /** Nothing but whitespace. */
  | 'empty_line'
  | 'invalid_json'
  /** Valid JSON, but an array, a string, a number... not an object. */
  | 'not_an_object'
  /** Valid JSON nested too deep to be written back as text (arrays in arrays by the thousand). */
  | 'too_deep'
  /** An unterminated quote, a key with a quote in it, or a `=` with no key. */
  | 'invalid_logfmt'
  /** The line does not match the format's regex. */
  | 'no_match'
  /** The timestamp field is not in the record. */
  | 'missing_timestamp'
  /** The timestamp field's text is not a time in the configured format. */
  | 'invalid_timestamp';

export type FormatParser = (line: string) => EventRecord | ParseRefusal;

export const LINE_FORMATS = ['json', 'logfmt', 'regex'] as const;
export type LineFormat = (typeof LINE_FORMATS)[number];

const BYTE_ORDER_MARK = 0xfeff;
const CARRIAGE_RETURN = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const EQUALS = 0x3d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Without a leading byte order mark (a file's first line) or a trailing `\r` (CRLF files). */
function stripLine(line: string): string {
  const start = line.charCodeAt(0) === BYTE_ORDER_MARK ? 1 : 0;
  const end = line.charCodeAt(line.length - 1) === CARRIAGE_RETURN ? line.length - 1 : line.length;
  return start === 0 && end === line.length ? line : line.slice(start, end);
}

/** Printable ASCII other than the space: a line that starts with one is not blank. */
function isVisibleAscii(code: number): boolean {
  return code > SPACE && code < 0x7f;
}

function isBlank(line: string): boolean {
  return line.length === 0 || line.trim().length === 0;
}

// Records built here inherit from nothing, so `__proto__` and `constructor` are fields like any
// other. Made by a constructor rather than Object.create(null), which V8 keeps as a slow
// dictionary: logfmt parsing measured 5 times slower with it.
const FieldsPrototype: object = Object.create(null);
function Fields(): void {}
Fields.prototype = FieldsPrototype;
const FieldsConstructor = Fields as unknown as new () => Record<string, string>;

// JSON ---------------------------------------------------------------------------------------

/** Nested objects deeper than this are kept as JSON text: flattening recurses. */
const MAX_JSON_DEPTH = 16;

/**
 * A JSON object, flattened: nested objects' fields as `a.b`, numbers and booleans as their
 * text, arrays as JSON text, `null` as absent. A flat object is converted in place (the
 * common case costs little more than `JSON.parse`).
 */
export function parseJsonLine(input: string): EventRecord | ParseRefusal {
  const line = stripLine(input);
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return isBlank(line) ? 'empty_line' : 'invalid_json';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'not_an_object';
  try {
    return flattenedInPlace(parsed as Record<string, unknown>);
  } catch (error) {
    // JSON.parse takes any depth; writing an array back as text recurses, and may not.
    if (error instanceof RangeError) return 'too_deep';
    throw error;
  }
}

function flattenedInPlace(object: Record<string, unknown>): EventRecord {
  for (const key in object) {
    const value = object[key];
    switch (typeof value) {
      case 'string':
        continue;
      case 'number':
      case 'boolean':
        object[key] = String(value);
        continue;
      default:
        if (value === null) object[key] = undefined;
        else if (Array.isArray(value)) object[key] = JSON.stringify(value);
        // Nested fields are new keys, which must not be added to an object being iterated.
        else return flattened(object);
    }
  }
  return object as EventRecord;
}

/** A line's parser that takes the line's bytes (valid UTF-8, without its newline). */
export type BytesParser = (bytes: Buffer, start: number, end: number) => EventRecord | ParseRefusal;

/** A parser of text lines, fed the decoded line. */
function decoding(parse: FormatParser): BytesParser {
  return (bytes, start, end) => parse(bytes.toString('utf8', start, end));
}

/**
 * A parser of text lines, fed slices of its chunk decoded once: the tailer hands on the lines
 * of one read with the same buffer, and a slice costs a fraction of a decode per line (a
 * fifth of a regex line's time). Only ASCII chunks, whose bytes are their characters; others
 * are decoded line by line. Slices point into the chunk's text: what is kept for long is
 * copied where it is kept (`ownCopy`).
 */
function decodingByChunk(parse: FormatParser): BytesParser {
  let chunk: Buffer | undefined;
  let chunkText: string | undefined;
  return (bytes, start, end) => {
    if (bytes !== chunk) {
      chunk = bytes;
      chunkText = isAscii(bytes) ? bytes.toString('latin1') : undefined;
    }
    return parse(chunkText === undefined ? bytes.toString('utf8', start, end) : chunkText.slice(start, end));
  };
}

/**
 * The JSON parser for consumers that read only `fields` (flattened names): records hold those
 * fields at least, with the text `parseJsonLine` gives them, and every line gets the outcome it
 * gets there. Without `fields`, `parseJsonLine` itself.
 */
export function compileJsonParser(fields?: Iterable<string>): BytesParser {
  if (fields === undefined) return decoding(parseJsonLine);
  const scanner = new JsonFieldScanner<ParseRefusal>(fields, MAX_JSON_DEPTH, parseJsonLine, () => new FieldsConstructor());
  return (bytes, start, end) => scanner.parse(bytes, start, end);
}

/**
 * The logfmt parser for consumers that read only `fields`: records hold those fields at least,
 * with the text `parseLogfmtLine` gives them, and every line gets the outcome it gets there.
 * Without `fields`, `parseLogfmtLine` itself.
 */
export function compileLogfmtParser(fields?: Iterable<string>): BytesParser {
  if (fields === undefined) return decoding(parseLogfmtLine);
  const scanner = new LogfmtFieldScanner<ParseRefusal>(fields, parseLogfmtLine, () => new FieldsConstructor());
  return (bytes, start, end) => scanner.parse(bytes, start, end);
}

function flattened(object: Record<string, unknown>): EventRecord {
  const record = new FieldsConstructor();
  addFields(record, '', object, 0);
  return record;
}

function addFields(record: Record<string, string>, prefix: string, object: Record<string, unknown>, depth: number): void {
  for (const key in object) {
    const value = object[key];
    const name = prefix + key;
    if (typeof value === 'string') record[name] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') record[name] = String(value);
    else if (value === null || value === undefined) continue;
    else if (Array.isArray(value) || depth >= MAX_JSON_DEPTH) record[name] = JSON.stringify(value);
    else addFields(record, name + '.', value as Record<string, unknown>, depth + 1);
  }
}

// logfmt -------------------------------------------------------------------------------------

function unescaped(code: number): string {
  // Unknown escapes keep their backslash: nothing the writer meant is dropped.
  return escapeText(code) ?? '\\' + String.fromCharCode(code);
}

/**
 * The keys of the last line, by position. Lines of one log repeat their keys in the same
 * order; a key found again here is used as it is instead of a new slice, which saves V8 the
 * lookup that turns each new key text into a property name (about 12% of a line's cost).
 */
const logfmtKeys: string[] = [];
const MAX_CACHED_KEYS = 64;

/**
 * `key=value key2="quoted \" value" flag`: pairs separated by spaces or tabs; a value runs to
 * the next space and may hold `=`; a quoted value may hold spaces and `\" \\ \n \t \r`
 * escapes; a bare key reads as "true" and `key=` as "". A repeated key keeps its last value.
 */
export function parseLogfmtLine(input: string): EventRecord | ParseRefusal {
  const line = stripLine(input);
  const length = line.length;
  const record = new FieldsConstructor();
  let fields = 0;
  // Where the next backslash is: searched once and again only after it is passed, so that a
  // long line of many quoted values costs one pass (-2: not searched yet; -1: none left).
  let backslash = -2;
  let i = 0;
  while (i < length) {
    let code = line.charCodeAt(i);
    if (code === SPACE || code === TAB) {
      i++;
      continue;
    }
    const keyStart = i;
    while (i < length) {
      code = line.charCodeAt(i);
      if (code === EQUALS || code === SPACE || code === TAB) break;
      if (code === QUOTE) return 'invalid_logfmt';
      i++;
    }
    if (i === keyStart) return 'invalid_logfmt';
    let key = logfmtKeys[fields];
    if (key === undefined || key.length !== i - keyStart || !line.startsWith(key, keyStart)) {
      key = line.slice(keyStart, i);
      if (fields < MAX_CACHED_KEYS) logfmtKeys[fields] = key;
    }
    fields++;
    if (i === length || code !== EQUALS) {
      record[key] = 'true';
      continue;
    }
    i++;
    if (line.charCodeAt(i) !== QUOTE) {
      const valueStart = i;
      while (i < length) {
        code = line.charCodeAt(i);
        if (code === SPACE || code === TAB) break;
        i++;
      }
      record[key] = line.slice(valueStart, i);
      continue;
    }
    // Jump from quote to backslash with indexOf: most quoted values hold no escape at all.
    let value = '';
    let segmentStart = ++i;
    for (;;) {
      const quote = line.indexOf('"', i);
      if (quote === -1) return 'invalid_logfmt';
      if (backslash !== -1 && backslash < i) backslash = line.indexOf('\\', i);
      if (backslash === -1 || backslash > quote) {
        i = quote;
        break;
      }
      if (backslash + 1 >= length) return 'invalid_logfmt';
      value += line.slice(segmentStart, backslash) + unescaped(line.charCodeAt(backslash + 1));
      i = backslash + 2;
      segmentStart = i;
    }
    record[key] = value + line.slice(segmentStart, i);
    i++;
    if (i < length) {
      code = line.charCodeAt(i);
      if (code !== SPACE && code !== TAB) return 'invalid_logfmt';
    }
  }
  return fields === 0 ? 'empty_line' : record;
}

// regex --------------------------------------------------------------------------------------

/** Why a line pattern cannot be used, or undefined. */
function linePatternProblem(pattern: string): string | undefined {
  const probed = probeLinePattern(pattern);
  return 'problem' in probed ? probed.problem : undefined;
}

/** The fields a line pattern gives (its named groups), or undefined for a pattern that cannot be used. */
export function regexFields(pattern: string): string[] | undefined {
  const probed = probeLinePattern(pattern);
  return 'fields' in probed ? probed.fields : undefined;
}

/** A line pattern's named groups, or why it cannot be used. */
function probeLinePattern(pattern: string): { fields: string[] } | { problem: string } {
  let probe: RegExpExecArray | null;
  try {
    // The empty alternative always matches, so `groups` shows whether named groups exist.
    probe = new RegExp(`(?:${pattern})|`).exec('');
  } catch (error) {
    return { problem: `invalid regular expression "${pattern}": ${(error as Error).message}` };
  }
  if (probe?.groups === undefined) return { problem: 'expected named groups, like (?<status>\\w+): each becomes a field' };
  return { fields: Object.keys(probe.groups) };
}

/**
 * A regex with named groups, compiled once and anchored as written (`^...$` to match whole
 * lines). Each named group is a field; a group that took no part in the match is absent.
 */
export function compileRegexParser(pattern: string): FormatParser {
  const problem = linePatternProblem(pattern);
  if (problem !== undefined) throw new Error(problem);
  const regex = new RegExp(pattern);
  return (input) => {
    const line = stripLine(input);
    const match = regex.exec(line);
    // A blank line is refused as one even where the regex would take it; a line starting with a
    // visible character is not blank, which spares most lines the look at the whole line.
    if (line.length === 0 || (!isVisibleAscii(line.charCodeAt(0)) && isBlank(line))) return 'empty_line';
    return match === null ? 'no_match' : (match.groups as EventRecord);
  };
}

// config and the compiled line parser ---------------------------------------------------------

/**
 * The parsing keys of an event receiver's config, to spread into its strict object, with
 * `checkLineParser` as a refinement (a `regex` belongs with `format: regex` only).
 */
export const lineParserShape = {
  format: z.enum(LINE_FORMATS),
  /** The pattern for `format: regex`, anchored as written, with named groups. */
  regex: z
    .string()
    .superRefine((pattern, ctx) => {
      const problem = linePatternProblem(pattern);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  /** Only records meeting all these conditions are kept. */
  include: conditionsSchema.optional(),
  /** Records meeting all these conditions are dropped. */
  exclude: conditionsSchema.optional(),
  /** The record's time from a field, instead of the time the line was read. */
  timestamp: z
    .strictObject({ field: fieldName(), format: z.enum(TIMESTAMP_FORMATS).default('iso8601') })
    .optional(),
};

export function checkLineParser(config: { format?: unknown; regex?: unknown }, ctx: z.RefinementCtx): void {
  if (config.format === 'regex' && config.regex === undefined) {
    ctx.addIssue({ code: 'custom', path: ['regex'], message: 'expected a regex with named groups for format: regex' });
  }
  if (config.format !== 'regex' && config.format !== undefined && config.regex !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['regex'], message: `expected no regex with format: ${String(config.format)}` });
  }
}

/** The same keys as a nested strict object. */
export const lineParserSchema = z
  .strictObject(lineParserShape)
  .superRefine(checkLineParser, { when: ({ value }) => typeof value === 'object' && value !== null });

export interface LineParserConfig {
  format: LineFormat;
  regex?: string;
  include?: Conditions;
  exclude?: Conditions;
  timestamp?: { field: string; format: TimestampFormat };
}

export interface LineSink {
  onRecord(record: EventRecord, timeMs: number): void;
  onRefused(reason: ParseRefusal): void;
}

/** What became of a line: a record handed on, a refusal reported, or dropped by include/exclude. */
export type LineOutcome = 'record' | 'refused' | 'filtered';

/**
 * Parses the line in `bytes` from `start` to `end` (valid UTF-8, without its newline) and
 * hands on what it gives. A buffer object handed in again must hold the same bytes (the
 * tailer hands each read in a view of its own): parsers may keep what they decoded of it.
 */
export type LineParser = (bytes: Buffer, start: number, end: number, receivedMs: number) => LineOutcome;

function formatParser(config: LineParserConfig, fields: Iterable<string> | undefined): BytesParser {
  switch (config.format) {
    case 'json':
      return compileJsonParser(fields);
    case 'logfmt':
      return compileLogfmtParser(fields);
    case 'regex':
      if (config.regex === undefined) throw new Error('format: regex needs a regex');
      return decodingByChunk(compileRegexParser(config.regex));
  }
}

/** The fields that parsing itself reads: include/exclude conditions and the timestamp. */
function fieldsParsingReads(config: LineParserConfig): string[] {
  return [...Object.keys(config.include ?? {}), ...Object.keys(config.exclude ?? {}), ...(config.timestamp ? [config.timestamp.field] : [])];
}

/**
 * Parses each line, keeps the records that pass `include`/`exclude`, and hands them on with
 * their time: from the timestamp field when configured, else `receivedMs`. With `sinkFields`,
 * the fields the sink reads, a parser may leave other fields out of records.
 */
export function compileLineParser(config: LineParserConfig, sink: LineSink, sinkFields?: Iterable<string>): LineParser {
  const parse = formatParser(config, sinkFields === undefined ? undefined : [...sinkFields, ...fieldsParsingReads(config)]);
  const include = config.include === undefined ? undefined : compileConditions(config.include);
  const exclude = config.exclude === undefined ? undefined : compileConditions(config.exclude);
  const timeField = config.timestamp?.field;
  const parseTime = config.timestamp === undefined ? undefined : timestampParser(config.timestamp.format);
  return (bytes, start, end, receivedMs) => {
    const record = parse(bytes, start, end);
    if (typeof record === 'string') {
      sink.onRefused(record);
      return 'refused';
    }
    if ((include !== undefined && !include(record)) || (exclude !== undefined && exclude(record))) return 'filtered';
    if (timeField === undefined) {
      sink.onRecord(record, receivedMs);
      return 'record';
    }
    const text = record[timeField];
    if (typeof text !== 'string') {
      sink.onRefused('missing_timestamp');
      return 'refused';
    }
    const timeMs = parseTime!(text);
    if (timeMs !== timeMs) {
      sink.onRefused('invalid_timestamp');
      return 'refused';
    }
    sink.onRecord(record, timeMs);
    return 'record';
  };
}
