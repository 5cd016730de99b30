// The joblog receiver's config: defaults, what is refused and how the refusal reads.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { builtinFactories } from '../../../../src/components.js';
import { ConfigError, loadConfig, loadConfigText } from '../../../../src/config/load.js';
import { printConfig } from '../../../../src/config/redact.js';
import { compiledEventHandling } from '../../../../src/events/index.js';
import { joblogFactory } from '../../../../src/receivers/joblog/index.js';

const schema = joblogFactory.configSchema;
const minimal = { paths: ['/var/log/jobs/*.log'], format: 'json', metrics: [{ name: 'jobs', type: 'counter' }] };

function issues(input: unknown): Array<{ path: string; message: string }> {
  const result = schema.safeParse(input);
  if (result.success) throw new Error('expected the config to be refused');
  return result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
}

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

describe('joblog config', () => {
  it('fills every default from a minimal config', () => {
    expect(schema.parse(minimal)).toEqual({
      paths: ['/var/log/jobs/*.log'],
      start_at: 'end',
      format: 'json',
      max_line_bytes: 65_536,
      encoding: 'utf-8',
      poll_interval: 250,
      flush_timeout: 5000,
      checkpoint_interval: 1000,
      persist: true,
      metrics: [{ name: 'jobs', type: 'counter' }],
    });
  });

  it('takes sizes, durations, path exclusions, record conditions and a timestamp field', () => {
    const config = schema.parse({
      ...minimal,
      exclude_paths: ['/var/log/jobs/*.gz'],
      start_at: 'beginning',
      max_line_bytes: '1MiB',
      encoding: 'UTF-8',
      poll_interval: '1s',
      flush_timeout: '500ms',
      checkpoint_interval: '2s',
      include: { event: ['started', 'finished'] },
      exclude: { level: 'debug' },
      timestamp: { field: 'ts' },
    });
    expect(config).toMatchObject({
      exclude_paths: ['/var/log/jobs/*.gz'],
      start_at: 'beginning',
      max_line_bytes: 1_048_576,
      encoding: 'utf-8',
      poll_interval: 1000,
      flush_timeout: 500,
      checkpoint_interval: 2000,
      include: { event: ['started', 'finished'] },
      exclude: { level: 'debug' },
      timestamp: { field: 'ts', format: 'iso8601' },
    });
  });

  it('refuses another encoding, naming the only one read', () => {
    expect(issues({ ...minimal, encoding: 'latin1' })).toEqual([
      { path: 'encoding', message: 'expected utf-8 (the only encoding read; convert other logs with iconv first), found "latin1"' },
    ]);
  });

  it('refuses relative globs, a missing path list and unknown keys', () => {
    expect(issues({ ...minimal, paths: ['jobs.log'] })).toEqual([
      { path: 'paths.0', message: 'expected an absolute path or glob, like /var/log/app/*.log, found "jobs.log"' },
    ]);
    expect(issues({ ...minimal, exclude_paths: ['*.gz'] })).toEqual([
      { path: 'exclude_paths.0', message: 'expected an absolute path or glob, like /var/log/app/*.gz, found "*.gz"' },
    ]);
    const { paths: _paths, ...withoutPaths } = minimal;
    expect(issues(withoutPaths).map((issue) => issue.path)).toEqual(['paths']);
    expect(issues({ ...minimal, path: '/var/log/a.log' })).toEqual([{ path: '', message: 'Unrecognized key: "path"' }]);
  });

  it('refuses a line limit of 0 or above 16MiB, intervals too short, and a regex without format: regex', () => {
    expect(issues({ ...minimal, max_line_bytes: 0 })).toEqual([{ path: 'max_line_bytes', message: 'must be between 1B and 16MiB' }]);
    expect(issues({ ...minimal, max_line_bytes: '32MiB' })).toEqual([{ path: 'max_line_bytes', message: 'must be between 1B and 16MiB' }]);
    expect(issues({ ...minimal, poll_interval: '1ms' })).toEqual([{ path: 'poll_interval', message: 'must be at least 10ms' }]);
    expect(issues({ ...minimal, regex: '(?<a>.*)' })).toEqual([{ path: 'regex', message: 'expected no regex with format: json' }]);
    expect(issues({ ...minimal, format: 'regex' })).toEqual([{ path: 'regex', message: 'expected a regex with named groups for format: regex' }]);
  });

  it('keeps conditions and metrics as written, and compiles them into the parser and mapping forms', () => {
    const config = schema.parse({
      ...minimal,
      include: { event: 'finished' },
      metrics: [{ name: 'jobs', type: 'counter', attributes: { status: 'result' }, static_attributes: { site: 'dc1' } }],
    });
    expect(config.metrics).toEqual([{ name: 'jobs', type: 'counter', attributes: { status: 'result' }, static_attributes: { site: 'dc1' } }]);
    expect(compiledEventHandling(config)).toEqual({
      lineParser: { format: 'json', include: { event: { oneOf: ['finished'] } } },
      metrics: [{ name: 'jobs', type: 'counter', match: {}, attributes: { status: { field: 'result' } }, staticAttributes: { site: 'dc1' } }],
    });
  });

  function yamlFile(lines: string[]): string {
    const directory = mkdtempSync(path.join(tmpdir(), 'joblog-config-'));
    directories.push(directory);
    const file = path.join(directory, 'otel-agent.yaml');
    writeFileSync(file, [...lines, 'exporters:', '  prometheus:', 'service: { pipelines: { metrics: { receivers: [joblog/runner], exporters: [prometheus] } } }', ''].join('\n'));
    return file;
  }

  function problemsOf(file: string): string[] {
    try {
      loadConfig(file, builtinFactories(), {});
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).message.split('\n');
    }
    throw new Error('expected the config to be refused');
  }

  it('loaded from YAML, a problem names its line, the YAML path and what was found, inside the mapping too', () => {
    const file = yamlFile([
      'receivers:',
      '  joblog/runner:',
      '    paths: [/var/log/runner/*.log]',
      '    format: logfmt',
      '    encoding: latin1',
      '    include: { event: { regex: "(" } }',
      '    metrics:',
      '      - { name: runner.jobs, type: countr }',
      '      - { name: runner.duration, type: histogram, valu: duration_s }',
    ]);
    expect(problemsOf(file)).toEqual([
      `${file}:5:15: receivers::joblog/runner::encoding: expected utf-8 (the only encoding read; convert other logs with iconv first), found "latin1"`,
      `${file}:6:32: receivers::joblog/runner::include::event::regex: invalid regular expression "(": Unterminated group`,
      `${file}:8:36: receivers::joblog/runner::metrics[0]::type: expected one of counter, updown, gauge, histogram, found "countr"`,
      `${file}:9:9: receivers::joblog/runner::metrics[1]::value: expected a value (a field name) or a pair, found nothing (the key is required)`,
      `${file}:9:51: receivers::joblog/runner::metrics[1]::valu: unknown key "valu"`,
    ]);
  });

  it('with format: regex, refuses every field read that the regex does not give, naming where it is read', () => {
    const file = yamlFile([
      'receivers:',
      '  joblog/runner:',
      '    paths: [/var/log/runner/*.log]',
      '    format: regex',
      "    regex: '^(?<time>\\S+) (?<event>\\w+) (?<job>\\S+)$'",
      '    include: { evnt: started }',
      '    timestamp: { field: ts }',
      '    metrics:',
      '      - { name: runner.jobs, type: counter, match: { event: finished }, attributes: { status: result } }',
      '      - name: runner.duration',
      '        type: histogram',
      '        attributes: { job: job }',
      '        pair: { key: id, start: { event: started }, end: { event: finished } }',
    ]);
    const given = 'expected a field the regex gives (time, event, job)';
    expect(problemsOf(file)).toEqual([
      `${file}:6:22: receivers::joblog/runner::include::evnt: ${given}, found "evnt"`,
      `${file}:7:25: receivers::joblog/runner::timestamp::field: ${given}, found "ts"`,
      `${file}:9:95: receivers::joblog/runner::metrics[0]::attributes::status: ${given}, found "result"`,
      `${file}:13:22: receivers::joblog/runner::metrics[1]::pair::key: ${given}, found "id"`,
    ]);
  });

  it('print-config prints a joblog config the loader reads back the same', () => {
    const file = yamlFile([
      'receivers:',
      '  joblog/runner:',
      '    paths: [/var/log/runner/*.log]',
      '    format: regex',
      "    regex: '^(?<time>\\S+) (?<event>\\w+) (?<id>\\S+)$'",
      '    include: { event: [started, finished] }',
      '    timestamp: { field: time }',
      '    max_line_bytes: 1MiB',
      '    metrics:',
      '      - { name: runner.jobs, type: counter, match: { event: finished }, static_attributes: { site: dc1 } }',
      '      - name: runner.duration',
      '        type: histogram',
      '        pair: { key: id, start: { event: started }, end: { event: finished }, timeout: 1h }',
    ]);
    const config = loadConfig(file, builtinFactories(), {});
    const again = loadConfigText(printConfig(config), file, builtinFactories(), {});
    expect({ ...again, unused: undefined }).toEqual({ ...config, unused: undefined });
  });
});
