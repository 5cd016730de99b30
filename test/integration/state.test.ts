// The state store through the real agent process: counter values that survive kill -9
// exactly (saved in the same atomic write as the offsets), and one agent per state directory.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAgent, startAgent, tempDir, waitForLog, writeConfig, type AgentProcess } from '../support/agent-process.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/ports.js';
import { seededRandom } from '../support/seeded-random.js';
import { scrape, startWith, valueIn } from './fixtures/joblog/harness.js';

let directory: string;
let logs: string;
let stateDir: string;
let port: number;
const running: AgentProcess[] = [];

beforeEach(async () => {
  directory = tempDir('otel-agent-state-');
  logs = join(directory, 'logs');
  mkdirSync(logs);
  stateDir = join(directory, 'state');
  port = await freePort();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((agent) => agent.stop()));
});

/** Counts build jobs by status; lint jobs match nothing. */
function config(log: string, agentPort = port): string {
  return `receivers:
  joblog/a:
    paths: [${log}]
    start_at: beginning
    format: logfmt
    poll_interval: 20ms
    checkpoint_interval: 100ms
    metrics:
      - name: test.jobs
        type: counter
        match: { job: build }
        attributes: { status: status }
exporters:
  prometheus:
    endpoint: 127.0.0.1:${agentPort}
service:
  state_directory: ${stateDir}
  pipelines:
    metrics:
      receivers: [joblog/a]
      exporters: [prometheus]
`;
}

async function start(yaml: string, name?: string): Promise<AgentProcess> {
  const agent = await startWith(directory, yaml, name);
  running.push(agent);
  return agent;
}

interface SavedSeries {
  attributes: Record<string, string>;
  startMs: number;
  value: number;
}

/** The series of `test.jobs` saved with joblog/a's offsets, by status. */
function savedSeries(): Map<string, SavedSeries> {
  const file = join(stateDir, 'joblog', 'checkpoints.json');
  const found = new Map<string, SavedSeries>();
  if (!existsSync(file)) return found;
  const saved = JSON.parse(readFileSync(file, 'utf8')) as {
    receivers?: Record<string, { metrics?: { instruments: Array<{ instrument: string; series: SavedSeries[] }> } }>;
  };
  const jobs = saved.receivers?.['joblog/a']?.metrics?.instruments.find((i) => i.instrument === 'test.jobs');
  for (const series of jobs?.series ?? []) found.set(series.attributes.status, series);
  return found;
}

const STATUSES = ['ok', 'failed', 'cancelled'];

describe('counter values across kill -9', () => {
  it('100,000 lines, five kill -9 at seeded random moments: the totals equal the matching lines, from the first start time', async () => {
    const seed = Number(process.env.STATE_TEST_SEED ?? 20261203);
    const random = seededRandom(seed);
    const TOTAL = 100_000;
    const BATCH = 500;
    const KILLS = 5;
    // Where the kills come: after random batches, in order, none in the same batch.
    const killAfter = new Set<number>();
    while (killAfter.size < KILLS) killAfter.add(1 + Math.floor(random() * (TOTAL / BATCH - 2)));
    const log = join(logs, 'jobs.log');
    writeFileSync(log, '');
    const expected = new Map(STATUSES.map((status) => [status, 0]));

    let agent = await start(config(log));
    // The first start's time, as saved with the first checkpoint after a line counted.
    writeFileSync(log, 'n=0 job=build status=ok\n');
    expected.set('ok', 1);
    await eventually(() => expect(savedSeries().get('ok')?.value).toBe(1), 10_000, 20);
    const firstStart = savedSeries().get('ok')!.startMs;
    // Each series' start time as first saved: it must never change.
    const startTimes = new Map<string, number>();
    const noteStartTimes = () => {
      for (const [status, series] of savedSeries()) {
        if (!startTimes.has(status)) startTimes.set(status, series.startMs);
        expect(series.startMs, `start time of status ${status}`).toBe(startTimes.get(status));
      }
    };

    let written = 1;
    let kills = 0;
    for (let batch = 0; written < TOTAL; batch += 1) {
      let text = '';
      for (let i = 0; i < BATCH && written < TOTAL; i += 1, written += 1) {
        const job = random() < 0.25 ? 'lint' : 'build';
        const status = STATUSES[Math.floor(random() * STATUSES.length)];
        if (job === 'build') expected.set(status, expected.get(status)! + 1);
        text += `n=${written} job=${job} status=${status}\n`;
      }
      await appendFile(log, text);
      if (killAfter.has(batch)) {
        // Some random part of a checkpoint interval after lines were written: reading, or between checkpoints.
        await delay(Math.floor(random() * 150));
        agent.child.kill('SIGKILL');
        expect(await agent.exited).toBe('SIGKILL');
        running.splice(running.indexOf(agent), 1);
        kills += 1;
        noteStartTimes();
        agent = await start(config(log));
        expect(agent.log()).toContain('state directory lock left by an agent that is gone; taken over');
      } else if (batch % 10 === 0) {
        await delay(5);
      }
    }
    expect(kills).toBe(KILLS);

    await eventually(
      async () => {
        const exposition = await scrape(port);
        for (const status of STATUSES) {
          expect(valueIn(exposition, 'test_jobs_total', { status }), `status ${status}, seed ${seed}`).toBe(expected.get(status));
        }
      },
      60_000,
      200,
    );
    // The series never restarted: every one carries the start of the first run.
    await agent.stop();
    running.splice(running.indexOf(agent), 1);
    noteStartTimes();
    const saved = savedSeries();
    for (const status of STATUSES) expect(saved.get(status)?.value).toBe(expected.get(status));
    expect(saved.get('ok')?.startMs).toBe(firstStart);
    expect(startTimes.size).toBe(STATUSES.length);
    console.log(
      `kill -9 test: seed ${seed}, ${TOTAL} lines, ${kills} kills after batches ${[...killAfter].sort((a, b) => a - b).join(', ')} of ${BATCH}; totals ${JSON.stringify(Object.fromEntries(expected))}`,
    );
  }, 240_000);
});

describe('one agent per state directory', () => {
  it('a second agent on the same state directory is refused, naming it and the first one’s PID; validate says so without failing', async () => {
    const log = join(logs, 'jobs.log');
    writeFileSync(log, '');
    const first = await start(config(log));
    const lock = join(stateDir, 'otel-agent.pid');
    expect(readFileSync(lock, 'utf8').split('\n')[0]).toBe(String(first.child.pid));

    const second = startAgent(['run', '--config', writeConfig(directory, config(log, await freePort()), 'second.yaml')]);
    running.push(second);
    expect(await second.exited).toBe(1);
    running.splice(running.indexOf(second), 1);
    expect(second.log()).toContain(`state directory ${stateDir} is in use by another agent (PID ${first.child.pid})`);

    const checked = runAgent(['validate', '-c', join(directory, 'second.yaml')]);
    expect(checked.status, checked.stderr).toBe(0);
    expect(checked.stderr).toContain(`note: state directory ${stateDir} is in use by a running agent (PID ${first.child.pid})`);

    // The first runs on, untouched; once it stops, the lock goes with it.
    await appendFile(log, 'job=build status=ok\n');
    await eventually(async () => expect(valueIn(await scrape(port), 'test_jobs_total', { status: 'ok' })).toBe(1));
    expect(await first.stop()).toBe(0);
    running.splice(running.indexOf(first), 1);
    expect(existsSync(lock)).toBe(false);
  });

  it('a reload naming another state directory keeps the one the agent started on, and says so', async () => {
    const log = join(logs, 'jobs.log');
    writeFileSync(log, 'job=build status=ok\n');
    const agent = await start(config(log));
    await eventually(async () => expect(valueIn(await scrape(port), 'test_jobs_total', { status: 'ok' })).toBe(1));
    const elsewhere = join(directory, 'elsewhere');
    writeConfig(directory, config(log).replace(`state_directory: ${stateDir}`, `state_directory: ${elsewhere}`));
    agent.child.kill('SIGHUP');
    await waitForLog(agent, '"msg":"configuration reloaded"');
    expect(agent.log()).toContain('service.state_directory changed; a reload keeps the directory the agent started with, a restart takes the new one');
    // Nothing was replaced: the receiver counts on, its checkpoints and the lock where they were.
    expect(agent.log()).toMatch(/"msg":"configuration reloaded"/);
    expect(agent.log()).not.toMatch(/"replaced":\[/);
    await appendFile(log, 'job=build status=ok\n');
    await eventually(async () => expect(valueIn(await scrape(port), 'test_jobs_total', { status: 'ok' })).toBe(2));
    expect(existsSync(join(stateDir, 'otel-agent.pid'))).toBe(true);
    expect(existsSync(elsewhere)).toBe(false);
  });

  it('validate checks the default state directory when the config names none', () => {
    const blocker = join(directory, 'plain-file');
    writeFileSync(blocker, '');
    const file = writeConfig(directory, config(join(logs, 'jobs.log')).replace(`  state_directory: ${stateDir}\n`, ''), 'default-state.yaml');
    const refused = runAgent(['validate', '-c', file], { STATE_DIRECTORY: join(blocker, 'state') });
    expect(refused.status, refused.stderr).toBe(1);
    expect(refused.stderr).toContain(
      `service::state_directory: cannot write state to "${join(blocker, 'state')}" (the default; set service.state_directory, or run under systemd's StateDirectory=): "${blocker}" is not a directory`,
    );
    const accepted = runAgent(['validate', '-c', file], { STATE_DIRECTORY: join(directory, 'default-state') });
    expect(accepted.status, accepted.stderr).toBe(0);
  });
});
