// A component type's implementation is imported only when a config's pipelines use it: at
// start, and at a reload that brings the type in. A failed import stops the start with an
// error naming the component, and refuses a reload with the running components left as they
// were. Through the real agent process, with every module it loads recorded (module-log.mjs).
import { cpSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchAgent, startAgent, tempDir, waitForLog, writeConfig, type AgentProcess } from '../support/agent-process.js';
import { eventually } from '../support/eventually.js';
import { IMPLEMENTATIONS, moduleLog } from '../support/module-log.js';
import { freePort } from '../support/ports.js';

const ROOT = resolve(import.meta.dirname, '../..');

const running: AgentProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((agent) => agent.stop()));
});

function hostOnly(port: number): string {
  return `receivers:
  hostmetrics:
    collection_interval: 1h
  joblog/jobs:
    paths: [/nonexistent/jobs.log]
    format: json
    metrics:
      - { name: jobs, type: counter }
processors:
  attributes/site: { actions: [ { key: site, value: dc1, action: upsert } ] }
exporters:
  prometheus: { endpoint: 127.0.0.1:${port} }
service:
  pipelines:
    metrics:
      receivers: [hostmetrics]
      exporters: [prometheus]
`;
}

/** The same file with joblog/jobs in the pipeline. */
function withJoblog(port: number, stateDir: string): string {
  return hostOnly(port)
    .replace('receivers: [hostmetrics]', 'receivers: [hostmetrics, joblog/jobs]')
    .replace('service:\n', `service:\n  state_directory: ${stateDir}\n`);
}

async function ready(port: number): Promise<void> {
  await eventually(async () => expect((await fetchAgent(port, '/ready')).status).toBe(200), 15_000, 50);
}

/** A copy of dist/ (beside package.json and node_modules, so it runs) without `missing`. */
function buildWithout(missing: string): string {
  const root = tempDir('otel-agent-broken-build-');
  cpSync(join(ROOT, 'dist'), join(root, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  rmSync(join(root, missing));
  return join(root, 'dist/src/cli/main.js');
}

describe('implementations load with the config that uses them', () => {
  it('runs hostmetrics and prometheus without importing the joblog receiver or an unused processor, and imports joblog when a reload adds it', async () => {
    const dir = tempDir();
    const port = await freePort();
    const file = writeConfig(dir, hostOnly(port));
    const log = moduleLog();
    const agent = startAgent(['run', '-c', file], { ...log.env, STATE_DIRECTORY: dir });
    running.push(agent);
    await ready(port);
    expect((await fetchAgent(port)).body).toContain('system_cpu_time_seconds_total');

    const loaded = log.loaded();
    expect(loaded).toEqual(expect.arrayContaining([...IMPLEMENTATIONS.hostmetrics, ...IMPLEMENTATIONS.prometheus]));
    expect(loaded.filter((path) => [...IMPLEMENTATIONS.joblog, ...IMPLEMENTATIONS.attributes].includes(path as never))).toEqual([]);

    writeConfig(dir, withJoblog(port, dir));
    agent.child.kill('SIGHUP');
    await waitForLog(agent, 'configuration reloaded');
    expect(log.loaded()).toEqual(expect.arrayContaining([...IMPLEMENTATIONS.joblog]));
    expect(log.loaded()).not.toContain(IMPLEMENTATIONS.attributes[0]);
  });

  it('refuses to start, naming the component, when its implementation cannot be imported', async () => {
    const dir = tempDir();
    const port = await freePort();
    const bin = buildWithout('dist/src/receivers/joblog/tailer.js');
    const agent = startAgent(['run', '-c', writeConfig(dir, withJoblog(port, dir))], {}, bin);
    running.push(agent);
    expect(await agent.exited).toBe(1);
    expect(agent.log()).toMatch(/otel-agent: failed to load receiver "joblog\/jobs" \(type joblog\): Cannot find module '[^']*\/receivers\/joblog\/tailer\.js'/);
    await expect(fetchAgent(port, '/ready')).rejects.toThrow();
  });

  it('refuses a reload whose new type cannot be imported, and keeps what runs', async () => {
    const dir = tempDir();
    const port = await freePort();
    const bin = buildWithout('dist/src/receivers/joblog/tailer.js');
    const file = writeConfig(dir, hostOnly(port));
    const agent = startAgent(['run', '-c', file], { STATE_DIRECTORY: dir }, bin);
    running.push(agent);
    await ready(port);

    writeConfig(dir, withJoblog(port, dir));
    agent.child.kill('SIGHUP');
    await waitForLog(agent, 'new configuration refused; the running one stays');
    expect(agent.log()).toContain('failed to load receiver \\"joblog/jobs\\" (type joblog)');
    const scrape = await fetchAgent(port);
    expect(scrape.status).toBe(200);
    expect(scrape.body).toContain('system_cpu_time_seconds_total');
    expect(agent.log()).not.toContain('configuration reloaded');
  });
});
