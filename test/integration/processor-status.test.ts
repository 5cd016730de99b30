// Processors as a new user configures them: a real agent process, a real config, /health and /metrics.
import { afterEach, describe, expect, it } from 'vitest';
import { fetchAgent, startAgent, tempDir, waitForMetric, writeConfig, type AgentProcess } from '../support/agent-process.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/ports.js';

function config(port: number, processors: string, names: string[]): string {
  return `receivers:
  hostmetrics:
    collection_interval: 1s
processors:
${processors}
exporters:
  prometheus:
    endpoint: 127.0.0.1:${port}
service:
  pipelines:
    metrics:
      receivers: [hostmetrics]
      processors: [${names.join(', ')}]
      exporters: [prometheus]
`;
}

/** The first /metrics body that has host metrics in it: the pipeline is running by then. */
function metricsOnceRunning(port: number): Promise<string> {
  return waitForMetric(port, /^system_cpu_time_seconds_total\{/m);
}

const running: AgentProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((agent) => agent.stop()));
});

function start(yaml: string): void {
  const file = writeConfig(tempDir(), yaml);
  running.push(startAgent(['run', '--config', file], { STATE_DIRECTORY: tempDir('otel-agent-state-') }));
}

describe('a pipeline with processors', () => {
  it('reports its processors ok once the pipeline has started, in /health and otel_agent_component_status', async () => {
    const port = await freePort();
    start(
      config(
        port,
        `  attributes/site:
    actions:
      - { key: site, value: dc1, action: upsert }
  filter/keep:
    metrics:
      include: ['system.*']
`,
        ['attributes/site', 'filter/keep'],
      ),
    );
    await metricsOnceRunning(port);
    await eventually(async () => expect((await fetchAgent(port, '/ready')).status).toBe(200), 15_000, 200);

    const health = JSON.parse((await fetchAgent(port, '/health')).body) as { status: string; components: { id: string; kind: string; status: string }[] };
    const processors = health.components.filter((component) => component.kind === 'processor');
    expect(processors.map(({ id, status }) => [id, status]).sort()).toEqual([
      ['attributes/site', 'ok'],
      ['filter/keep', 'ok'],
    ]);
    // The worst status of all: a host scraper may be degraded on some machines, but nothing is still starting.
    expect(health.status).not.toBe('starting');

    const { body } = await fetchAgent(port, '/metrics');
    const status = (id: string, value: string) =>
      new RegExp(`^otel_agent_component_status\\{(?=[^}]*component="${id}")(?=[^}]*kind="processor")(?=[^}]*status="${value}")[^}]*\\} (\\d+)$`, 'm');
    expect(body.match(status('attributes/site', 'ok'))?.[1]).toBe('1');
    expect(body.match(status('attributes/site', 'starting'))?.[1]).toBe('0');
    // The attributes processor really ran on the pipeline's points.
    expect(body).toMatch(/^system_cpu_time_seconds_total\{[^}]*site="dc1"/m);
  });

  it('with a resource processor, serves one target_info: the rewritten resource, which the agent metrics share', async () => {
    const port = await freePort();
    start(
      config(
        port,
        `  resource/site:
    attributes:
      - { key: site, value: dc1, action: upsert }
`,
        ['resource/site'],
      ),
    );
    const body = await metricsOnceRunning(port);
    expect(body).toMatch(/^otel_agent_build_info\{/m);
    const targetInfo = body.split('\n').filter((line) => line.startsWith('target_info{'));
    expect(targetInfo).toHaveLength(1);
    expect(targetInfo[0]).toMatch(/site="dc1"/);
  });
});
