// A service whose start fails leaves nothing behind: after the Prometheus exporter could not
// bind its port, the next service of the same process, with the port free, reads job logs and
// writes their checkpoints as if the failed one had never been. In process, and in the agent
// itself across a SIGHUP whose new config names a taken port.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { builtinFactories } from '../../src/components.js';
import { loadConfigText } from '../../src/config/load.js';
import { Service } from '../../src/pipeline/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { SelfTelemetry } from '../../src/telemetry/self.js';
import { startAgent, tempDir, waitForLog, writeConfig, type AgentProcess } from '../support/agent-process.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/ports.js';

const factories = builtinFactories();
const running: Service[] = [];
const agents: AgentProcess[] = [];
let blocker: Server | undefined;

afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.stop()));
  await Promise.all(running.splice(0).map((service) => service.shutdown().catch(() => undefined)));
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  blocker = undefined;
});

function configText(options: { log: string; stateDir: string; port: number }): string {
  return `receivers:
  joblog:
    paths: [${options.log}]
    start_at: beginning
    format: logfmt
    poll_interval: 50ms
    checkpoint_interval: 50ms
    metrics:
      - name: test.lines
        type: counter
exporters:
  prometheus:
    endpoint: 127.0.0.1:${options.port}
service:
  state_directory: ${options.stateDir}
  telemetry:
    metrics: { enabled: false }
  pipelines:
    metrics:
      receivers: [joblog]
      exporters: [prometheus]
`;
}

async function serviceFor(options: { log: string; stateDir: string; port: number }): Promise<Service> {
  const config = loadConfigText(configText(options), 'service-start-failure.yaml', factories, {});
  const service = await Service.create({ config, factories, logger: silentLogger(), telemetry: new SelfTelemetry() });
  running.push(service);
  return service;
}

function occupy(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** The offset saved for `file` in the shared checkpoint file, or undefined. */
function checkpointedOffset(stateDir: string, file: string): number | undefined {
  const checkpoints = join(stateDir, 'joblog', 'checkpoints.json');
  if (!existsSync(checkpoints)) return undefined;
  const saved = JSON.parse(readFileSync(checkpoints, 'utf8')) as { files: Record<string, { path: string; offset: number }> };
  return Object.values(saved.files).find((entry) => entry.path === file)?.offset;
}

function savedScannedAt(stateDir: string): string | undefined {
  return (JSON.parse(readFileSync(join(stateDir, 'joblog', 'checkpoints.json'), 'utf8')) as { scannedAt?: string }).scannedAt;
}

describe('a service that failed to start', () => {
  it('leaves the next service free to read job logs and write their checkpoints', async () => {
    const directory = tempDir('service-start-failure-');
    const log = join(directory, 'jobs.log');
    const stateDir = join(directory, 'state');
    writeFileSync(log, 'n=1\nn=2\n');
    const port = await freePort();

    blocker = await occupy(port);
    const failed = await serviceFor({ log, stateDir, port });
    await expect(failed.start()).rejects.toThrow(/failed to start exporter "prometheus"/);
    expect(failed.components().find((c) => c.id === 'joblog')?.status).toBe('stopped');
    await new Promise<void>((resolve) => blocker!.close(() => resolve()));
    blocker = undefined;

    const good = await serviceFor({ log, stateDir, port });
    await good.start();
    expect(good.ready()).toBe(true);
    const firstLines = Buffer.byteLength('n=1\nn=2\n');
    await eventually(() => expect(checkpointedOffset(stateDir, log)).toBe(firstLines));
    // The scan is recorded too: a receiver left registered by the failed service, never having
    // scanned, would hold it back, and files born later would be read from start_at, not from 0.
    expect(savedScannedAt(stateDir)).toEqual(expect.any(String));

    // Checkpoints keep coming: lines read later move the saved offset too.
    await appendFile(log, 'n=3\n');
    await eventually(() => expect(checkpointedOffset(stateDir, log)).toBe(firstLines + Buffer.byteLength('n=3\n')));
    await good.shutdown();
  });

  it('in the agent, a SIGHUP to a config whose port is taken leaves the unchanged receiver writing checkpoints', async () => {
    const directory = tempDir('service-start-failure-agent-');
    const log = join(directory, 'jobs.log');
    const stateDir = join(directory, 'state');
    writeFileSync(log, 'n=1\n');
    const port = await freePort();
    const takenPort = await freePort();
    const configFile = writeConfig(directory, configText({ log, stateDir, port }));
    const agent = startAgent(['run', '--config', configFile]);
    agents.push(agent);
    await waitForLog(agent, '"msg":"otel-agent started"');
    const firstLines = Buffer.byteLength('n=1\n');
    await eventually(() => expect(checkpointedOffset(stateDir, log)).toBe(firstLines));

    blocker = await occupy(takenPort);
    writeConfig(directory, configText({ log, stateDir, port: takenPort }));
    agent.child.kill('SIGHUP');
    await waitForLog(agent, 'new configuration failed to start; the running one stays');
    const scannedBefore = savedScannedAt(stateDir);
    expect(scannedBefore).toEqual(expect.any(String));

    await appendFile(log, 'n=2\n');
    await eventually(() => expect(checkpointedOffset(stateDir, log)).toBe(firstLines + Buffer.byteLength('n=2\n')));
    // The receiver's scans are still recorded, not held back by the one the failed config created.
    await eventually(() => expect(Date.parse(savedScannedAt(stateDir)!)).toBeGreaterThan(Date.parse(scannedBefore!)));
    expect(agent.child.exitCode).toBeNull();
  });
});
