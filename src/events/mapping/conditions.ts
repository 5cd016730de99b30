// Field conditions: which records a metric counts (`match`), which a receiver keeps
// (`include`/`exclude`), and which records start or end a pair. All conditions of a set must
// hold. Compiled once into a predicate that reads each field once and allocates nothing.
import { z } from 'zod';
import type { EventRecord } from './record.js';

/** One field's condition, normalised: its text is one of `oneOf`, or matches `regex` (whole text), or it exists or not. */
export type Condition = { oneOf: string[] } | { regex: string } | { exists: boolean };

/** Field name -> condition; every one must hold. */
export type Conditions = Record<string, Condition>;

export type RecordPredicate = (record: EventRecord) => boolean;

/** A YAML scalar a field's text can be compared with: a string, a finite number, true or false. */
export const isScalar = (value: unknown): value is string | number | boolean =>
  typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean';

/** A YAML scalar as the text a field would hold: `200` matches the field text "200". */
export function scalarText(value: string | number | boolean): string {
  return typeof value === 'string' ? value : String(value);
}

/** Anchored at both ends, as Prometheus label matchers are: `fail` does not match "failure". */
function wholeTextPattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

/** Why a pattern does not compile, or undefined. */
function patternProblem(pattern: string): string | undefined {
  try {
    wholeTextPattern(pattern);
    return undefined;
  } catch (error) {
    return `invalid regular expression "${pattern}": ${(error as Error).message}`;
  }
}

/** An error option that words only the wrong-type issue, leaving others (too few items, a bad key) to the usual messages. */
export function wrongType(message: string) {
  return { error: (issue: { code: string }) => (issue.code === 'invalid_type' ? message : undefined) };
}

/** A non-empty field name. */
export function fieldName() {
  return z.string().min(1, { error: 'expected a field name' });
}

// The list and mapping forms check their insides with non-aborting issues: zod then reports
// the problem inside (`exists: expected true or false`) instead of "expected a string or ...".
const valueList = z.array(z.unknown()).superRefine((values, ctx) => {
  if (values.length === 0) ctx.addIssue({ code: 'custom', message: 'expected at least one value' });
  values.forEach((value, index) => {
    if (!isScalar(value)) ctx.addIssue({ code: 'custom', path: [index], message: 'expected a string, a number or true/false' });
  });
});

const conditionMapping = z
  .strictObject({ regex: z.unknown().optional(), exists: z.unknown().optional() })
  .superRefine((condition, ctx) => {
    if ((condition.regex === undefined) === (condition.exists === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of regex or exists' });
    }
    if (condition.regex !== undefined) {
      const problem = typeof condition.regex === 'string' ? patternProblem(condition.regex) : 'expected a regular expression (a string)';
      if (problem) ctx.addIssue({ code: 'custom', path: ['regex'], message: problem });
    }
    if (condition.exists !== undefined && typeof condition.exists !== 'boolean') {
      ctx.addIssue({ code: 'custom', path: ['exists'], message: 'expected true or false' });
    }
  });

const conditionSchema = z
  .union([z.string(), z.number(), z.boolean(), valueList, conditionMapping], {
    error: 'expected a value, a list of values (any of them), { regex: ... } or { exists: true|false }',
  })
  .transform((condition): Condition => {
    if (isScalar(condition)) return { oneOf: [scalarText(condition)] };
    if (Array.isArray(condition)) return { oneOf: (condition as Array<string | number | boolean>).map(scalarText) };
    return condition.regex !== undefined ? { regex: condition.regex as string } : { exists: condition.exists as boolean };
  });

/** `{ event: completed, code: [0, 2], host: { regex: "web-.*" }, error: { exists: false } }` */
export const conditionsSchema = z.record(fieldName(), conditionSchema, wrongType('expected a mapping of field names to conditions'));

function fieldPredicate(field: string, condition: Condition): RecordPredicate {
  if ('exists' in condition) {
    return condition.exists ? (record) => typeof record[field] === 'string' : (record) => typeof record[field] !== 'string';
  }
  if ('regex' in condition) {
    const pattern = wholeTextPattern(condition.regex);
    return (record) => {
      const text = record[field];
      return typeof text === 'string' && pattern.test(text);
    };
  }
  if (condition.oneOf.length === 1) {
    // A string compared with ===: a prototype member read by a missing field's name is never equal.
    const expected = condition.oneOf[0];
    return (record) => record[field] === expected;
  }
  const allowed = new Set(condition.oneOf);
  return (record) => {
    const text = record[field];
    return typeof text === 'string' && allowed.has(text);
  };
}

/** A predicate true when every condition holds (always true for an empty set). */
export function compileConditions(conditions: Conditions): RecordPredicate {
  const tests = Object.entries(conditions).map(([field, condition]) => fieldPredicate(field, condition));
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0];
  if (tests.length === 2) {
    const [first, second] = tests;
    return (record) => first(record) && second(record);
  }
  return (record) => {
    for (const test of tests) if (!test(record)) return false;
    return true;
  };
}
