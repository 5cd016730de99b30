// Reload by difference, through the real agent process: what a reload does not change keeps
// running (the exporter's socket, the receivers' counters), and a reload that fails to start
// leaves the running components as they were.
import { appendFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { fetchAgent, startAgent, tempDir, waitForLog, waitForMetric, writeConfig, type AgentProcess } from '../support/agent-process.js';
import { freePort } from '../support/ports.js';

const running: AgentProcess[] = [];
const blockers: Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((agent) => agent.stop()));
  await Promise.all(blockers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
});

function start(file: string): AgentProcess {
  const agent = startAgent(['run', '--config', file]);
  running.push(agent);
  return agent;
}

function occupy(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => {
      blockers.push(server);
      resolve(server);
    });
  });
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

interface Variant {
  /** A second joblog receiver, absent or with one of two metric names. */
  extra?: 'one' | 'two';
  /** A resource processor in the pipeline. */
  processor?: boolean;
  scrapers: string[];
  /** A second Prometheus exporter, here on a port that may be taken. */
  secondExporterPort?: number;
  namespace?: string;
}

function configText(options: { dir: string; port: number; healthPort: number; mainLog: string; extraLog: string }, variant: Variant): string {
  const receivers = ['joblog/main', 'hostmetrics', ...(variant.extra ? ['joblog/extra'] : [])];
  const exporters = ['prometheus', ...(variant.secondExporterPort ? ['prometheus/second'] : [])];
  return `receivers:
  joblog/main:
    paths: [${options.mainLog}]
    start_at: beginning
    format: logfmt
    poll_interval: 20ms
    checkpoint_interval: 50ms
    metrics:
      - name: main.lines
        type: counter
${
  variant.extra
    ? `  joblog/extra:
    paths: [${options.extraLog}]
    start_at: beginning
    format: logfmt
    poll_interval: 20ms
    metrics:
      - name: extra.${variant.extra}.lines
        type: counter
`
    : ''
}  hostmetrics:
    collection_interval: 1s
    scrapers: [${variant.scrapers.join(', ')}]
processors:
  resource:
    attributes:
      - { key: deployment.environment, action: upsert, value: test }
exporters:
  prometheus:
    endpoint: 127.0.0.1:${options.port}
${variant.namespace ? `    namespace: ${variant.namespace}\n` : ''}${
    variant.secondExporterPort ? `  prometheus/second:\n    endpoint: 127.0.0.1:${variant.secondExporterPort}\n` : ''
  }service:
  state_directory: ${join(options.dir, 'state')}
  telemetry:
    health: { endpoint: 127.0.0.1:${options.healthPort} }
  pipelines:
    metrics:
      receivers: [${receivers.join(', ')}]
      processors: [${variant.processor ? 'resource' : ''}]
      exporters: [${exporters.join(', ')}]
`;
}

/** Every cumulative series of a scrape (`..._total` and histogram counts), series text to value. */
function counters(body: string, skip: RegExp): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of body.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:_total|_count))(\{[^}]*\})? (\S+)/.exec(line);
    if (!match || skip.test(match[1])) continue;
    values.set(match[1] + (match[2] ?? ''), Number(match[3]));
  }
  return values;
}

async function setup() {
  const dir = tempDir('otel-agent-reload-');
  const options = {
    dir,
    port: await freePort(),
    healthPort: await freePort(),
    mainLog: join(dir, 'main.log'),
    extraLog: join(dir, 'extra.log'),
  };
  writeFileSync(options.mainLog, '');
  writeFileSync(options.extraLog, 'n=1\nn=2\n');
  return options;
}

const VARIANTS: Variant[] = [
  { extra: 'one', scrapers: ['cpu', 'memory'] },
  { extra: 'two', processor: true, scrapers: ['cpu'] },
  { processor: true, scrapers: ['memory', 'load'] },
  { extra: 'one', scrapers: ['load'] },
  { scrapers: ['cpu', 'memory'] },
];

describe('reload by difference', () => {
  it('keeps the exporter serving and no counter going back across 20 reloads that change other components', async () => {
    const options = await setup();
    const file = writeConfig(options.dir, configText(options, { scrapers: ['cpu', 'memory'] }));
    const agent = start(file);
    await waitForMetric(options.port, /^main_lines_total/m);

    let appended = 0;
    const append = (lines: number) => {
      appendFileSync(options.mainLog, 'n=1\n'.repeat(lines));
      appended += lines;
    };
    append(5);

    // The extra receiver's own metric starts again when it is replaced or re-added (what it
    // counts is not persisted here); every other cumulative series must never go back.
    const skip = /^extra_/;
    const last = new Map<string, number>();
    const stats = { scrapes: 0, refused: 0, failedStatus: 0, backwards: [] as string[] };
    let looping = true;
    const loop = (async () => {
      while (looping) {
        try {
          const { status, body } = await fetchAgent(options.port);
          stats.scrapes += 1;
          if (status !== 200) {
            stats.failedStatus += 1;
            continue;
          }
          for (const [series, value] of counters(body, skip)) {
            const before = last.get(series);
            if (before !== undefined && value < before) stats.backwards.push(`${series}: ${before} -> ${value}`);
            last.set(series, value);
          }
        } catch (error) {
          stats.refused += 1;
          stats.backwards.push(`scrape failed: ${(error as Error).message} ${String((error as { cause?: unknown }).cause)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();

    const RELOADS = 20;
    /** Signal to log line of each reload, for the report only: never asserted. */
    const reloadMs: number[] = [];
    for (let reload = 1; reload <= RELOADS; reload++) {
      writeFileSync(file, configText(options, VARIANTS[reload % VARIANTS.length]));
      append(3);
      const signalled = performance.now();
      agent.child.kill('SIGHUP');
      await eventually(() => {
        const log = agent.log();
        if (count(log, '"msg":"configuration reloaded"') < reload) throw new Error(`reload ${reload} not done; log ends:\n${log.slice(-2000)}`);
      }, 15_000, 10);
      reloadMs.push(performance.now() - signalled);
      // A few scrapes between reloads, so the loop sees every configuration.
      const seen = stats.scrapes;
      await eventually(() => expect(stats.scrapes).toBeGreaterThan(seen + 2), 10_000, 10);
    }
    // Every line appended is counted once, by a receiver that was never restarted.
    await eventually(async () => {
      const { body } = await fetchAgent(options.port);
      expect(body).toMatch(new RegExp(`^main_lines_total(\\{[^}]*\\})? ${appended}$`, 'm'));
    });
    looping = false;
    await loop;

    console.log(`reload test: ${RELOADS} reloads, ${stats.scrapes} scrapes, ${stats.refused} refused connections, ` +
      `${stats.failedStatus} non-200 answers, ${stats.backwards.length} counters going back, ${last.size} cumulative series followed; ` +
      `reload signal to log: median ${reloadMs.sort((a, b) => a - b)[RELOADS >> 1].toFixed(0)} ms, max ${reloadMs.at(-1)!.toFixed(0)} ms`);
    expect(stats.backwards).toEqual([]);
    expect(stats.refused).toBe(0);
    expect(stats.failedStatus).toBe(0);
    expect(stats.scrapes).toBeGreaterThan(RELOADS * 3);
    const log = agent.log();
    expect(count(log, '"msg":"configuration reloaded"')).toBe(RELOADS);
    // The exporter and the health endpoint were started once, never again.
    expect(count(log, '"msg":"serving metrics"')).toBe(1);
    expect(count(log, '"msg":"serving health"')).toBe(1);
    const { body } = await fetchAgent(options.port);
    expect(body).toMatch(new RegExp(`otel_agent_config_reloads_total\\{[^}]*result="success"[^}]*\\} ${RELOADS}$`, 'm'));
    expect(body).toMatch(/otel_agent_config_reloads_total\{[^}]*result="failure"[^}]*\} 0$/m);
  });

  it('a reload whose new exporter finds its port taken leaves every running component as it was', async () => {
    const options = await setup();
    const taken = await freePort();
    await occupy(taken);
    const file = writeConfig(options.dir, configText(options, { extra: 'one', scrapers: ['cpu'] }));
    const agent = start(file);
    appendFileSync(options.mainLog, 'n=1\n'.repeat(7));
    await waitForMetric(options.port, /^main_lines_total(\{[^}]*\})? 7$/m);
    await waitForMetric(options.port, /^extra_one_lines_total(\{[^}]*\})? 2$/m);

    // Replaces the extra receiver and adds an exporter on a port in use.
    writeFileSync(file, configText(options, { extra: 'two', scrapers: ['cpu'], secondExporterPort: taken }));
    agent.child.kill('SIGHUP');
    await waitForLog(agent, 'new configuration failed to start; the running one stays');
    expect(agent.log()).toContain(`failed to start exporter \\"prometheus/second\\": prometheus exporter \\"prometheus/second\\": cannot listen on 127.0.0.1:${taken}`);

    appendFileSync(options.mainLog, 'n=1\n'.repeat(3));
    // The unchanged receiver counts on from 7; the replaced one is back under its old config,
    // on its old meter, so its count did not restart either; the new one's metric never shows.
    const body = await waitForMetric(options.port, /^main_lines_total(\{[^}]*\})? 10$/m);
    expect(body).toMatch(/^extra_one_lines_total(\{[^}]*\})? 2$/m);
    expect(body).not.toMatch(/^extra_two_/m);
    expect(body).toMatch(/otel_agent_config_reloads_total\{[^}]*result="failure"[^}]*\} 1$/m);
    expect(count(agent.log(), '"msg":"serving metrics"')).toBe(1);
    const health = JSON.parse((await fetchAgent(options.healthPort, '/health')).body) as { components: { id: string; status: string }[] };
    expect(health.components.map((c) => `${c.id}:${c.status}`).sort()).toEqual([
      'hostmetrics:ok', 'joblog/extra:ok', 'joblog/main:ok', 'prometheus:ok',
    ]);
    expect(agent.child.exitCode).toBeNull();
  });

  it('a reload that replaces the exporter and fails on a second one brings the first back on its port, counters intact', async () => {
    const options = await setup();
    const taken = await freePort();
    await occupy(taken);
    const file = writeConfig(options.dir, configText(options, { scrapers: ['cpu'] }));
    const agent = start(file);
    appendFileSync(options.mainLog, 'n=1\n'.repeat(4));
    await waitForMetric(options.port, /^main_lines_total(\{[^}]*\})? 4$/m);

    // The exporter's own config changes (so it is replaced), and the new second one cannot listen.
    writeFileSync(file, configText(options, { scrapers: ['cpu'], namespace: 'node', secondExporterPort: taken }));
    agent.child.kill('SIGHUP');
    await waitForLog(agent, 'new configuration failed to start; the running one stays');
    appendFileSync(options.mainLog, 'n=1\n'.repeat(2));
    const body = await waitForMetric(options.port, /^main_lines_total(\{[^}]*\})? 6$/m);
    // The old exporter, without the namespace, serves again: a new instance of its old config.
    expect(body).not.toMatch(/^node_/m);
    expect(count(agent.log(), '"msg":"serving metrics"')).toBe(3);
  });
});

describe('the agent health endpoint', () => {
  it('serves /health, /ready and /live on its own port, the same /health as the exporter, and moves only when its endpoint does', async () => {
    const options = await setup();
    const file = writeConfig(options.dir, configText(options, { scrapers: ['cpu'] }));
    const agent = start(file);
    await waitForMetric(options.port, /^main_lines_total/m);

    const live = await fetchAgent(options.healthPort, '/live');
    expect(live).toEqual({ status: 200, body: 'live\n' });
    expect(await fetchAgent(options.healthPort, '/ready')).toEqual({ status: 200, body: 'ready\n' });
    const [own, exporters] = await Promise.all([fetchAgent(options.healthPort, '/health'), fetchAgent(options.port, '/health')]);
    expect(own.status).toBe(200);
    expect(JSON.parse(own.body)).toEqual(JSON.parse(exporters.body));
    expect(JSON.parse(own.body)).toMatchObject({ status: 'ok' });
    // Probes only: the metrics stay on the exporter's port.
    expect((await fetchAgent(options.healthPort, '/metrics')).status).toBe(404);

    // Moved: the old port no longer answers, the new one does.
    const movedPort = await freePort();
    writeFileSync(file, configText({ ...options, healthPort: movedPort }, { scrapers: ['cpu'] }));
    agent.child.kill('SIGHUP');
    await waitForLog(agent, '"msg":"configuration reloaded"');
    expect((await fetchAgent(movedPort, '/live')).status).toBe(200);
    await expect(fetchAgent(options.healthPort, '/live')).rejects.toThrow();
    expect(count(agent.log(), '"msg":"serving health"')).toBe(2);
  });

  it('refuses a reload that moves the health endpoint onto a taken port: the old endpoint and every component stay', async () => {
    const options = await setup();
    const taken = await freePort();
    await occupy(taken);
    const file = writeConfig(options.dir, configText(options, { scrapers: ['cpu'] }));
    const agent = start(file);
    appendFileSync(options.mainLog, 'n=1\n'.repeat(3));
    await waitForMetric(options.port, /^main_lines_total(\{[^}]*\})? 3$/m);

    // The endpoint moves and a receiver is added: the move fails first, so nothing changes.
    writeFileSync(file, configText({ ...options, healthPort: taken }, { extra: 'one', scrapers: ['cpu'] }));
    agent.child.kill('SIGHUP');
    await waitForLog(agent, `health endpoint: cannot listen on 127.0.0.1:${taken}`);
    expect((await fetchAgent(options.healthPort, '/ready')).status).toBe(200);
    const body = await waitForMetric(options.port, /otel_agent_config_reloads_total\{[^}]*result="failure"[^}]*\} 1$/m);
    expect(body).not.toMatch(/^extra_one_/m);
    appendFileSync(options.mainLog, 'n=1\n');
    await waitForMetric(options.port, /^main_lines_total(\{[^}]*\})? 4$/m);
  });

  it('refuses an unknown key under service.telemetry.health, naming file and line', async () => {
    const options = await setup();
    const file = writeConfig(
      options.dir,
      configText(options, { scrapers: ['cpu'] }).replace(`health: { endpoint: 127.0.0.1:${options.healthPort} }`, 'health: { endpont: 127.0.0.1:1 }'),
    );
    const agent = start(file);
    expect(await agent.exited).toBe(1);
    expect(agent.log()).toMatch(/otel-agent\.yaml:\d+:\d+: service::telemetry::health::endpont: unknown key "endpont" \(valid keys: endpoint\)/);
  });
});
