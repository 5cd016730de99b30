import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { duration, hostPort, size } from '../../../src/component/schema.js';
import type { ExporterFactory, ProcessorFactory, ReceiverFactory } from '../../../src/component/types.js';
import {
  ConfigError,
  formatProblem,
  loadConfig,
  loadConfigText,
  printConfig,
  type AgentConfig,
  type FactoryLookup,
} from '../../../src/config/load.js';

const TESTDATA = fileURLToPath(new URL('./testdata/', import.meta.url));

// Small stand-ins for the real components, with strict schemas of the same kind.
function notLoaded(): never {
  throw new Error('config tests never load implementations');
}
const base = { stability: 'development', description: 'test stand-in', load: notLoaded } as const;
function receiver(type: string, configSchema: z.ZodType): ReceiverFactory {
  return { ...base, kind: 'receiver', type, configSchema };
}
function processor(type: string, configSchema: z.ZodType): ProcessorFactory {
  return { ...base, kind: 'processor', type, configSchema };
}
function exporter(type: string, configSchema: z.ZodType): ExporterFactory {
  return { ...base, kind: 'exporter', type, configSchema };
}

const factories: FactoryLookup = {
  receivers: new Map([
    ['hostmetrics', receiver('hostmetrics', z.strictObject({
      collection_interval: duration().default(60_000),
      scrapers: z.array(z.enum(['cpu', 'memory', 'filesystem'])).default(['cpu', 'memory']),
    }))],
    ['joblog', receiver('joblog', z.strictObject({
      path: z.string(),
      format: z.enum(['json', 'logfmt']).default('json'),
      max_line: size().default(65_536),
    }))],
  ]),
  processors: new Map([
    ['attributes', processor('attributes', z.strictObject({
      actions: z.array(z.strictObject({ key: z.string(), value: z.string(), action: z.enum(['insert', 'upsert', 'delete']) })).default([]),
    }))],
  ]),
  exporters: new Map([
    ['prometheus', exporter('prometheus', z.strictObject({
      endpoint: hostPort().default('127.0.0.1:9464'),
      tls: z.strictObject({ cert_file: z.string(), key_file: z.string(), client_ca_file: z.string().optional() }).optional(),
    }))],
    ['otlp', exporter('otlp', z.strictObject({
      endpoint: z.string(),
      bearer_token: z.string().optional(),
      headers: z.record(z.string(), z.string()).default({}),
    }))],
  ]),
};

/** Loads `text` as if from `file`; returns the problem lines (empty when it loads). */
function problemLines(text: string, env: NodeJS.ProcessEnv = {}, file = 'otel-agent.yaml'): string[] {
  try {
    loadConfigText(text, file, factories, env);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map(formatProblem);
  }
}

const defaultTelemetry: AgentConfig['service']['telemetry'] = { logs: { level: 'info' }, metrics: { enabled: true, seriesLimit: 2000 } };

describe('valid files, parsed onto the defaults', () => {
  it('full.yaml: every section written out', () => {
    const file = join(TESTDATA, 'valid/full.yaml');
    const expected: AgentConfig = {
      file,
      receivers: new Map([
        ['hostmetrics', { id: 'hostmetrics', type: 'hostmetrics', config: { collection_interval: 30_000, scrapers: ['cpu', 'memory'] } }],
        ['joblog/runner', { id: 'joblog/runner', type: 'joblog', name: 'runner', config: { path: '/var/log/runner/jobs.log', format: 'logfmt', max_line: 65_536 } }],
        ['joblog/build', { id: 'joblog/build', type: 'joblog', name: 'build', config: { path: '/var/log/build.log', format: 'json', max_line: 65_536 } }],
      ]),
      processors: new Map([
        ['attributes/site', { id: 'attributes/site', type: 'attributes', name: 'site', config: { actions: [{ key: 'site', value: 'dc1', action: 'upsert' }] } }],
      ]),
      exporters: new Map([
        ['prometheus', {
          id: 'prometheus',
          type: 'prometheus',
          config: {
            endpoint: '0.0.0.0:9464',
            tls: { cert_file: '/etc/otel-agent/tls/server.crt', key_file: '/etc/otel-agent/tls/server.key', client_ca_file: '/etc/otel-agent/tls/ca.crt' },
          },
        }],
        ['otlp', { id: 'otlp', type: 'otlp', config: { endpoint: 'https://collector.example:4318', headers: {} } }],
      ]),
      views: [
        {
          instrument: 'runner.job.duration',
          receiver: 'joblog/*',
          name: 'github_runner_job_duration',
          description: 'Duration of a runner job',
          buckets: [1, 2, 4, 8, 16],
          attributes: { allow: ['status', 'operation'] },
          seriesLimit: 500,
        },
        { instrument: 'system.network.*', attributes: { deny: ['device'] } },
        { instrument: 'process.*', drop: true },
      ],
      resource: { site: 'dc1', rack: 12, canary: false },
      service: {
        stateDirectory: '/srv/otel-agent',
        pipelines: [
          { name: 'metrics', receivers: ['hostmetrics', 'joblog/runner'], processors: ['attributes/site'], exporters: ['prometheus', 'otlp'] },
          { name: 'metrics/build', receivers: ['joblog/build'], processors: [], exporters: ['prometheus'] },
        ],
        telemetry: { logs: { level: 'debug' }, metrics: { enabled: false, seriesLimit: 10_000 } },
      },
      unused: [],
      warnings: [],
    };
    expect(loadConfig(file, factories, { STATE_DIRECTORY: '/ignored/when/written' })).toStrictEqual(expected);
  });

  it('minimal.yaml: components written as nothing take all their defaults', () => {
    const file = join(TESTDATA, 'valid/minimal.yaml');
    const expected: AgentConfig = {
      file,
      receivers: new Map([['hostmetrics', { id: 'hostmetrics', type: 'hostmetrics', config: { collection_interval: 60_000, scrapers: ['cpu', 'memory'] } }]]),
      processors: new Map(),
      exporters: new Map([['prometheus', { id: 'prometheus', type: 'prometheus', config: { endpoint: '127.0.0.1:9464' } }]]),
      views: [],
      resource: {},
      service: {
        stateDirectory: '/var/lib/otel-agent',
        pipelines: [{ name: 'metrics', receivers: ['hostmetrics'], processors: [], exporters: ['prometheus'] }],
        telemetry: defaultTelemetry,
      },
      unused: [],
      warnings: [],
    };
    expect(loadConfig(file, factories, {})).toStrictEqual(expected);
  });

  it('takes the state directory from systemd (first of several) when the file names none', () => {
    const config = loadConfig(join(TESTDATA, 'valid/minimal.yaml'), factories, { STATE_DIRECTORY: '/var/lib/otel-agent-a:/var/lib/other' });
    expect(config.service.stateDirectory).toBe('/var/lib/otel-agent-a');
  });

  it('unused-and-anchors.yaml: merge keys share a block; components in no pipeline are listed, not refused', () => {
    const file = join(TESTDATA, 'valid/unused-and-anchors.yaml');
    const expected: AgentConfig = {
      file,
      receivers: new Map([
        ['joblog/a', { id: 'joblog/a', type: 'joblog', name: 'a', config: { path: '/var/log/a.log', format: 'logfmt', max_line: 1_048_576 } }],
        ['joblog/spare', { id: 'joblog/spare', type: 'joblog', name: 'spare', config: { path: '/var/log/spare.log', format: 'logfmt', max_line: 1_048_576 } }],
      ]),
      processors: new Map(),
      exporters: new Map([
        ['prometheus', { id: 'prometheus', type: 'prometheus', config: { endpoint: '127.0.0.1:9100' } }],
        ['otlp', { id: 'otlp', type: 'otlp', config: { endpoint: 'http://127.0.0.1:4318', headers: {} } }],
      ]),
      views: [],
      resource: {},
      service: {
        stateDirectory: '/var/lib/otel-agent',
        pipelines: [{ name: 'metrics', receivers: ['joblog/a'], processors: [], exporters: ['prometheus'] }],
        telemetry: defaultTelemetry,
      },
      unused: ['receivers::joblog/spare', 'exporters::otlp'],
      warnings: [],
    };
    expect(loadConfig(file, factories, {})).toStrictEqual(expected);
  });
});

// Each invalid file with the exact lines the loader prints, `file:` left out.
const INVALID: Record<string, string[]> = {
  'syntax.yaml': ['6:1: Flow map in block collection must be sufficiently indented and end with a }'],
  'duplicate-key.yaml': [
    '4:5: receivers::hostmetrics::collection_interval: expected each key once per mapping, found "collection_interval" again (first on line 3)',
  ],
  'not-a-mapping.yaml': ['1:1: expected a mapping with receivers, exporters and service at the top, found a list of 2'],
  'unknown-keys.yaml': [
    '1:1: recievers: unknown key "recievers" (valid keys: receivers, processors, exporters, views, resource, service)',
    '5:5: receivers::hostmetrics::colection_interval: unknown key "colection_interval" (valid keys: collection_interval, scrapers)',
    '9:57: exporters::prometheus::tls::htttp: unknown key "htttp" (valid keys: cert_file, key_file, client_ca_file)',
    '12:5: views[0]::bucket: unknown key "bucket" (valid keys: instrument, receiver, name, description, buckets, attributes, drop, series_limit)',
    '17:5: service::telemetry::log: unknown key "log" (valid keys: logs, metrics, health)',
  ],
  'wrong-values.yaml': [
    '3:26: receivers::hostmetrics::collection_interval: expected a duration like 500ms, 15s or 1h, found "30 seconds"',
    '4:21: receivers::hostmetrics::scrapers[1]: expected one of cpu, memory, filesystem, found "disk"',
    '6:11: receivers::joblog/runner::path: expected a string, found 42',
    '7:15: receivers::joblog/runner::max_line: expected a size like 512B, 64KiB or 64MiB, found "lots"',
    '10:15: exporters::prometheus::endpoint: expected host:port, like 127.0.0.1:9464, found "localhost"',
    '13:19: exporters::otlp::bearer_token: expected a string, found a number (not shown: secret)',
    '15:9: resource::site: expected a string, a number or true/false, found a list of 2',
    '17:20: service::state_directory: expected an absolute path, found "state"',
    '21:20: service::telemetry::logs::level: expected one of debug, info, warn, error, found "verbose"',
    '22:25: service::telemetry::metrics::enabled: expected true or false, found "yes"',
    '22:44: service::telemetry::metrics::series_limit: expected a positive integer, found "many"',
  ],
  'ids.yaml': [
    '2:3: receivers::rediss/a: unknown receiver type "rediss" in id "rediss/a" (valid values: hostmetrics, joblog)',
    '3:3: receivers::hostmetrics/: expected an id like "type" or "type/name", found "hostmetrics/" (empty name)',
    '4:3: receivers::/runner: expected an id like "type" or "type/name", found "/runner" (empty type)',
    '7:3: processors::attribute/site: unknown processor type "attribute" in id "attribute/site" (valid values: attributes)',
  ],
  'pipelines.yaml': [
    '11:32: service::pipelines::metrics::receivers[1]: expected a receiver declared under receivers, found "joblog/runer" (receivers declared: hostmetrics, joblog/runner)',
    '11:46: service::pipelines::metrics::receivers[2]: expected each id once per list, found "hostmetrics" again (first at [0])',
    '12:37: service::pipelines::metrics::processors[1]: expected a processor declared under processors, found "prometheus" (declared under exporters)',
    '14:5: service::pipelines::metrics/empty::receivers: expected at least one receiver id, found none',
    '14:5: service::pipelines::metrics/empty::exporters: expected at least one exporter id, found none',
    '16:5: service::pipelines::traces: expected a pipeline named metrics or metrics/<name>, found "traces"',
    '18:18: service::pipelines::traces::exporters: expected at least one exporter id, found none',
  ],
  'no-pipelines.yaml': [
    '5:1: service::pipelines: expected at least one pipeline, like metrics: { receivers: [...], exporters: [...] }, found none',
  ],
  'views.yaml': [
    '7:11: views[0]::name: expected no name when instrument is a pattern ("runner.*" may match many instruments; a rename needs one), found "jobs_total"',
    '8:19: views[0]::series_limit: expected a positive integer, found -1',
    '10:24: views[1]::buckets[3]: expected buckets in strictly ascending order, found 4 after 8',
    '10:27: views[1]::buckets[4]: expected a finite number, found Infinity',
    '12:17: views[2]::attributes: expected either allow or deny, found both',
    '13:19: views[2]::series_limit: expected a positive integer, found 0',
    '14:5: views[3]::instrument: expected a string, found nothing (the key is required)',
    '15:11: views[3]::drop: expected true or false, found "maybe"',
    '17:11: views[4]::name: expected an instrument name (a letter, then letters, digits, _ . / -; at most 255 characters), found "1cpu"',
    '19:15: views[5]::receiver: expected no receiver in a view of the agent\'s own metrics (otel_agent.*: no receiver records them), found "netlink"',
    '20:14: views[5]::buckets: expected only name, description or drop in a view of the agent\'s own metrics (otel_agent.*), found buckets',
    '21:17: views[5]::attributes: expected only name, description or drop in a view of the agent\'s own metrics (otel_agent.*), found attributes',
    '22:19: views[5]::series_limit: expected only name, description or drop in a view of the agent\'s own metrics (otel_agent.*), found series_limit',
  ],
  'many-problems.yaml': [
    '4:26: receivers::hostmetrics::collection_interval: environment variable SCRAPE_INTERVAL is not set (write ${env:SCRAPE_INTERVAL:-value} to give a default)',
    '5:3: receivers::redis/primary: unknown receiver type "redis" in id "redis/primary" (valid values: hostmetrics, joblog)',
    '9:5: exporters::prometheus::htttp: unknown key "htttp" (valid keys: endpoint, tls)',
    '12:11: views[0]::name: expected no name when instrument is a pattern ("*" may match many instruments; a rename needs one), found "everything"',
    '16:32: service::pipelines::metrics::receivers[1]: expected a receiver declared under receivers, found "joblog" (receivers declared: hostmetrics, redis/primary)',
    '17:18: service::pipelines::metrics::exporters: expected at least one exporter id, found none',
  ],
};

describe('invalid files: every problem, one positioned line each', () => {
  for (const [name, lines] of Object.entries(INVALID)) {
    it(name, () => {
      const file = join(TESTDATA, 'invalid', name);
      let error: unknown;
      try {
        loadConfig(file, factories, {});
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const configError = error as ConfigError;
      const expected = lines.map((line) => `${file}:${line}`);
      expect(configError.problems.map(formatProblem)).toEqual(expected);
      expect(configError.message).toBe(expected.join('\n'));
      expect(configError.code).toBe('AGT_ERR_CONFIG_INVALID');
    });
  }

  it('reports the problems of every stage of one file together', () => {
    const error = (() => {
      try {
        loadConfig(join(TESTDATA, 'invalid/many-problems.yaml'), factories, {});
      } catch (err) {
        return err as ConfigError;
      }
      throw new Error('many-problems.yaml loaded');
    })();
    expect(error.problems).toHaveLength(6);
    expect(error.problems[0]).toEqual({
      file: join(TESTDATA, 'invalid/many-problems.yaml'),
      line: 4,
      column: 26,
      path: 'receivers::hostmetrics::collection_interval',
      message: 'environment variable SCRAPE_INTERVAL is not set (write ${env:SCRAPE_INTERVAL:-value} to give a default)',
    });
  });

  it('names a file it cannot read, without a position', () => {
    const file = join(TESTDATA, 'no-such-file.yaml');
    expect(() => loadConfig(file, factories, {})).toThrow(`${file}: cannot read the config file: no such file`);
  });

  it('refuses an empty file', () => {
    expect(problemLines('# nothing yet\n')).toEqual([
      'otel-agent.yaml:1:1: expected a mapping with receivers, exporters and service at the top, found an empty file',
    ]);
  });

  it('points a missing required key at its parent, and a component of the wrong shape at its value', () => {
    const text = [
      'receivers:',
      '  joblog/a:',
      '    format: json',
      '  hostmetrics: [cpu]',
      'exporters: { prometheus: }',
      'service: { pipelines: { metrics: { receivers: [joblog/a, hostmetrics], exporters: [prometheus] } } }',
    ].join('\n');
    expect(problemLines(text)).toEqual([
      'otel-agent.yaml:2:3: receivers::joblog/a::path: expected a string, found nothing (the key is required)',
      'otel-agent.yaml:4:16: receivers::hostmetrics: expected a mapping, found a list of 1',
    ]);
  });
});

describe('substitution', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otel-agent-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'token.txt'), 's3cr3t-token\n');
  writeFileSync(join(dir, 'api-key.txt'), 'key-from-file\n\n');

  const withSecrets = (exporters: string) => `
receivers:
  hostmetrics:
exporters:
${exporters}
service:
  pipelines:
    metrics: { receivers: [hostmetrics], exporters: [otlp] }
`;

  it('keeps a $ that starts no reference, turns $$ into $, and never re-reads what it inserted', () => {
    const config = loadConfigText(
      withSecrets(`
  otlp:
    endpoint: https://collector.example:4318
    headers:
      literal: pa$word
      escaped: pa$$word
      escaped-reference: $\${env:NOT_EXPANDED}
      from-env: \${env:WITH_DOLLAR}
      yaml-looking: \${env:YAML_LOOKING}`),
      join(dir, 'otel-agent.yaml'),
      factories,
      { WITH_DOLLAR: 'x$y${env:OTHER}', YAML_LOOKING: '{ a: 1 }', OTHER: 'never used' },
    );
    expect((config.exporters.get('otlp')!.config as { headers: object }).headers).toStrictEqual({
      literal: 'pa$word',
      escaped: 'pa$word',
      'escaped-reference': '${env:NOT_EXPANDED}',
      'from-env': 'x$y${env:OTHER}',
      'yaml-looking': '{ a: 1 }',
    });
  });

  it('takes defaults when a variable is unset or empty, and reads files relative to the config', () => {
    const config = loadConfigText(
      withSecrets(`
  otlp:
    endpoint: "https://\${env:COLLECTOR_HOST:-collector.example}:\${env:COLLECTOR_PORT}"
    bearer_token: \${file:token.txt}
    headers: { x-api-key: "\${file:${join(dir, 'api-key.txt')}}", x-empty: "\${env:EMPTY:-fallback}" }`),
      join(dir, 'otel-agent.yaml'),
      factories,
      { COLLECTOR_PORT: '4318', EMPTY: '' },
    );
    expect(config.exporters.get('otlp')!.config).toStrictEqual({
      endpoint: 'https://collector.example:4318',
      bearer_token: 's3cr3t-token',
      // Every line break at the end is removed, as bearer_token_file does.
      headers: { 'x-api-key': 'key-from-file', 'x-empty': 'fallback' },
    });
  });

  it('leaves a lone ${env:X} a string, and reads numeric text where the agent counts', () => {
    const config = loadConfigText(
      `
receivers: { hostmetrics: }
exporters: { prometheus: { endpoint: "127.0.0.1:\${env:PORT}" } }
resource:
  rack: \${env:RACK}
  \${env:KEYS_ARE_NOT_SUBSTITUTED}: 1
views:
  - instrument: "runner.*"
    series_limit: \${env:RUNNER_SERIES}
service:
  pipelines: { metrics: { receivers: [hostmetrics], exporters: [prometheus] } }
  telemetry:
    metrics: { enabled: "\${env:SELF_METRICS}", series_limit: "\${env:SERIES_LIMIT}" }
`,
      'otel-agent.yaml',
      factories,
      { PORT: '9464', RACK: '12', RUNNER_SERIES: '500', SELF_METRICS: 'false', SERIES_LIMIT: '5000' },
    );
    expect(config.exporters.get('prometheus')!.config).toStrictEqual({ endpoint: '127.0.0.1:9464' });
    expect(config.resource).toStrictEqual({ rack: '12', '${env:KEYS_ARE_NOT_SUBSTITUTED}': 1 });
    expect(config.views).toStrictEqual([{ instrument: 'runner.*', seriesLimit: 500 }]);
    expect(config.service.telemetry.metrics).toStrictEqual({ enabled: false, seriesLimit: 5000 });
  });

  it('reports unset variables, unreadable files and unknown references where they are written', () => {
    const text = withSecrets(`
  otlp:
    endpoint: \${env:COLLECTOR}
    bearer_token: \${file:missing-token.txt}
    headers: { a: "\${secret:x}", b: "\${env:UNCLOSED" }`);
    expect(problemLines(text, {}, join(dir, 'otel-agent.yaml')).map((line) => line.slice(dir.length + 1))).toEqual([
      'otel-agent.yaml:7:15: exporters::otlp::endpoint: environment variable COLLECTOR is not set (write ${env:COLLECTOR:-value} to give a default)',
      `otel-agent.yaml:8:19: exporters::otlp::bearer_token: cannot read ${dir}/missing-token.txt for \${file:missing-token.txt} (no such file)`,
      'otel-agent.yaml:9:19: exporters::otlp::headers::a: expected ${env:NAME}, ${env:NAME:-default} or ${file:/path} (or $$ for a literal $), found "${secret:x}"',
      'otel-agent.yaml:9:37: exporters::otlp::headers::b: unterminated "${" (write $$ for a literal $)',
    ]);
  });

  it('never shows a value read from a file in a problem', () => {
    writeFileSync(join(dir, 'endpoint'), 'collector-in-file\n');
    writeFileSync(join(dir, 'interval'), 'soon-from-file\n');
    const text = `
receivers:
  hostmetrics: { collection_interval: "\${file:interval}" }
exporters:
  prometheus: { endpoint: "\${file:endpoint}" }
service:
  pipelines: { metrics: { receivers: [hostmetrics], exporters: [prometheus] } }
`;
    expect(problemLines(text, {}, join(dir, 'otel-agent.yaml')).map((line) => line.slice(dir.length + 1))).toEqual([
      'otel-agent.yaml:3:39: receivers::hostmetrics::collection_interval: expected a duration like 500ms, 15s or 1h, found "<redacted>"',
      'otel-agent.yaml:5:27: exporters::prometheus::endpoint: expected host:port, like 127.0.0.1:9464, found a string (not shown: secret)',
    ]);
  });

  it('says to quote a reference written bare inside { }, where YAML reads its brace as syntax', () => {
    expect(problemLines('exporters: { prometheus: { endpoint: ${env:ENDPOINT} } }\n')).toEqual([
      'otel-agent.yaml:1:39: Unexpected flow-map-start at node end (inside { } or [ ], quote a value holding ${...}, like "${env:PORT}")',
    ]);
  });
});

describe('printConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otel-agent-print-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'api-key'), 'k3y-fr0m-f1le\n');

  it('prints the effective config with every secret redacted and file paths kept', () => {
    const config = loadConfigText(
      `
receivers:
  hostmetrics: { collection_interval: 15s }
exporters:
  prometheus:
    tls: { cert_file: /etc/tls/server.crt, key_file: /etc/tls/server.key }
  otlp:
    endpoint: https://collector.example:4318
    bearer_token: \${env:OTLP_TOKEN}
    headers:
      Authorization: Basic dXNlcjpwYXNz
      X-Api-Key: \${file:api-key}
      X-Copy: k3y-fr0m-f1le
      X-Site: dc1
views:
  - { instrument: "runner.*", series_limit: 100 }
service:
  pipelines:
    metrics: { receivers: [hostmetrics], exporters: [prometheus, otlp] }
`,
      join(dir, 'otel-agent.yaml'),
      factories,
      { OTLP_TOKEN: 'env-t0ken' },
    );
    const printed = printConfig(config);
    for (const secret of ['env-t0ken', 'dXNlcjpwYXNz', 'k3y-fr0m-f1le']) expect(printed).not.toContain(secret);
    expect(parse(printed)).toStrictEqual({
      receivers: { hostmetrics: { collection_interval: '15s', scrapers: ['cpu', 'memory'] } },
      processors: {},
      exporters: {
        prometheus: { endpoint: '127.0.0.1:9464', tls: { cert_file: '/etc/tls/server.crt', key_file: '/etc/tls/server.key' } },
        otlp: {
          endpoint: 'https://collector.example:4318',
          bearer_token: '<redacted>',
          // From a file, or equal to what a file gave: redacted whatever the key.
          headers: { Authorization: '<redacted>', 'X-Api-Key': '<redacted>', 'X-Copy': '<redacted>', 'X-Site': 'dc1' },
        },
      },
      views: [{ instrument: 'runner.*', series_limit: 100 }],
      resource: {},
      service: {
        state_directory: '/var/lib/otel-agent',
        pipelines: { metrics: { receivers: ['hostmetrics'], processors: [], exporters: ['prometheus', 'otlp'] } },
        telemetry: { logs: { level: 'info' }, metrics: { enabled: true, series_limit: 2000 } },
      },
    });
    // The printed file loads again onto the same pipelines (durations print as milliseconds).
    expect(() => loadConfigText(printed.replace('collection_interval: 15000', 'collection_interval: 15s'), 'printed.yaml', factories, {})).not.toThrow();
  });
});

describe('secrets in problems, whatever their type', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otel-agent-secret-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const secretFactories: FactoryLookup = {
    ...factories,
    exporters: new Map([
      ...factories.exporters,
      ['guarded', exporter('guarded', z.strictObject({
        basic_auth: z.strictObject({ username: z.string(), password_hash: z.string() }).optional(),
        bearer_token: z.string().optional(),
        api_token: z.string().optional(),
      }))],
    ]),
  };
  const guarded = (body: string) => `
receivers: { hostmetrics: }
exporters:
  guarded:
${body}
service:
  pipelines: { metrics: { receivers: [hostmetrics], exporters: [guarded] } }
`;
  const lines = (text: string, env: NodeJS.ProcessEnv = {}) => {
    try {
      loadConfigText(text, join(dir, 'otel-agent.yaml'), secretFactories, env);
      return [];
    } catch (err) {
      return (err as ConfigError).problems.map(formatProblem).map((line) => line.slice(dir.length + 1));
    }
  };

  it('never shows a string written where basic_auth expects a mapping', () => {
    expect(lines(guarded('    basic_auth: "prom:PLAINPW"'))).toEqual([
      'otel-agent.yaml:5:17: exporters::guarded::basic_auth: expected a mapping, found a string (not shown: secret)',
    ]);
    expect(lines(guarded('    basic_auth: [prom, PLAINPW]')).join('\n')).not.toContain('PLAINPW');
  });

  it('never shows the text around an unknown reference in a token', () => {
    const found = lines(guarded('    bearer_token: "p@${ss-X}w0rd"'));
    expect(found).toEqual([
      'otel-agent.yaml:5:19: exporters::guarded::bearer_token: expected ${env:NAME}, ${env:NAME:-default} or ${file:/path} (or $$ for a literal $), found a "${" that starts no reference (not shown: secret)',
    ]);
  });

  it('refuses a token holding whitespace or a line break, from the file or from ${file:}, without showing it', () => {
    writeFileSync(join(dir, 'two-lines'), 'first-t0ken\nsecond-t0ken\n');
    writeFileSync(join(dir, 'trailing-breaks'), 'good-t0ken\n\n');
    expect(lines(guarded('    bearer_token: "t0ken with space"\n    api_token: ${file:two-lines}'))).toEqual([
      'otel-agent.yaml:5:19: exporters::guarded::bearer_token: expected a token of visible characters only, found one where it holds whitespace or a control character (not shown: secret)',
      'otel-agent.yaml:6:16: exporters::guarded::api_token: expected a token of visible characters only, found one where it holds whitespace or a control character (not shown: secret)',
    ]);
    // The line breaks at the end of a file are not part of the token.
    const config = loadConfigText(guarded('    bearer_token: ${file:trailing-breaks}'), join(dir, 'otel-agent.yaml'), secretFactories, {});
    expect(config.exporters.get('guarded')!.config).toEqual({ bearer_token: 'good-t0ken' });
  });
});

describe('warnings: labels named like secrets', () => {
  const labelFactories: FactoryLookup = {
    ...factories,
    exporters: new Map([
      ...factories.exporters,
      ['labelled', exporter('labelled', z.strictObject({ const_labels: z.record(z.string(), z.string()).default({}) }))],
    ]),
  };

  it('warns about resource and const_labels keys named like secrets, placed at the key, and still loads', () => {
    const text = `
receivers: { hostmetrics: }
exporters:
  labelled:
    const_labels: { site: dc1, api_token: abc }
resource:
  password: hunter2
  region: eu
service:
  pipelines: { metrics: { receivers: [hostmetrics], exporters: [labelled] } }
`;
    const config = loadConfigText(text, 'otel-agent.yaml', labelFactories, {});
    const message = 'a label named like a secret: its value is served in plain text on every series (print-config only hides it); rename it, or keep secrets out of labels';
    expect(config.warnings.map(formatProblem)).toEqual([
      `otel-agent.yaml:5:32: exporters::labelled::const_labels::api_token: ${message}`,
      `otel-agent.yaml:7:3: resource::password: ${message}`,
    ]);
    expect(JSON.stringify(config.warnings)).not.toMatch(/hunter2|abc/);
  });

  it('has no warning for ordinary labels', () => {
    const config = loadConfigText(
      'receivers: { hostmetrics: }\nexporters: { labelled: { const_labels: { site: dc1 } } }\nresource: { region: eu }\nservice: { pipelines: { metrics: { receivers: [hostmetrics], exporters: [labelled] } } }\n',
      'otel-agent.yaml',
      labelFactories,
      {},
    );
    expect(config.warnings).toEqual([]);
  });
});
