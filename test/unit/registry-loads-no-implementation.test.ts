// The registry holds schemas only: importing it, loading and validating a config that names
// every built-in type, `validate` and `components` import no component's implementation nor
// the libraries only implementations use. Checked in a child `node` on dist/, with a loader
// hook recording every module the process loads (test/support/module-log.mjs).
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AGENT_BIN, tempDir, writeConfig } from '../support/agent-process.js';
import { EVERY_IMPLEMENTATION, moduleLog } from '../support/module-log.js';

const DIST = pathToFileURL(AGENT_BIN.replace(/src\/cli\/main\.js$/, '')).href;

/** Every built-in type, in one pipeline. */
const EVERY_TYPE = `
receivers:
  hostmetrics:
  joblog/jobs:
    paths: [/nonexistent/jobs.log]
    format: json
    metrics:
      - { name: jobs, type: counter }
  netlink:
  redis:
  mqtt:
    subscriptions: [ { topic: jobs, format: json, metrics: [ { name: events, type: counter } ] } ]
  checksum:
    manifests: [/nonexistent/SHA256SUMS]
processors:
  attributes/site: { actions: [ { key: site, value: dc1, action: upsert } ] }
  filter/drop: { metrics: { exclude: [noise.*] } }
  resource/env: { attributes: [ { key: env, value: test, action: upsert } ] }
exporters:
  prometheus: { endpoint: 127.0.0.1:0 }
service:
  pipelines:
    metrics:
      receivers: [hostmetrics, joblog/jobs, netlink, redis, mqtt, checksum]
      processors: [attributes/site, filter/drop, resource/env]
      exporters: [prometheus]
`;

function run(args: string[], log = moduleLog()): string[] {
  const result = spawnSync(process.execPath, args, { encoding: 'utf8', env: log.env, timeout: 30_000 });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return log.loaded();
}

function expectNoImplementation(loaded: string[]): void {
  // The hook saw the schemas load, so an empty list below means something.
  expect(loaded).toContain('dist/src/components.js');
  expect(loaded).toContain('dist/src/receivers/joblog/config.js');
  expect(loaded).toContain('dist/src/exporters/prometheus/config.js');
  expect(loaded.filter((path) => EVERY_IMPLEMENTATION.includes(path))).toEqual([]);
  // The client libraries only implementations use.
  for (const library of ['bcryptjs', 'ioredis', 'mqtt']) expect(loaded.filter((path) => path.startsWith(`node_modules/${library}/`)), library).toEqual([]);
}

describe('the registry loads schemas, not implementations', () => {
  it('when imported and used to load and validate a config naming every type', () => {
    const file = writeConfig(tempDir(), EVERY_TYPE);
    const script = `
      const { builtinFactories } = await import(${JSON.stringify(`${DIST}src/components.js`)});
      const { loadConfig } = await import(${JSON.stringify(`${DIST}src/config/load.js`)});
      const config = loadConfig(${JSON.stringify(file)}, builtinFactories(), process.env, { checkLocalFiles: false });
      if (config.service.pipelines[0].processors.length !== 3) throw new Error('config not loaded');
    `;
    expectNoImplementation(run(['--input-type=module', '-e', script]));
  });

  it('for otel-agent validate', () => {
    const file = writeConfig(tempDir(), EVERY_TYPE);
    const log = moduleLog();
    const result = spawnSync(process.execPath, [AGENT_BIN, 'validate', '-c', file], { encoding: 'utf8', env: log.env, timeout: 30_000 });
    expect(result.stdout).toContain('valid (1 pipeline(s))');
    expect(result.status).toBe(0);
    expectNoImplementation(log.loaded());
  });

  it('for otel-agent components', () => {
    expectNoImplementation(run([AGENT_BIN, 'components']));
  });
});
