// What the loader refuses before it could hang, spin or run out of stack: files that are
// not regular or too large, nesting too deep, durations no timer holds; and how long values
// and others' wording are cut down in messages.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { duration, MAX_DURATION_MS } from '../../../src/component/schema.js';
import type { ReceiverFactory } from '../../../src/component/types.js';
import { builtinFactories } from '../../../src/components.js';
import { ConfigError, formatProblem, loadConfig, loadConfigText, MAX_CONFIG_FILE_BYTES, type FactoryLookup } from '../../../src/config/load.js';
import { MAX_NESTING_DEPTH } from '../../../src/config/parse.js';
import { MAX_SUBSTITUTED_FILE_BYTES } from '../../../src/config/substitute.js';

const PIPELINE = 'service: { pipelines: { metrics: { receivers: [hostmetrics], exporters: [prometheus] } } }\n';
const MINIMAL = `receivers: { hostmetrics: }\nexporters: { prometheus: }\n${PIPELINE}`;

function problems(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map(formatProblem);
  }
  throw new Error('the config loaded');
}

const dir = mkdtempSync(join(tmpdir(), 'otel-agent-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fifo(name: string): string {
  const path = join(dir, name);
  const made = spawnSync('mkfifo', [path]);
  expect(made.status, String(made.stderr)).toBe(0);
  return path;
}

describe('files that are read', () => {
  const withToken = (reference: string) =>
    `receivers: { hostmetrics: }\nexporters:\n  prometheus:\n    bearer_token: "\${file:${reference}}"\n${PIPELINE}`;

  it('refuses a FIFO and a device named by ${file:}, at the reference, without opening them', () => {
    const pipe = fifo('token-pipe');
    const file = join(dir, 'otel-agent.yaml');
    expect(problems(() => loadConfigText(withToken(pipe), file, builtinFactories(), {}))).toEqual([
      `${file}:4:19: exporters::prometheus::bearer_token: cannot read ${pipe} for \${file:${pipe}} (it is a FIFO (named pipe); only a regular file is read)`,
    ]);
    expect(problems(() => loadConfigText(withToken('/dev/zero'), file, builtinFactories(), {}))).toEqual([
      `${file}:4:19: exporters::prometheus::bearer_token: cannot read /dev/zero for \${file:/dev/zero} (it is a character device; only a regular file is read)`,
    ]);
  });

  it('refuses a ${file:} larger than 1 MiB, and reads one of exactly 1 MiB', () => {
    const file = join(dir, 'otel-agent.yaml');
    writeFileSync(join(dir, 'big'), 'x'.repeat(MAX_SUBSTITUTED_FILE_BYTES + 1));
    expect(problems(() => loadConfigText(withToken('big'), file, builtinFactories(), {}))).toEqual([
      `${file}:4:19: exporters::prometheus::bearer_token: cannot read ${join(dir, 'big')} for \${file:big} (it is larger than 1 MiB, the most read)`,
    ]);
    writeFileSync(join(dir, 'just-fits'), 'x'.repeat(MAX_SUBSTITUTED_FILE_BYTES));
    const config = loadConfigText(withToken('just-fits'), file, builtinFactories(), {});
    expect((config.exporters.get('prometheus')!.config as { bearer_token: string }).bearer_token).toHaveLength(MAX_SUBSTITUTED_FILE_BYTES);
  });

  it('refuses a config file that is a FIFO, a device or larger than its cap', () => {
    const pipe = fifo('config-pipe');
    expect(problems(() => loadConfig(pipe, builtinFactories(), {}))).toEqual([
      `${pipe}: cannot read the config file: it is a FIFO (named pipe); only a regular file is read`,
    ]);
    expect(problems(() => loadConfig('/dev/zero', builtinFactories(), {}))).toEqual([
      '/dev/zero: cannot read the config file: it is a character device; only a regular file is read',
    ]);
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `${MINIMAL}#${'x'.repeat(MAX_CONFIG_FILE_BYTES)}\n`);
    expect(problems(() => loadConfig(big, builtinFactories(), {}))).toEqual([
      `${big}: cannot read the config file: it is larger than 1 MiB, the most read`,
    ]);
    expect(problems(() => loadConfigText(`${MINIMAL}#${'x'.repeat(MAX_CONFIG_FILE_BYTES)}\n`, 'given.yaml', builtinFactories(), {}))).toEqual([
      'given.yaml: cannot read the config file: it is larger than 1 MiB, the most read',
    ]);
  });
});

describe('nesting and many keys', () => {
  it(`refuses block nesting deeper than ${MAX_NESTING_DEPTH} levels at the first level too deep, with its path`, () => {
    // The top mapping is level 1, resource's level 2; the mapping holding k64 is level 65.
    const lines = ['resource:', ...Array.from({ length: MAX_NESTING_DEPTH }, (_, i) => `${' '.repeat(i + 1)}k${i + 1}:`)];
    const text = `${MINIMAL}${lines.join('\n')} 1\n`;
    const [problem, ...others] = problems(() => loadConfigText(text, 'deep.yaml', builtinFactories(), {}));
    expect(others).toEqual([]);
    const path = Array.from({ length: MAX_NESTING_DEPTH - 1 }, (_, i) => `k${i + 1}`).join('::');
    expect(problem).toBe(`deep.yaml:${4 + MAX_NESTING_DEPTH}:${MAX_NESTING_DEPTH + 1}: resource::${path}: expected at most 64 levels of nesting, found more`);
    // One level less is only a wrong resource value.
    const shallower = `${MINIMAL}${lines.slice(0, -1).join('\n')} 1\n`;
    expect(problems(() => loadConfigText(shallower, 'deep.yaml', builtinFactories(), {}))[0]).toMatch(/^deep\.yaml:6:3: resource::k1: expected a string, a number or true\/false/);
  });

  it('refuses flow nesting thousands deep with the same message, not a stack overflow', () => {
    const depth = 100_000;
    const text = `${MINIMAL}views: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
    expect(problems(() => loadConfigText(text, 'deep.yaml', builtinFactories(), {}))).toEqual([
      `deep.yaml:4:${8 + MAX_NESTING_DEPTH}: expected at most 64 levels of nesting, found more`,
    ]);
  });

  it('finds a duplicate key at the end of a 40,000-key mapping, at its line', () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `  k${i}: ${i}`);
    const text = `${MINIMAL}resource:\n${keys.join('\n')}\n  k7: again\n`;
    // Lines: 3 of MINIMAL, `resource:`, 40,000 keys, then the duplicate.
    expect(problems(() => loadConfigText(text, 'many.yaml', builtinFactories(), {}))).toEqual([
      `many.yaml:${4 + 40_000 + 1}:3: resource::k7: expected each key once per mapping, found "k7" again (first on line ${4 + 7 + 1})`,
    ]);
  });

  it('reports a duplicate key in a flow mapping and in a list item, each once', () => {
    const text = `${MINIMAL}resource: { a: 1, b: 2, a: 3 }\nviews:\n  - { instrument: x, instrument: y }\n`;
    expect(problems(() => loadConfigText(text, 'dup.yaml', builtinFactories(), {}))).toEqual([
      'dup.yaml:4:25: resource::a: expected each key once per mapping, found "a" again (first on line 4)',
      'dup.yaml:6:22: views[0]::instrument: expected each key once per mapping, found "instrument" again (first on line 6)',
    ]);
  });
});

describe('durations a timer can hold', () => {
  const factories: FactoryLookup = {
    receivers: new Map<string, ReceiverFactory>([
      ['poller', {
        kind: 'receiver', type: 'poller', stability: 'development', description: 'test stand-in',
        load: () => { throw new Error('not loaded'); },
        configSchema: z.strictObject({ poll_interval: duration().default(1000) }),
      }],
    ]),
    processors: new Map(),
    exporters: builtinFactories().exporters,
  };
  const withInterval = (interval: string) =>
    `receivers: { poller: { poll_interval: ${interval} } }\nexporters: { prometheus: }\nservice: { pipelines: { metrics: { receivers: [poller], exporters: [prometheus] } } }\n`;

  it('refuses 1000h, and the first millisecond past 2^31-1, with the maximum in the message', () => {
    expect(problems(() => loadConfigText(withInterval('1000h'), 'x.yaml', factories, {}))).toEqual([
      'x.yaml:1:39: receivers::poller::poll_interval: expected a duration of at most 596h31m23s (about 24.8 days, the longest a timer can wait), found "1000h"',
    ]);
    expect(problems(() => loadConfigText(withInterval(`${MAX_DURATION_MS + 1}ms`), 'x.yaml', factories, {}))).toHaveLength(1);
    const longest = loadConfigText(withInterval(`${MAX_DURATION_MS}ms`), 'x.yaml', factories, {});
    expect(longest.receivers.get('poller')!.config).toEqual({ poll_interval: MAX_DURATION_MS });
    expect(loadConfigText(withInterval('596h31m23s'), 'x.yaml', factories, {}).receivers.get('poller')!.config).toEqual({ poll_interval: 2_147_483_000 });
  });

  it('holds for the built-in components too (hostmetrics collection_interval, prometheus collection_timeout)', () => {
    const text = `receivers: { hostmetrics: { collection_interval: 1000h } }\nexporters: { prometheus: { collection_timeout: 30d } }\n${PIPELINE}`;
    const found = problems(() => loadConfigText(text, 'x.yaml', builtinFactories(), {}));
    expect(found[0]).toMatch(/^x\.yaml:1:50: receivers::hostmetrics::collection_interval: expected a duration of at most 596h31m23s/);
    // `30d` is no duration at all: days are not a unit.
    expect(found[1]).toMatch(/^x\.yaml:2:48: exporters::prometheus::collection_timeout: expected a duration like 500ms/);
  });
});

describe('what a message quotes', () => {
  it('cuts a long value to 80 characters and gives its length', () => {
    const long = 'y'.repeat(500_000);
    const text = `receivers: { hostmetrics: { collection_interval: "${long}" } }\nexporters: { prometheus: }\n${PIPELINE}`;
    const [problem] = problems(() => loadConfigText(text, 'x.yaml', builtinFactories(), {}));
    expect(problem).toBe(
      `x.yaml:1:50: receivers::hostmetrics::collection_interval: expected a duration like 500ms, 15s or 1h, found "${'y'.repeat(77)}..." (500000 characters)`,
    );
  });

  it('cuts a long unknown key and a long unknown reference', () => {
    const key = 'k'.repeat(5_000);
    const text = `receivers: { hostmetrics: { ${key}: 1 } }\nexporters: { prometheus: { namespace: "\${${'r'.repeat(5_000)}}" } }\n${PIPELINE}`;
    const found = problems(() => loadConfigText(text, 'x.yaml', builtinFactories(), {}));
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(new RegExp(`^x\\.yaml:1:29: receivers::hostmetrics::k{77}\\.\\.\\.: unknown key "k{77}\\.\\.\\." \\(5000 characters\\) \\(valid keys: `));
    expect(found[1]).toBe(
      `x.yaml:2:39: exporters::prometheus::namespace: expected \${env:NAME}, \${env:NAME:-default} or \${file:/path} (or $$ for a literal $), found "\${${'r'.repeat(75)}..." (5003 characters)`,
    );
  });

  it("shows the operator's regular expression, not the one the code built around it", () => {
    const text = `receivers:
  joblog/a:
    paths: [/var/log/a.log]
    format: regex
    regex: '(?<status>ok|failed'
    metrics: [{ name: jobs, type: counter }]
exporters: { prometheus: }
service: { pipelines: { metrics: { receivers: [joblog/a], exporters: [prometheus] } } }
`;
    const found = problems(() => loadConfigText(text, 'x.yaml', builtinFactories(), {}));
    expect(found).toContain('x.yaml:5:12: receivers::joblog/a::regex: invalid regular expression "(?<status>ok|failed": Unterminated group');
    expect(found.join('\n')).not.toContain('(?:');
  });

  it('says what an empty attribute name should be, and that it found the empty key', () => {
    const text = `receivers:
  joblog/a:
    paths: [/var/log/a.log]
    format: json
    metrics:
      - name: jobs
        type: counter
        attributes: { "": { field: status } }
exporters: { prometheus: }
service: { pipelines: { metrics: { receivers: [joblog/a], exporters: [prometheus] } } }
`;
    expect(problems(() => loadConfigText(text, 'x.yaml', builtinFactories(), {}))).toEqual([
      'x.yaml:8:23: receivers::joblog/a::metrics[0]::attributes: expected each key to be a non-empty string, found ""',
    ]);
  });
});
