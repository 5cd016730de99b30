import { describe, expect, it } from 'vitest';
import { expectedMessage } from '../../../../src/config/errors.js';
import { compileConditions, conditionsSchema, type EventRecord } from '../../../../src/events/mapping/index.js';

function problems(input: unknown): Array<[string, string]> {
  const result = conditionsSchema.safeParse(input, { error: expectedMessage });
  return result.success ? [] : result.error.issues.map((issue) => [issue.path.join('.'), issue.message]);
}

describe('conditionsSchema', () => {
  it.each([
    ['text', { event: 'completed' }, { event: { oneOf: ['completed'] } }],
    ['a number reads as the text a field would hold', { code: 200 }, { code: { oneOf: ['200'] } }],
    ['true/false read as text', { cached: true }, { cached: { oneOf: ['true'] } }],
    ['a list means any of its values', { code: [0, 'ok'] }, { code: { oneOf: ['0', 'ok'] } }],
    ['regex', { host: { regex: 'web-\\d+' } }, { host: { regex: 'web-\\d+' } }],
    ['exists', { error: { exists: false } }, { error: { exists: false } }],
  ])('normalises %s', (_name, input, expected) => {
    expect(conditionsSchema.parse(input)).toEqual(expected);
  });

  it.each([
    ['an unknown key inside', { f: { regx: 'a' } }, [['f', 'valid keys: regex, exists'], ['f', 'expected exactly one of regex or exists']]],
    ['a wrong type inside', { f: { exists: 'yes' } }, [['f.exists', 'expected true or false']]],
    ['both forms', { f: { exists: true, regex: 'a' } }, [['f', 'expected exactly one of regex or exists']]],
    ['a pattern that does not compile', { f: { regex: '(' } }, [['f.regex', expect.stringMatching(/^invalid regular expression "\(": /)]]],
    ['an empty list', { f: [] }, [['f', 'expected at least one value']]],
    ['a mapping in a list', { f: ['a', { b: 1 }] }, [['f.1', 'expected a string, a number or true/false']]],
    [
      'null',
      { f: null },
      [['f', 'expected a value, a list of values (any of them), { regex: ... } or { exists: true|false }']],
    ],
    ['a list instead of a mapping', ['event'], [['', 'expected a mapping of field names to conditions']]],
  ])('reports %s where it is', (_name, input, expected) => {
    expect(problems(input)).toEqual(expected);
  });
});

describe('compileConditions', () => {
  const record: EventRecord = { event: 'completed', code: '200', host: 'web-12', empty: '', group: undefined };
  const holds = (conditions: unknown, on: EventRecord = record) => compileConditions(conditionsSchema.parse(conditions))(on);

  it.each([
    [{}, true],
    [{ event: 'completed' }, true],
    [{ event: 'complete' }, false],
    [{ code: 200 }, true],
    [{ code: [404, 200] }, true],
    [{ code: [404, 500] }, false],
    [{ host: { regex: 'web-\\d+' } }, true],
    // Anchored at both ends: a pattern matches the whole text, not a part of it.
    [{ host: { regex: 'web' } }, false],
    [{ host: { regex: '\\d+' } }, false],
    [{ empty: { exists: true } }, true],
    [{ missing: { exists: false } }, true],
    // A regex group that took no part in the match is present as undefined: it does not exist.
    [{ group: { exists: true } }, false],
    [{ event: 'completed', code: 200 }, true],
    [{ event: 'completed', code: 500 }, false],
    [{ event: 'completed', code: 200, host: { regex: 'web-.*' } }, true],
    [{ event: 'completed', code: 200, host: { regex: 'db-.*' } }, false],
  ])('%j holds: %s', (conditions, expected) => {
    expect(holds(conditions)).toBe(expected);
  });

  it('never takes a prototype member for a field', () => {
    const plain: EventRecord = JSON.parse('{"event":"x"}');
    expect(holds({ constructor: { exists: true } }, plain)).toBe(false);
    expect(holds({ toString: { regex: '.*' } }, plain)).toBe(false);
    expect(holds({ constructor: ['a', 'b'] }, plain)).toBe(false);

  });
});
