import { describe, expect, it } from 'vitest';
import { expectedMessage, pathText } from '../../../../src/config/errors.js';
import { metricsSchema } from '../../../../src/events/mapping/index.js';

function problems(input: unknown): string[] {
  const result = metricsSchema.safeParse(input, { error: expectedMessage });
  return result.success ? [] : result.error.issues.map((issue) => `${pathText(issue.path as Array<string | number>)}: ${issue.message}`);
}

describe('metricsSchema', () => {
  it('normalises the shorthands and fills in defaults', () => {
    const parsed = metricsSchema.parse([
      {
        name: 'runner.jobs',
        type: 'counter',
        description: 'Jobs finished',
        unit: '{jobs}',
        match: { event: 'completed' },
        attributes: {
          status: { field: 'result', map: { Succeeded: 'success', Failed: 'failure' }, default: 'unknown' },
          operation: 'operation',
        },
        static_attributes: { runner: 'build-01', slot: 2 },
      },
      { name: 'job.bytes', type: 'histogram', value: { field: 'size_kb', scale: 1024 }, buckets: [1024, 65536] },
      { name: 'runner.status', type: 'gauge', value: { field: 'state', map: { online: 1, offline: 0 }, default: -1 } },
      { name: 'runner.info', type: 'gauge', value: 1, static_attributes: { version: '2.330.0' } },
      { name: 'runner.last_update', type: 'gauge', unit: 's', value: { time: 'record' } },
      {
        name: 'runner.job.duration',
        type: 'histogram',
        unit: 's',
        pair: { key: 'job_id', start: { event: 'started' }, end: { event: 'completed' }, timeout: '6h', active: 'runner.jobs.active' },
      },
    ]);
    expect(parsed).toEqual([
      {
        name: 'runner.jobs',
        type: 'counter',
        description: 'Jobs finished',
        unit: '{jobs}',
        match: { event: { oneOf: ['completed'] } },
        attributes: {
          status: { field: 'result', map: { Succeeded: 'success', Failed: 'failure' }, default: 'unknown' },
          operation: { field: 'operation' },
        },
        staticAttributes: { runner: 'build-01', slot: '2' },
      },
      {
        name: 'job.bytes',
        type: 'histogram',
        value: { kind: 'field', field: 'size_kb', scale: 1024 },
        match: {},
        attributes: {},
        staticAttributes: {},
        buckets: [1024, 65536],
      },
      {
        name: 'runner.status',
        type: 'gauge',
        value: { kind: 'field', field: 'state', scale: 1, map: { online: 1, offline: 0 }, default: -1 },
        match: {},
        attributes: {},
        staticAttributes: {},
      },
      { name: 'runner.info', type: 'gauge', value: { kind: 'constant', value: 1 }, match: {}, attributes: {}, staticAttributes: { version: '2.330.0' } },
      { name: 'runner.last_update', type: 'gauge', unit: 's', value: { kind: 'time', time: 'record' }, match: {}, attributes: {}, staticAttributes: {} },
      {
        name: 'runner.job.duration',
        type: 'histogram',
        unit: 's',
        match: {},
        attributes: {},
        staticAttributes: {},
        pair: {
          key: 'job_id',
          start: { event: { oneOf: ['started'] } },
          end: { event: { oneOf: ['completed'] } },
          timeoutMs: 6 * 3_600_000,
          maxOpen: 10_000,
          active: 'runner.jobs.active',
        },
      },
    ]);
  });

  it('gives a pair a 24h timeout and 10000 open starts unless told', () => {
    const [metric] = metricsSchema.parse([{ name: 'd', type: 'histogram', pair: { key: 'id', start: { e: 's' }, end: { e: 'e' } } }]);
    expect(metric.pair).toMatchObject({ timeoutMs: 24 * 3_600_000, maxOpen: 10_000 });
  });

  it.each([
    ['an unknown type', [{ name: 'a', type: 'count' }], ['[0]::type: expected one of counter, updown, gauge, histogram']],
    [
      'a bad instrument name',
      [{ name: '1jobs', type: 'counter' }],
      ['[0]::name: expected an instrument name (a letter, then letters, digits, _ . / -; at most 255 characters)'],
    ],
    ['an unknown key', [{ name: 'a', type: 'counter', valeu: 'x' }], [expect.stringMatching(/^\[0\]: valid keys: name, type, /)]],
    ['a gauge without a value', [{ name: 'a', type: 'gauge' }], ['[0]::value: expected a value: a field name, a number, or { time: record|elapsed }']],
    ['a histogram without a value', [{ name: 'a', type: 'histogram' }], ['[0]::value: expected a value (a field name) or a pair']],
    ['buckets on a counter', [{ name: 'a', type: 'counter', buckets: [1] }], ['[0]::buckets: expected buckets on a histogram only, found them on a counter']],
    [
      'buckets out of order',
      [{ name: 'a', type: 'histogram', value: 'v', buckets: [1, 4, 2] }],
      ['[0]::buckets[2]: expected buckets in strictly ascending order, found 2 after 4'],
    ],
    ['a negative constant on a counter', [{ name: 'a', type: 'counter', value: -1 }], ["[0]::value: expected a counter's value to be 0 or more, found -1"]],
    ['time on a counter', [{ name: 'a', type: 'counter', value: { time: 'record' } }], ['[0]::value::time: expected { time: ... } on a gauge only, found it on a counter']],
    ['an unknown time', [{ name: 'a', type: 'gauge', value: { time: 'now' } }], ['[0]::value::time: expected one of record, elapsed']],
    ['both field and time', [{ name: 'a', type: 'gauge', value: { field: 'f', time: 'record' } }], ['[0]::value: expected exactly one of field or time']],
    ['scale with a map', [{ name: 'a', type: 'gauge', value: { field: 'f', scale: 2, map: { a: 1 } } }], ['[0]::value::scale: expected no scale with map (the map gives the numbers themselves)']],
    ['a map to text', [{ name: 'a', type: 'gauge', value: { field: 'f', map: { up: 'one' } } }], ['[0]::value::map::up: expected a number']],
    ['a zero scale', [{ name: 'a', type: 'gauge', value: { field: 'f', scale: 0 } }], ['[0]::value::scale: expected a number other than 0']],
    [
      'a value of the wrong kind',
      [{ name: 'a', type: 'gauge', value: true }],
      ['[0]::value: expected a number, a field name, { field: ..., scale|map|default: ... } or { time: record|elapsed }'],
    ],
    ['an attribute without a field', [{ name: 'a', type: 'counter', attributes: { s: { map: { a: 'b' } } } }], ['[0]::attributes::s::field: expected a field name']],
    ['an attribute map to a mapping', [{ name: 'a', type: 'counter', attributes: { s: { field: 'f', map: { a: { b: 1 } } } } }], ['[0]::attributes::s::map::a: expected a string, a number or true/false']],
    [
      'a key in both attributes and static_attributes',
      [{ name: 'a', type: 'counter', attributes: { s: 'f' }, static_attributes: { s: 'x' } }],
      ['[0]::static_attributes::s: expected a key that is not also in attributes'],
    ],
    [
      'an elapsed gauge with a free-form attribute',
      [{ name: 'a', type: 'gauge', value: { time: 'elapsed' }, attributes: { host: 'host' } }],
      ['[0]::attributes::host: expected { field: ..., map: ... }: a { time: elapsed } metric keeps a clock per attribute set, so its attributes need a value map'],
    ],
    [
      'pair with match and value',
      [{ name: 'd', type: 'histogram', value: 'v', match: { e: 'x' }, pair: { key: 'id', start: { e: 's' }, end: { e: 'e' } } }],
      [
        '[0]::match: expected no match with pair (conditions go in pair::start and pair::end)',
        '[0]::value: expected no value with pair (the value is the duration in seconds)',
      ],
    ],
    ['pair on an updown', [{ name: 'd', type: 'updown', pair: { key: 'id', start: { e: 's' }, end: { e: 'e' } } }], ['[0]::pair: expected no pair on an updown (pair::active counts open pairs)']],
    [
      'a pair without conditions and with a bad timeout',
      [{ name: 'd', type: 'histogram', pair: { key: 'id', start: {}, end: { e: 'e' }, timeout: 'soon', max_open: 0 } }],
      [
        '[0]::pair::start: expected at least one field condition',
        '[0]::pair::timeout: expected a duration like 500ms, 15s or 1h, found "soon"',
        '[0]::pair::max_open: expected a number greater than 0',
      ],
    ],
    [
      'one name with two types',
      [{ name: 'jobs', type: 'counter' }, { name: 'jobs', type: 'gauge', value: 1 }],
      ['[1]::name: expected one type per name: "jobs" is a counter at [0], not a gauge'],
    ],
    [
      'an active counter named like a histogram',
      [{ name: 'd', type: 'histogram', pair: { key: 'id', start: { e: 's' }, end: { e: 'e' }, active: 'd' } }],
      ['[0]::pair::active: expected one type per name: "d" is a histogram at [0], not a updown'],
    ],
    ['an empty list', [], [': expected at least one item']],
    ['a mapping instead of a list', { name: 'a' }, [': expected a list of metrics']],
    ['attributes as a list', [{ name: 'a', type: 'counter', attributes: ['f'] }], ['[0]::attributes: expected a mapping of attribute names to fields']],
  ])('refuses %s, saying where and why', (_name, input, expected) => {
    expect(problems(input)).toEqual(expected);
  });

  it('reports a wrong key and a cross-key problem of one metric together', () => {
    expect(problems([{ name: 'a', type: 'gauge', unit: 5 }])).toEqual([
      '[0]::unit: expected a string',
      '[0]::value: expected a value: a field name, a number, or { time: record|elapsed }',
    ]);
  });

  it('lets items share a name and a type, to feed one metric from several kinds of record', () => {
    expect(
      problems([
        { name: 'runner.status', type: 'gauge', value: 1, match: { message: 'Listening for Jobs' } },
        { name: 'runner.status', type: 'gauge', value: 0, match: { message: 'Exiting...' } },
      ]),
    ).toEqual([]);
  });
});
