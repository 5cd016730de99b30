import { describe, expect, it } from 'vitest';
import type { EventRecord } from '../../../src/events/mapping/index.js';
import { FieldTexts, SharedTexts } from '../../../src/events/texts.js';
import { compileJsonParser, parseJsonLine, type ParseRefusal } from '../../../src/events/parse.js';
import { seededRandom } from '../../support/seeded-random.js';

type Outcome = Record<string, string | undefined> | ParseRefusal;

/** A refusal, or the values of `fields` alone: what a consumer reading only those fields sees. */
function wantedOutcome(result: EventRecord | ParseRefusal, fields: readonly string[]): Outcome {
  if (typeof result === 'string') return result;
  return Object.fromEntries(fields.map((field) => [field, typeof result[field] === 'string' ? result[field] : undefined]));
}

/** The scanner fed the line's bytes inside a larger buffer, as the tailer hands lines on. */
function scanned(parse: ReturnType<typeof compileJsonParser>, line: string): EventRecord | ParseRefusal {
  const before = Buffer.from('{"status":"before"}\n');
  const bytes = Buffer.concat([before, Buffer.from(line), Buffer.from('\n"x"}')]);
  return parse(bytes, before.length, bytes.length - 5);
}

const FIELDS = ['status', 'code', 'ok', 'gone', 'tags', 'job.id', 'job.step.name', 'deep', 'név', '__proto__', 'constructor'];

describe('compileJsonParser with the fields read', () => {
  const parse = compileJsonParser(FIELDS);

  it.each<[string, string]>([
    ['strings, numbers, booleans, null', '{"status":"ok","code":200,"ok":true,"gone":null,"other":"x"}'],
    ['whitespace everywhere JSON allows it', ' \t{ "status" : "ok" ,\r\n"code":\t-1.5e3 } \t'],
    ['numbers in every form', '{"code":1.50,"ok":-0,"gone":1E+2,"status":0.0000001,"tags":123456789012345678901,"deep":1e400}'],
    ['numbers printed as written', '{"code":-12.75,"ok":0.5,"gone":0.000001,"status":123456789012345,"tags":10}'],
    ['numbers one digit past exact', '{"code":1234567890123456,"ok":0.1234567890123456,"gone":-0.0,"status":100.10}'],
    ['escapes in a wanted string', '{"status":"say \\"hi\\"\\n\\t\\u00e9\\ud83d\\ude00\\/\\\\\\b\\f\\r"}'],
    ['escapes in strings not read', '{"other":"a \\" b","status":"ok","x":"\\\\"}'],
    ['an escape in a key', '{"st\\u0061tus":"spelled with an escape","code":1}'],
    ['nested fields, flattened', '{"job":{"id":"j-1","step":{"name":"build","n":3},"other":[1,{"a":2}]},"status":"ok"}'],
    ['a nested object not read', '{"ctx":{"status":"inner","job":{"id":"no"}},"status":"outer"}'],
    ['a wanted name whose value is an object', '{"status":{"a":"1"},"code":{}}'],
    ['arrays as JSON text', '{"tags":[ 1 , "two", {"three" : 3.10}, [ ], null, true ],"status":"ok"}'],
    ['empty object and array', '{"tags":[],"job":{}}'],
    ['an empty object', '{}'],
    ['a repeated key', '{"status":"first","code":1,"status":"second"}'],
    ['a repeated key undoing nested fields', '{"job":{"id":"j-1"},"job":2}'],
    ['a literal dotted key and a nested one', '{"job.id":"flat","job":{"id":"nested"}}'],
    ['a literal dotted key', '{"job.id":"flat","job.step.name":"x"}'],
    ['deep nesting kept as JSON text past the limit', `{"deep":${'{"a":'.repeat(20)}1${'}'.repeat(20)},"status":"ok"}`],
    ['non-ASCII keys and values', '{"név":"Zoé 😀","status":"résumé","nev":"x"}'],
    ['a long value', `{"status":"${'x'.repeat(100)}","code":"${'é'.repeat(40)}"}`],
    ['prototype names as fields', '{"__proto__":"p","constructor":"c","status":"ok"}'],
    ['a prototype name holding an object', '{"__proto__":{"x":"1"},"status":"ok"}'],
    ['a byte order mark', '\uFEFF{"status":"ok"}'],
    ['two byte order marks', '\uFEFF\uFEFF{"status":"ok"}'],
    ['an empty line', ''],
    ['a blank line', ' \t '],
    ['an array', '[1,2,3]'],
    ['a string', '"status"'],
    ['a number', '42'],
    ['a truncated object', '{"status":"ok","code":'],
    ['an unterminated string', '{"status":"ok'],
    ['a missing colon', '{"status" "ok"}'],
    ['a trailing comma', '{"status":"ok",}'],
    ['a missing comma', '{"status":"ok" "code":1}'],
    ['text after the object', '{"status":"ok"} x'],
    ['two objects', '{"status":"ok"}{"code":1}'],
    ['a control character in a string', '{"status":"a\tb"}'],
    ['a control character in a string not read', '{"other":"a\u0001b","status":"ok"}'],
    ['an invalid escape', '{"status":"a\\xb"}'],
    ['a short unicode escape', '{"status":"\\u12"}'],
    ['a leading zero', '{"code":012}'],
    ['a bare minus', '{"code":-}'],
    ['a dot without digits', '{"code":1.}'],
    ['an exponent without digits', '{"code":1e}'],
    ['a plus sign', '{"code":+1}'],
    ['a misspelled literal', '{"ok":tru,"status":"x"}'],
    ['a misspelled literal not read', '{"other":nul,"status":"x"}'],
    ['a single-quoted string', "{'status':'ok'}"],
    ['an unquoted key', '{status:"ok"}'],
    ['an unclosed array', '{"tags":[1,2'],
    ['a stray closing bracket', '{"tags":[1,2}]}'],
    ['NaN', '{"code":NaN}'],
  ])('%s: the same outcome as the full parser', (_name, line) => {
    expect(wantedOutcome(scanned(parse, line), FIELDS)).toEqual(wantedOutcome(parseJsonLine(line), FIELDS));
  });

  it('leaves fields that are not read out of records', () => {
    const record = scanned(parse, '{"status":"ok","other":"x","job":{"id":"1","more":"y"}}') as EventRecord;
    expect({ ...record }).toEqual({ status: 'ok', 'job.id': '1' });
  });

  it('gives a record with every field when asked for none in particular', () => {
    const all = compileJsonParser();
    const line = '{"status":"ok","other":{"a":[1]}}';
    expect({ ...(all(Buffer.from(line), 0, Buffer.byteLength(line)) as EventRecord) }).toEqual({ status: 'ok', 'other.a': '[1]' });
  });

  it('keeps nesting deeper than the stack allows for the full parser to judge', () => {
    const line = `{"tags":${'['.repeat(200_000)}${']'.repeat(200_000)},"status":"ok"}`;
    expect(wantedOutcome(scanned(parse, line), FIELDS)).toEqual(wantedOutcome(parseJsonLine(line), FIELDS));
  });
});

describe('compileJsonParser against JSON.parse, on random lines', () => {
  const fields = ['a', 'b', 'c.d', 'é'];
  const parse = compileJsonParser(fields);
  const next = seededRandom(20_261_122);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const keys = ['"a"', '"b"', '"c"', '"d"', '"é"', '"a\\u0062"', '"c.d"'];
  const scalars = ['"x"', '"é\\"y"', '"\\\\"', '0', '-0', '1.50', '2e-7', '-12.5E+3', '123456789012345678', 'true', 'false', 'null', '""'];
  const value = (depth: number): string => {
    const choice = next();
    if (depth < 3 && choice < 0.15) return `{${Array.from({ length: Math.floor(next() * 3) }, () => `${pick(keys)}:${value(depth + 1)}`).join(',')}}`;
    if (depth < 3 && choice < 0.25) return `[${Array.from({ length: Math.floor(next() * 3) }, () => value(depth + 1)).join(',')}]`;
    return pick(scalars);
  };
  const validLine = () => `{${Array.from({ length: 1 + Math.floor(next() * 4) }, () => `${pick(keys)}:${value(0)}`).join(pick([',', ' , ', ',\t']))}}`;
  // Damage that makes most lines invalid, and some still valid in another way.
  const damage = (line: string): string => {
    const at = Math.floor(next() * (line.length + 1));
    const piece = pick(['"', '\\', ',', ':', '{', '}', '[', ']', ' ', '\t', 'e', '-', '.', '0', '\u0001', 'é', 'n']);
    switch (pick(['insert', 'delete', 'replace'])) {
      case 'insert':
        return line.slice(0, at) + piece + line.slice(at);
      case 'delete':
        return line.slice(0, at) + line.slice(at + 1);
      default:
        return line.slice(0, at) + piece + line.slice(at + 1);
    }
  };

  it('agrees on every line, valid or damaged: the same refusal, or the same values of the fields read', () => {
    let valid = 0;
    let refused = 0;
    for (let i = 0; i < 20_000; i++) {
      const line = i % 3 === 0 ? validLine() : damage(validLine());
      const expected = wantedOutcome(parseJsonLine(line), fields);
      const actual = wantedOutcome(scanned(parse, line), fields);
      if (JSON.stringify(actual) !== JSON.stringify(expected)) expect({ line, actual }).toEqual({ line, actual: expected });
      if (typeof expected === 'string') refused++;
      else valid++;
    }
    // Both kinds of line were exercised.
    expect(valid).toBeGreaterThan(5_000);
    expect(refused).toBeGreaterThan(5_000);
  });
});

describe('SharedTexts', () => {
  it('hands out one string for the same bytes, and the right one after a slot is taken by another text', () => {
    const texts = new SharedTexts();
    const bytes = Buffer.from('success failure success');
    const first = texts.text(bytes, 0, 7);
    expect(first).toBe('success');
    expect(texts.text(bytes, 16, 23)).toBe(first);
    expect(texts.text(bytes, 8, 15)).toBe('failure');
    // Many other texts: whatever slots they take, each read gives its own text.
    for (let i = 0; i < 5_000; i++) {
      const other = Buffer.from(`t${i}`);
      expect(texts.text(other, 0, other.length)).toBe(`t${i}`);
    }
    expect(texts.text(bytes, 0, 7)).toBe('success');
  });

  it('gives each value of a field of ever new values its own text, before and after it stops sharing them', () => {
    const texts = new FieldTexts(new SharedTexts());
    for (let i = 0; i < 1_000; i++) {
      const value = i % 7 === 0 ? `é-${i}` : `2026-01-05T08:00:${String(i % 60).padStart(2, '0')}.${i}Z`;
      const bytes = Buffer.from(` ${value} `);
      expect(texts.text(bytes, 1, bytes.length - 1)).toBe(value);
    }
  });

  it('decodes non-ASCII and long texts as UTF-8', () => {
    const texts = new SharedTexts();
    const bytes = Buffer.from(`résumé ${'x'.repeat(64)}`);
    expect(texts.text(bytes, 0, Buffer.byteLength('résumé'))).toBe('résumé');
    expect(texts.text(bytes, Buffer.byteLength('résumé '), bytes.length)).toBe('x'.repeat(64));
  });
});
