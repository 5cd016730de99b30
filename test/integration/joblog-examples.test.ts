// The shipped example configs for the two seed systems, run by the real agent against sample
// logs, their scrapes compared with golden Prometheus output and checked by promtool.
// UPDATE_GOLDEN=1 rewrites the golden files from what the agent served.
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, tempDir, waitForLog, type AgentProcess } from '../support/agent-process.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/ports.js';
import { samples, scrape, valueIn } from './fixtures/joblog/harness.js';

const root = resolve(import.meta.dirname, '../..');
const fixtures = join(import.meta.dirname, 'fixtures/joblog');
const running: AgentProcess[] = [];
const directories: string[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((agent) => agent.stop()));
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

function scratchDirectory(prefix: string): string {
  const directory = tempDir(prefix);
  directories.push(directory);
  return directory;
}

async function runExample(example: string, env: NodeJS.ProcessEnv): Promise<AgentProcess> {
  const agent = startAgent(['run', '--config', join(root, 'config/examples', example)], env);
  running.push(agent);
  await waitForLog(agent, '"msg":"otel-agent started"');
  return agent;
}

/**
 * The families of a scrape that the example is about, with what differs from host to host or
 * moment to moment replaced: target_info's host labels, and the values of `timeDependent`.
 */
function normalised(exposition: string, prefixes: string[], timeDependent: string[]): string {
  const kept: string[] = [];
  for (const line of exposition.split('\n')) {
    const name = line.startsWith('#') ? line.split(' ')[2] : line.split(/[{ ]/)[0];
    if (!name || !prefixes.some((prefix) => name.startsWith(prefix))) continue;
    if (name === 'target_info' && !line.startsWith('#')) {
      kept.push(line.replace(/(\w+)="[^"]*"/g, (label, key: string) => (key === 'service_name' ? label : `${key}="<host>"`)));
    } else if (timeDependent.includes(name) && !line.startsWith('#')) {
      kept.push(line.replace(/ \S+$/, ' <time>'));
    } else {
      kept.push(line);
    }
  }
  return `${kept.join('\n')}\n`;
}

function expectGolden(actual: string, goldenFile: string): void {
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(goldenFile, actual);
  expect(actual).toBe(readFileSync(goldenFile, 'utf8'));
}

function expectPromtoolPasses(exposition: string): void {
  const check = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  expect(check.error, 'promtool is missing: apt-get install prometheus').toBeUndefined();
  expect(check.status, check.stdout + check.stderr).toBe(0);
}

describe('config/examples/github-runner.yaml', () => {
  it('serves the runner metric set under its Prometheus names from the runner console log', async () => {
    const directory = scratchDirectory('joblog-github-runner-');
    const log = join(directory, 'runner.log');
    copyFileSync(join(fixtures, 'github-runner/runner.log'), log);
    const port = await freePort();
    await runExample('github-runner.yaml', {
      RUNNER_LOG: log,
      METRICS_ENDPOINT: `127.0.0.1:${port}`,
      STATE_DIRECTORY: join(directory, 'state'),
      RUNNER_NAME: 'runner-01',
      RUNNER_VERSION: '2.321.0',
    });
    const body = await eventually(
      async () => {
        const text = await scrape(port);
        expect(valueIn(text, 'github_runner_jobs_total', { status: 'total' })).toBe(4);
        return text;
      },
      15_000,
      100,
    );
    expectGolden(
      normalised(body, ['github_runner_', 'target_info', 'otel_agent_receiver_refused'], ['github_runner_uptime_seconds']),
      join(fixtures, 'github-runner/expected.prom'),
    );
    expectPromtoolPasses(body);
    // Uptime counts from "Listening for Jobs" at 08:40:02Z.
    const listeningAt = Date.parse('2026-01-05T08:40:02Z') / 1000;
    expect(valueIn(body, 'github_runner_uptime_seconds')).toBeGreaterThanOrEqual(Date.now() / 1000 - listeningAt - 60);

    // A connection lost and a job finished while the agent runs.
    appendFileSync(log, '2026-01-05 09:20:00Z: Job lint2 completed with result: Succeeded\n2026-01-05 09:30:00Z: Runner connect error: No such host is known. Retrying until reconnected.\n');
    await eventually(
      async () => {
        const text = await scrape(port);
        expect(samples(text).filter((s) => s.name === 'github_runner_status').map((s) => s.value)).toEqual([0]);
        expect(valueIn(text, 'github_runner_jobs_total', { status: 'success' })).toBe(3);
        expect(valueIn(text, 'github_runner_last_update_timestamp')).toBe(Date.parse('2026-01-05T09:30:00Z') / 1000);
      },
      15_000,
      100,
    );
  });
});

describe('config/examples/guestkit-worker.yaml', () => {
  it('serves the worker job metrics, durations from paired events, from a JSON job log', async () => {
    const directory = scratchDirectory('joblog-guestkit-');
    const log = join(directory, 'jobs.log');
    writeFileSync(log, '');
    const port = await freePort();
    await runExample('guestkit-worker.yaml', {
      GUESTKIT_JOB_LOG: log,
      METRICS_ENDPOINT: `127.0.0.1:${port}`,
      STATE_DIRECTORY: join(directory, 'state'),
    });
    // Written while the agent runs, as the worker would.
    appendFileSync(log, readFileSync(join(fixtures, 'guestkit-worker/jobs.log')));
    const body = await eventually(
      async () => {
        const text = await scrape(port);
        expect(valueIn(text, 'guestkit_worker_active_jobs')).toBe(1);
        expect(valueIn(text, 'guestkit_worker_jobs_duration_seconds_count', { operation: 'guestkit.convert', status: 'completed' })).toBe(1);
        return text;
      },
      15_000,
      100,
    );
    expectGolden(
      normalised(body, ['guestkit_worker_', 'target_info', 'otel_agent_receiver_refused'], []),
      join(fixtures, 'guestkit-worker/expected.prom'),
    );
    expectPromtoolPasses(body);
  });
});
