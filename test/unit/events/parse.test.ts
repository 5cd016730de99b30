import { describe, expect, it } from 'vitest';
import { expectedMessage, pathText } from '../../../src/config/errors.js';
import { compileMapping, fieldsRead, metricsSchema, type EventRecord, type MappingRefusal } from '../../../src/events/mapping/index.js';
import { MetricStore } from '../../../src/metrics/store.js';
import {
  compileLineParser,
  compileRegexParser,
  lineParserSchema,
  parseIso8601,
  parseJsonLine,
  parseLogfmtLine,
  timestampParser,
  type LineOutcome,
  type LineParser,
  type LineParserConfig,
  type ParseRefusal,
} from '../../../src/events/parse.js';
import { points } from '../../support/metric-sink.js';

/** Own fields as a plain object, so records of any prototype compare by content. */
function fields(result: EventRecord | string): Record<string, string | undefined> | string {
  return typeof result === 'string' ? result : { ...result };
}

describe('parseJsonLine', () => {
  it.each<[string, string, Record<string, string | undefined> | ParseRefusal]>([
    ['a flat object', '{"event":"completed","job_id":"a1"}', { event: 'completed', job_id: 'a1' }],
    ['numbers and booleans as text', '{"duration_s":12.5,"exit":0,"cached":true,"big":1e21}', { duration_s: '12.5', exit: '0', cached: 'true', big: '1e+21' }],
    ['null as absent', '{"error":null,"event":"x"}', { error: undefined, event: 'x' }],
    ['arrays as JSON text', '{"tags":["a","b"],"n":[1,{"x":2}]}', { tags: '["a","b"]', n: '[1,{"x":2}]' }],
    ['nested objects as dotted fields', '{"job":{"id":"7","meta":{"attempt":2}},"event":"started"}', { 'job.id': '7', 'job.meta.attempt': '2', event: 'started' }],
    ['an empty object', '{}', {}],
    ['a byte order mark', '\uFEFF{"a":"1"}', { a: '1' }],
    ['a CRLF line end', '{"a":"1"}\r', { a: '1' }],
    ['surrounding spaces', '  {"a":"1"}  ', { a: '1' }],
    ['an empty line', '', 'empty_line'],
    ['a blank line', ' \t ', 'empty_line'],
    ['a CR alone', '\r', 'empty_line'],
    ['truncated JSON', '{"event":"compl', 'invalid_json'],
    ['text', 'Job build completed', 'invalid_json'],
    ['two objects on a line', '{"a":1}{"b":2}', 'invalid_json'],
    ['a JSON array', '[{"a":"1"}]', 'not_an_object'],
    ['a JSON string', '"completed"', 'not_an_object'],
    ['a JSON number', '42', 'not_an_object'],
    ['JSON null', 'null', 'not_an_object'],
    ['arrays nested deeper than they can be written back', `{"a":${'['.repeat(200_000)}${']'.repeat(200_000)}}`, 'too_deep'],
  ])('reads %s', (_name, line, expected) => {
    expect(fields(parseJsonLine(line))).toEqual(expected);
  });

  it('keeps objects nested past the flattening depth as JSON text', () => {
    // 18 levels: a.b.c...q hold { r: 1 }.
    const keys = 'abcdefghijklmnopq'.split('');
    let nested: object = { r: 1 };
    for (const key of [...keys].reverse()) nested = { [key]: nested };
    const deep = JSON.stringify(nested);
    const record = parseJsonLine(deep) as EventRecord;
    expect(record['a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q']).toBe('{"r":1}');
  });

  it('keeps a key named __proto__ as a field', () => {
    expect(fields(parseJsonLine('{"__proto__":{"x":"1"},"a":"2"}'))).toEqual({ '__proto__.x': '1', a: '2' });
  });
});

describe('parseLogfmtLine', () => {
  it.each<[string, string, Record<string, string> | ParseRefusal]>([
    ['pairs', 'event=completed job_id=a1 duration_s=12.5', { event: 'completed', job_id: 'a1', duration_s: '12.5' }],
    ['a quoted value with spaces', 'msg="job finished ok" level=info', { msg: 'job finished ok', level: 'info' }],
    ['escaped quotes and backslashes', 'msg="say \\"hi\\" to C:\\\\tmp"', { msg: 'say "hi" to C:\\tmp' }],
    ['newline and tab escapes', 'msg="a\\nb\\tc"', { msg: 'a\nb\tc' }],
    ['an unknown escape kept with its backslash', 'path="C:\\dir"', { path: 'C:\\dir' }],
    ['= inside a value', 'query=a=b&c=d url="x?y=1"', { query: 'a=b&c=d', url: 'x?y=1' }],
    ['a quote inside a bare value', 'size=5"', { size: '5"' }],
    ['bare keys as true', 'cached retry=2 dry_run', { cached: 'true', retry: '2', dry_run: 'true' }],
    ['an empty value', 'error= event=x', { error: '', event: 'x' }],
    ['an empty quoted value', 'error="" event=x', { error: '', event: 'x' }],
    ['tabs and runs of spaces', 'a=1\t b=2   c=3', { a: '1', b: '2', c: '3' }],
    ['a repeated key: the last wins', 'a=1 a=2', { a: '2' }],
    ['dots and dashes in keys', 'job.id=7 x-request=abc', { 'job.id': '7', 'x-request': 'abc' }],
    ['unicode', 'user=Zoë msg="naïve ☃"', { user: 'Zoë', msg: 'naïve ☃' }],
    ['a byte order mark', '\uFEFFa=1', { a: '1' }],
    ['a CRLF line end', 'a=1 b="x"\r', { a: '1', b: 'x' }],
    ['an empty line', '', 'empty_line'],
    ['a blank line', '   \t', 'empty_line'],
    ['an unterminated quote', 'msg="never closed', 'invalid_logfmt'],
    ['a trailing backslash in a quote', 'msg="ends with \\', 'invalid_logfmt'],
    ['a value with no key', '=value a=1', 'invalid_logfmt'],
    ['a quoted key', '"a"=1', 'invalid_logfmt'],
    ['text after a closing quote', 'msg="a"b c=1', 'invalid_logfmt'],
  ])('reads %s', (_name, line, expected) => {
    expect(fields(parseLogfmtLine(line))).toEqual(expected);
  });

  it('reads keys right whatever the previous line had at the same place', () => {
    // Keys are reused from the previous line when they are the same text: prefixes and
    // longer keys at the same position must not be mistaken for them.
    const lines: Array<[string, Record<string, string>]> = [
      ['a=1 bb=2', { a: '1', bb: '2' }],
      ['ab=1 b=2', { ab: '1', b: '2' }],
      ['a=1 bb=2', { a: '1', bb: '2' }],
      ['a=1 bbb=2 c', { a: '1', bbb: '2', c: 'true' }],
      ['a=1 bb=2', { a: '1', bb: '2' }],
    ];
    for (const [line, expected] of lines) expect(fields(parseLogfmtLine(line))).toEqual(expected);
  });

  it('makes __proto__ and constructor ordinary fields, and reads no prototype member', () => {
    const record = parseLogfmtLine('__proto__=x constructor=y a=1') as EventRecord;
    expect(fields(record)).toEqual({ ['__proto__']: 'x', constructor: 'y', a: '1' });
    expect((parseLogfmtLine('a=1') as EventRecord).toString).toBeUndefined();
  });
});

describe('compileRegexParser', () => {
  const runner = compileRegexParser(
    '^(?<time>\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ): (?:Running job: (?<started>.+)|Job (?<job>.+) completed with result: (?<result>\\w+))$',
  );

  it.each<[string, string, Record<string, string | undefined> | ParseRefusal]>([
    ['a start line', '2026-01-05 08:43:16Z: Running job: build', { time: '2026-01-05 08:43:16Z', started: 'build', job: undefined, result: undefined }],
    [
      'an end line',
      '2026-01-05 08:43:22Z: Job build completed with result: Succeeded',
      { time: '2026-01-05 08:43:22Z', started: undefined, job: 'build', result: 'Succeeded' },
    ],
    ['a CRLF line against a $ anchor', '2026-01-05 08:43:16Z: Running job: build\r', { time: '2026-01-05 08:43:16Z', started: 'build', job: undefined, result: undefined }],
    ['a byte order mark against a ^ anchor', '\uFEFF2026-01-05 08:43:16Z: Running job: x', { time: '2026-01-05 08:43:16Z', started: 'x', job: undefined, result: undefined }],
    ['another line', '2026-01-05 08:43:10Z: Listening for Jobs', 'no_match'],
    ['an empty line', '', 'empty_line'],
  ])('reads %s', (_name, line, expected) => {
    expect(fields(runner(line))).toEqual(expected);
  });

  it('matches where the pattern says: unanchored patterns find their text anywhere', () => {
    const anywhere = compileRegexParser('status=(?<status>\\w+)');
    expect(fields(anywhere('level=info status=ok extra'))).toEqual({ status: 'ok' });
    expect(anywhere('level=info')).toBe('no_match');
  });

  it('refuses a pattern that does not compile or has no named group', () => {
    expect(() => compileRegexParser('(?<a>')).toThrow(/^invalid regular expression "\(\?<a>": /);
    expect(() => compileRegexParser('^(\\w+)$')).toThrow('expected named groups, like (?<status>\\w+): each becomes a field');
  });
});

describe('timestamps', () => {
  it.each<[string, number]>([
    ['2026-01-05 08:43:16Z', Date.UTC(2026, 0, 5, 8, 43, 16)],
    ['2026-01-05T08:43:16.123Z', Date.UTC(2026, 0, 5, 8, 43, 16, 123)],
    ['2026-01-05t08:43:16,5z', Date.UTC(2026, 0, 5, 8, 43, 16, 500)],
    ['2026-01-05T08:43:16.123456789+01:00', Date.UTC(2026, 0, 5, 7, 43, 16, 123)],
    ['2026-01-05T08:43:16-0530', Date.UTC(2026, 0, 5, 14, 13, 16)],
    ['2026-01-05T08:43:16+02', Date.UTC(2026, 0, 5, 6, 43, 16)],
    ['2026-01-05T08:43Z', Date.UTC(2026, 0, 5, 8, 43)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2026-01-05T08:43:16', new Date(2026, 0, 5, 8, 43, 16).getTime()],
  ])('reads ISO 8601 %s', (text, expected) => {
    expect(parseIso8601(text)).toBe(expected);
  });

  it.each([
    '',
    '2026-01-05',
    '2026-01-05T08',
    '2026-13-05T08:43:16Z',
    '2026-02-29T08:43:16Z',
    '2026-04-31T08:43:16Z',
    '2026-01-05T24:00:00Z',
    '2026-01-05T08:61:00Z',
    '2026-01-05T08:43:16.Z',
    '2026-01-05T08:43:16Zjunk',
    '2026-01-05T08:43:16+1',
    '2026-01-05X08:43:16Z',
    '2026-01-O5T08:43:16Z',
    '1767602596',
  ])('refuses %j as ISO 8601', (text) => {
    expect(parseIso8601(text)).toBeNaN();
  });

  it('reads unix seconds and milliseconds, fractions included', () => {
    expect(timestampParser('unix')('1767602596.25')).toBe(1_767_602_596_250);
    expect(timestampParser('unix_ms')('1767602596250')).toBe(1_767_602_596_250);
    expect(timestampParser('unix')('yesterday')).toBeNaN();
    expect(timestampParser('unix_ms')('')).toBeNaN();
  });
});

/** A line handed to a line parser as the tailer hands it: its bytes. */
function feed(parse: LineParser, line: string, receivedMs: number): LineOutcome {
  const bytes = Buffer.from(line);
  return parse(bytes, 0, bytes.length, receivedMs);
}

describe('compileLineParser', () => {
  function run(config: LineParserConfig, lines: string[], receivedMs = 42) {
    const records: Array<[Record<string, string | undefined>, number]> = [];
    const refused: ParseRefusal[] = [];
    const parse = compileLineParser(config, { onRecord: (record, timeMs) => records.push([{ ...record }, timeMs]), onRefused: (reason) => refused.push(reason) });
    const outcomes = lines.map((line) => feed(parse, line, receivedMs));
    return { records, refused, outcomes };
  }

  it('reads regex lines of one chunk, ASCII or not, as the tailer hands them on: several from one buffer', () => {
    const records: Array<Record<string, string | undefined>> = [];
    const refused: ParseRefusal[] = [];
    const parse = compileLineParser(
      { format: 'regex', regex: '^(?<key>[^=\\s]*)\\s*(?:=(?<value>.*))?$' },
      { onRecord: (record) => records.push({ ...record }), onRefused: (reason) => refused.push(reason) },
    );
    for (const text of ['a=1\nb=two words\n \t\nno match\n', 'é=ü\nc=3\n\u00a0\n']) {
      const chunk = Buffer.from(text);
      let start = 0;
      for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
        parse(chunk, start, newline, 0);
        start = newline + 1;
      }
    }
    expect(records).toEqual([
      { key: 'a', value: '1' },
      { key: 'b', value: 'two words' },
      { key: 'é', value: 'ü' },
      { key: 'c', value: '3' },
    ]);
    // Blank lines are refused as such although the regex would take them.
    expect(refused).toEqual(['empty_line', 'no_match', 'empty_line']);
  });

  it('hands records on with the time the line was read when no timestamp field is set', () => {
    expect(run({ format: 'logfmt' }, ['a=1', 'oops="'])).toEqual({ records: [[{ a: '1' }, 42]], refused: ['invalid_logfmt'], outcomes: ['record', 'refused'] });
  });

  it('keeps what include allows and drops what exclude names', () => {
    const config = lineParserSchema.parse({ format: 'json', include: { kind: 'job' }, exclude: { level: ['debug', 'trace'] } });
    const result = run(config, [
      '{"kind":"job","level":"info","n":"1"}',
      '{"kind":"job","level":"debug","n":"2"}',
      '{"kind":"heartbeat","level":"info","n":"3"}',
      '{"kind":"job","n":"4"}',
    ]);
    expect(result.records.map(([record]) => record.n)).toEqual(['1', '4']);
    expect(result.outcomes).toEqual(['record', 'filtered', 'filtered', 'record']);
    expect(result.refused).toEqual([]);
  });

  it('takes the time from a field, and refuses a line whose time is missing or unreadable', () => {
    const config = lineParserSchema.parse({ format: 'logfmt', timestamp: { field: 'ts' } });
    const result = run(config, ['ts=2026-01-05T08:43:16Z a=1', 'a=2', 'ts=yesterday a=3']);
    expect(result.records).toEqual([[{ ts: '2026-01-05T08:43:16Z', a: '1' }, Date.UTC(2026, 0, 5, 8, 43, 16)]]);
    expect(result.refused).toEqual(['missing_timestamp', 'invalid_timestamp']);
  });

  it('reads the runner format with its own timestamp', () => {
    const config = lineParserSchema.parse({
      format: 'regex',
      regex: '^(?<time>\\S+ \\S+Z): (?<message>.*)$',
      timestamp: { field: 'time', format: 'iso8601' },
    });
    expect(run(config, ['2026-01-05 08:43:16Z: Listening for Jobs']).records).toEqual([
      [{ time: '2026-01-05 08:43:16Z', message: 'Listening for Jobs' }, Date.UTC(2026, 0, 5, 8, 43, 16)],
    ]);
  });
});

describe('lineParserSchema', () => {
  function problems(input: unknown): string[] {
    const result = lineParserSchema.safeParse(input, { error: expectedMessage });
    return result.success ? [] : result.error.issues.map((issue) => `${pathText(issue.path as Array<string | number>)}: ${issue.message}`);
  }

  it.each([
    ['an unknown format', { format: 'csv' }, ['format: expected one of json, logfmt, regex']],
    ['format: regex without a regex', { format: 'regex' }, ['regex: expected a regex with named groups for format: regex']],
    ['a regex with format: json', { format: 'json', regex: '(?<a>.)' }, ['regex: expected no regex with format: json']],
    ['a regex without named groups', { format: 'regex', regex: '^\\w+$' }, ['regex: expected named groups, like (?<status>\\w+): each becomes a field']],
    ['a regex that does not compile', { format: 'regex', regex: '(?<a>[' }, [expect.stringMatching(/^regex: invalid regular expression "\(\?<a>\[": /)]],
    ['an unknown timestamp format', { format: 'json', timestamp: { field: 't', format: 'rfc2822' } }, ['timestamp::format: expected one of iso8601, unix, unix_ms']],
    ['a timestamp without a field', { format: 'json', timestamp: {} }, ['timestamp::field: expected a string']],
  ])('refuses %s', (_name, input, expected) => {
    expect(problems(input)).toEqual(expected);
  });

  it('defaults the timestamp format to ISO 8601', () => {
    expect(lineParserSchema.parse({ format: 'json', timestamp: { field: 't' } }).timestamp).toEqual({ field: 't', format: 'iso8601' });
  });
});

describe('parser and mapper together', () => {
  it('counts every good line among 10,000 malformed ones, and every bad one by reason', () => {
    const store = new MetricStore({ scope: 'joblog/test' });
    const refused = new Map<string, number>();
    const refuse = (reason: ParseRefusal | MappingRefusal) => refused.set(reason, (refused.get(reason) ?? 0) + 1);
    const mapping = metricsSchema.parse([
      { name: 'jobs', type: 'counter', match: { event: 'completed' }, attributes: { status: { field: 'status', map: { ok: 'success', failed: 'failure' } } } },
      { name: 'job.duration', type: 'histogram', value: 'duration_s', match: { event: 'completed' } },
    ]);
    const mapper = compileMapping(mapping, { meter: store, onRefused: refuse });
    const parse = compileLineParser({ format: 'json', timestamp: { field: 'time', format: 'unix_ms' } }, { onRecord: mapper.map, onRefused: refuse }, fieldsRead(mapping));

    // Every fifth line is good; the others cycle through each way a line can be bad.
    const malformed: Array<[string, string]> = [
      ['', 'empty_line'],
      ['{"event":"completed","status":"ok"', 'invalid_json'],
      ['[1,2,3]', 'not_an_object'],
      ['{"event":"completed","status":"ok","duration_s":"1"}', 'missing_timestamp'],
      ['{"time":"soon","event":"completed","status":"ok","duration_s":"1"}', 'invalid_timestamp'],
      ['{"time":1,"event":"completed","status":"ok"}', 'missing_field'],
      ['{"time":1,"event":"completed","status":"ok","duration_s":"fast"}', 'non_numeric_value'],
      ['{"time":1,"event":"completed","status":"ok","duration_s":-3}', 'negative_value'],
      ['{"time":1,"event":"completed","status":"exploded","duration_s":1}', 'unmapped_value'],
      ['\uFEFF\r', 'empty_line'],
    ];
    let good = 0;
    let goodSeconds = 0;
    const expected = new Map<string, number>();
    for (let i = 0; i < 12_500; i++) {
      if (i % 5 === 4) {
        const seconds = i % 17;
        const status = i % 2 === 0 ? 'ok' : 'failed';
        feed(parse, JSON.stringify({ time: 1_767_602_596_000 + i, event: 'completed', status, duration_s: seconds }), 0);
        good++;
        goodSeconds += seconds;
      } else {
        const [line, reason] = malformed[i % malformed.length];
        feed(parse, line, 0);
        expected.set(reason, (expected.get(reason) ?? 0) + 1);
      }
    }
    expect(good).toBe(2_500);
    expect([...expected.values()].reduce((a, b) => a + b)).toBe(10_000);

    const jobs = points(store, 'jobs');
    const duration = points<{ count: number; sum: number }>(store, 'job.duration');
    // A line refused for its status still has its duration recorded, and one refused for
    // its duration still counts as a job: each measurement stands alone.
    const unmappedStatus = expected.get('unmapped_value')!;
    const badDuration = expected.get('missing_field')! + expected.get('non_numeric_value')! + expected.get('negative_value')!;
    expect(jobs.reduce((total, point) => total + point.value, 0)).toBe(good + badDuration);
    expect(duration[0].value.count).toBe(good + unmappedStatus);
    expect(duration[0].value.sum).toBe(goodSeconds + unmappedStatus * 1);
    expect(refused).toEqual(expected);
  });
});
