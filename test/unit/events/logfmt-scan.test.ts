import { describe, expect, it } from 'vitest';
import type { EventRecord } from '../../../src/events/mapping/index.js';
import { compileLogfmtParser, parseLogfmtLine, type ParseRefusal } from '../../../src/events/parse.js';
import { seededRandom } from '../../support/seeded-random.js';

type Outcome = Record<string, string | undefined> | ParseRefusal;

/** A refusal, or the values of `fields` alone: what a consumer reading only those fields sees. */
function wantedOutcome(result: EventRecord | ParseRefusal, fields: readonly string[]): Outcome {
  if (typeof result === 'string') return result;
  return Object.fromEntries(fields.map((field) => [field, result[field]]));
}

/** The scanner fed the line's bytes inside a larger buffer, as the tailer hands lines on. */
function scanned(parse: ReturnType<typeof compileLogfmtParser>, line: string): EventRecord | ParseRefusal {
  const before = Buffer.from('x=1 "\n');
  const bytes = Buffer.concat([before, Buffer.from(line), Buffer.from('\n"y')]);
  return parse(bytes, before.length, bytes.length - 3);
}

describe('compileLogfmtParser with the fields read', () => {
  const FIELDS = ['status', 'msg', 'flag', 'empty', 'név'];
  const parse = compileLogfmtParser(FIELDS);
  const none = { status: undefined, msg: undefined, flag: undefined, empty: undefined, név: undefined };

  it.each<[string, string, Outcome]>([
    ['plain pairs', 'status=ok other=1 msg=hi', { ...none, status: 'ok', msg: 'hi' }],
    ['a quoted value with spaces', 'status=ok msg="hello big world" x=1', { ...none, status: 'ok', msg: 'hello big world' }],
    ['escapes in a quoted value', 'msg="say \\"hi\\"\\n\\ttab \\\\ \\r\\x end"', { ...none, msg: 'say "hi"\n\ttab \\ \r\\x end' }],
    ['an escaped quote in a value not read', 'other="a \\" b=c" status=ok', { ...none, status: 'ok' }],
    ['an escaped backslash before the closing quote', 'msg="a\\\\" status=ok', { ...none, msg: 'a\\', status: 'ok' }],
    ['a bare key', 'flag status=ok', { ...none, flag: 'true', status: 'ok' }],
    ['a bare key at the end', 'status=ok flag', { ...none, flag: 'true', status: 'ok' }],
    ['empty values', 'empty= status=', { ...none, empty: '', status: '' }],
    ['an empty quoted value', 'msg="" status=ok', { ...none, msg: '', status: 'ok' }],
    ['a repeated key keeps its last value', 'status=first msg=a status=second', { ...none, status: 'second', msg: 'a' }],
    ['a value then a bare key of the same name', 'flag=no flag', { ...none, flag: 'true' }],
    ['tabs between pairs and in quotes', '\tstatus=ok\tmsg="a\tb"\t', { ...none, status: 'ok', msg: 'a\tb' }],
    ['a byte order mark', '\uFEFFstatus=ok', { ...none, status: 'ok' }],
    ['a CRLF line end', 'status=ok\r', { ...none, status: 'ok' }],
    ['a CRLF line end after a quote', 'msg="a b"\r', { ...none, msg: 'a b' }],
    ['one CR stripped of two', 'status=ok\r\r', { ...none, status: 'ok\r' }],
    ['`=` and a quote inside a plain value', 'status=a=b"c msg==', { ...none, status: 'a=b"c', msg: '=' }],
    ['a wanted name as the prefix of another key', 'status_code=500 stat=1 statu=2', none],
    ['a wanted name after a longer key', 'status_code=500 status=ok', { ...none, status: 'ok' }],
    ['non-ASCII values', 'msg="héllo wörld 😀" status=résumé', { ...none, msg: 'héllo wörld 😀', status: 'résumé' }],
    ['non-ASCII in an escaped value', 'msg="é\\"😀\\é"', { ...none, msg: 'é"😀\\é' }],
    ['a non-ASCII key', 'név=Zoé nevé=1 status=ok', { ...none, név: 'Zoé', status: 'ok' }],
    ['a long value', `msg=${'x'.repeat(100)} status=${'é'.repeat(40)}`, { ...none, msg: 'x'.repeat(100), status: 'é'.repeat(40) }],
    ['an unterminated quote', 'status=ok msg="never closed', 'invalid_logfmt'],
    ['an unterminated quote in a value not read', 'status=ok other="never', 'invalid_logfmt'],
    ['a quote alone after `=`', 'msg="', 'invalid_logfmt'],
    ['an escaped closing quote', 'msg="ends \\"', 'invalid_logfmt'],
    ['a trailing backslash in a quote', 'msg="ends with \\', 'invalid_logfmt'],
    ['a backslash before a stripped CR', 'msg="a\\\r', 'invalid_logfmt'],
    ['a quote in a key', 'sta"tus=1', 'invalid_logfmt'],
    ['a quoted key', '"status"=1', 'invalid_logfmt'],
    ['a value with no key', 'status=ok =value', 'invalid_logfmt'],
    ['a `=` alone', '=', 'invalid_logfmt'],
    ['text after a closing quote', 'msg="a"b status=ok', 'invalid_logfmt'],
    ['an empty line', '', 'empty_line'],
    ['a blank line', ' \t ', 'empty_line'],
    ['a CR alone', '\r', 'empty_line'],
    ['a byte order mark alone', '\uFEFF', 'empty_line'],
  ])('%s', (_name, line, expected) => {
    const outcome = wantedOutcome(scanned(parse, line), FIELDS);
    expect(outcome).toEqual(expected);
    expect(outcome).toEqual(wantedOutcome(parseLogfmtLine(line), FIELDS));
  });

  it('reads names that are properties of plain objects as fields like any other', () => {
    const fields = ['__proto__', 'constructor'];
    const line = '__proto__=x constructor="y z"';
    const outcome = wantedOutcome(scanned(compileLogfmtParser(fields), line), fields);
    // A computed key is an own property; a literal `__proto__:` would set the prototype.
    expect(outcome).toEqual({ ['__proto__']: 'x', constructor: 'y z' });
    expect(outcome).toEqual(wantedOutcome(parseLogfmtLine(line), fields));
  });

  it('gives the same outcome as parseLogfmtLine for random lines of logfmt-significant characters', () => {
    // Single letters and `n`, `r`, `t` make keys that collide with the wanted names and escapes that mean something.
    const pieces = ['a', 'b', 'n', 'r', 't', 'x', '=', '=', ' ', ' ', '\t', '"', '"', '\\', 'é', '😀', '\r'];
    // One parser per set for all lines: texts it made for earlier lines are handed out again.
    const fieldSets = [
      ['a', 'b', 'ab', 'n'],
      ['a', 'ab', 'é', 'aé', 'nn', 'x'],
    ].map((fields) => ({ fields, parse: compileLogfmtParser(fields) }));
    const random = seededRandom(20260105);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    const counts = { records: 0, refusals: 0, wantedValues: 0 };
    for (let i = 0; i < 6000; i++) {
      let line = random() < 0.05 ? '\uFEFF' : '';
      const length = Math.floor(random() * 16);
      if (i % 2 === 0) {
        for (let c = 0; c < length; c++) line += pick(pieces);
      } else {
        // Mostly well-formed pairs, so that records are common too.
        for (let p = 0; p < length / 3; p++) {
          const key = pick(['a', 'b', 'ab', 'n', 'é', 'aé', 'nn', 'x', 'ba']);
          const value = Array.from({ length: Math.floor(random() * 5) }, () => pick(pieces.filter((piece) => piece !== ' ' && piece !== '\t'))).join('');
          const quoted = random() < 0.4;
          line += `${p === 0 ? '' : pick([' ', '\t', '  '])}${key}${random() < 0.15 ? '' : `=${quoted ? `"${value.replaceAll('"', '\\"')}"` : value.replaceAll('"', '')}`}`;
        }
        if (random() < 0.1) line += '\r';
      }
      for (const { fields, parse } of fieldSets) {
        const expected = wantedOutcome(parseLogfmtLine(line), fields);
        expect(wantedOutcome(scanned(parse, line), fields), JSON.stringify(line)).toEqual(expected);
        if (typeof expected === 'string') counts.refusals++;
        else {
          counts.records++;
          counts.wantedValues += Object.values(expected).filter((value) => value !== undefined).length;
        }
      }
    }
    // The lines reached both outcomes, and records held wanted fields often.
    expect(counts.records).toBeGreaterThan(3000);
    expect(counts.refusals).toBeGreaterThan(2000);
    expect(counts.wantedValues).toBeGreaterThan(3000);
  });
});
