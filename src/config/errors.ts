// Config problems as operators read them: one line each, `file:line:col: yaml::path: what was
// expected, found what`. Zod's issues are translated here rather than shown raw, because
// "Invalid input: expected number, received string" names neither the value nor the fix.
import type { z } from 'zod';

export type ConfigPath = ReadonlyArray<string | number>;

export interface ConfigProblem {
  file: string;
  /** 1-based; 0 when the problem has no place in the text (the file could not be read). */
  line: number;
  column: number;
  /** YAML path, keys joined by `::`, list items as `[i]`; empty for the document itself. */
  path: string;
  message: string;
}

/** A config that must not be started: every problem found, not only the first. */
export class ConfigError extends Error {
  readonly code = 'AGT_ERR_CONFIG_INVALID';
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function formatProblem(problem: ConfigProblem): string {
  const place = problem.line > 0 ? `${problem.file}:${problem.line}:${problem.column}` : problem.file;
  return problem.path ? `${place}: ${problem.path}: ${problem.message}` : `${place}: ${problem.message}`;
}

/** `['service', 'pipelines', 'metrics', 'receivers', 1]` -> `service::pipelines::metrics::receivers[1]`. */
export function pathText(path: ConfigPath): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text ? `::${segment}` : segment;
  }
  return text;
}

/** The most of a value, key or reference a problem quotes: a line stays a line. */
export const MAX_SHOWN_CHARS = 80;

/** `text`, cut to MAX_SHOWN_CHARS with `...` when longer. */
export function shorten(text: string): string {
  return text.length > MAX_SHOWN_CHARS ? `${text.slice(0, MAX_SHOWN_CHARS - 3)}...` : text;
}

/** `text` in double quotes, cut when longer than MAX_SHOWN_CHARS, then with its length. */
export function quote(text: string): string {
  const quoted = JSON.stringify(shorten(text));
  return text.length > MAX_SHOWN_CHARS ? `${quoted} (${text.length} characters)` : quoted;
}

/** Beyond this a message is cut, whatever a component's own wording quoted. */
const MAX_MESSAGE_CHARS = 1000;

/**
 * A message as it is printed: on one line; a long quoted run (a component quoting a whole
 * value) cut; no regular expression the code wrapped around the operator's (V8 quotes the
 * compiled source: `Invalid regular expression: /^(?:(abc)$/: Unterminated group`).
 */
export function tidyMessage(message: string): string {
  let tidy = message
    .replace(/\s*\n\s*/g, ' ')
    .replace(/Invalid regular expression: \/.*?\/[dgimsuvy]*: /g, '')
    // Every quoted run, paired from the left, so that the text between two is never taken for one.
    .replace(/"((?:[^"\\]|\\.)*)"/g, (quoted, inner: string) =>
      inner.length > MAX_SHOWN_CHARS ? `"${inner.slice(0, MAX_SHOWN_CHARS - 3)}..." (${inner.length} characters)` : quoted,
    );
  if (tidy.length > MAX_MESSAGE_CHARS) tidy = `${tidy.slice(0, MAX_MESSAGE_CHARS - 3)}...`;
  return tidy;
}

/** A found value, briefly: strings quoted (and cut), mappings and lists by their shape. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (the key is required)';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Uint8Array) return 'binary data';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : `a list of ${value.length}`;
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    return keys.length === 0
      ? 'an empty mapping'
      : `a mapping (keys: ${keys.slice(0, 5).map(shorten).join(', ')}${keys.length > 5 ? ', ...' : ''})`;
  }
  return typeof value;
}

/** What was found at a secret's place: its kind only, never its value. */
export function describeHiddenValue(value: unknown): string {
  if (value === undefined || value === null) return describeValue(value);
  const kind = Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a mapping' : `a ${typeof value}`;
  return `${kind} (not shown: secret)`;
}

/** Appends what was found, unless the message (a component's own) already says or quotes it. */
export function withFound(message: string, found: string): string {
  return /\bfound\b/.test(message) || (found.startsWith('"') && message.includes(found)) ? message : `${message}, found ${found}`;
}

const EXPECTED_TYPES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  tuple: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  map: 'a mapping',
  null: 'an empty value',
  nonoptional: 'a value',
};

function bound(origin: string, limit: number | bigint, inclusive: boolean | undefined, exact: boolean | undefined, side: 'min' | 'max'): string {
  const n = Number(limit);
  if (origin === 'string') {
    if (side === 'min' && n === 1 && !exact) return 'a non-empty string';
    const relation = exact ? 'exactly' : side === 'min' ? 'at least' : 'at most';
    return `a string of ${relation} ${n} characters`;
  }
  if (origin === 'array' || origin === 'set') {
    if (side === 'min' && n === 1 && !exact) return 'at least one item';
    const relation = exact ? 'exactly' : side === 'min' ? 'at least' : 'at most';
    return `${relation} ${n} items`;
  }
  const noun = origin === 'int' ? 'an integer' : 'a number';
  if (exact) return `${noun} equal to ${n}`;
  if (side === 'min') return inclusive ? `${noun} of at least ${n}` : `${noun} greater than ${n}`;
  return inclusive ? `${noun} of at most ${n}` : `${noun} less than ${n}`;
}

function quoteValue(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}

/**
 * Zod error map: says what was expected. The caller appends what was found (it knows the
 * value's place, and whether it is a secret). For unknown keys it gives the valid keys,
 * which only the raising schema knows.
 */
export const expectedMessage: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type': {
      const nonFinite = issue.expected === 'number' && typeof issue.input === 'number';
      return `expected ${nonFinite ? 'a finite number' : (EXPECTED_TYPES[issue.expected] ?? `a ${issue.expected}`)}`;
    }
    case 'too_small':
      return `expected ${bound(issue.origin, issue.minimum, issue.inclusive, issue.exact, 'min')}`;
    case 'too_big':
      return `expected ${bound(issue.origin, issue.maximum, issue.inclusive, issue.exact, 'max')}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `expected ${JSON.stringify(issue.values[0])}`
        : `expected one of ${issue.values.map(quoteValue).join(', ')}`;
    case 'invalid_format':
      if (issue.format === 'regex' && issue.pattern) return `expected a string matching ${issue.pattern}`;
      if (issue.format === 'starts_with') return `expected a string starting with "${String(issue.prefix)}"`;
      if (issue.format === 'ends_with') return `expected a string ending with "${String(issue.suffix)}"`;
      if (issue.format === 'includes') return `expected a string containing "${String(issue.includes)}"`;
      return `expected a valid ${issue.format}`;
    case 'not_multiple_of':
      return `expected a multiple of ${issue.divisor}`;
    case 'unrecognized_keys': {
      const shape = (issue.inst as { _zod?: { def?: { shape?: object } } } | undefined)?._zod?.def?.shape;
      return shape ? `valid keys: ${Object.keys(shape).join(', ')}` : '';
    }
    case 'invalid_union': {
      if (issue.discriminator !== undefined) {
        const input = issue.input as Record<string, unknown> | undefined;
        const found = input && typeof input === 'object' ? describeValue(input[issue.discriminator]) : describeValue(undefined);
        return `expected ${issue.discriminator} to be one of ${((issue.options as unknown[] | undefined) ?? []).map(quoteValue).join(', ')}, found ${found}`;
      }
      // Each branch's first complaint, "expected a number" + "expected a string" -> "expected a number or a string".
      const alternatives = [...new Set(issue.errors.map((branch) => branch[0]?.message).filter((m): m is string => !!m))];
      const phrases = alternatives.map((m) => m.replace(/^expected /, ''));
      return phrases.length > 0 ? `expected ${phrases.join(' or ')}` : 'expected a valid value';
    }
    case 'invalid_key': {
      // The key's own issues, worded here: zod leaves their messages to its locale.
      const phrases = issue.issues.map((inner) => expectedMessage(inner as z.core.$ZodRawIssue)).filter((m): m is string => !!m);
      const wanted = [...new Set(phrases)].map((m) => m.replace(/^expected /, '')).join(' and ') || 'a valid key';
      return `expected each key to be ${wanted}`;
    }
    case 'invalid_element':
      return `expected a valid item: ${issue.issues.map((i) => i.message).join('; ')}`;
    default:
      return 'expected a valid value';
  }
};
