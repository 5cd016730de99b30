// config/examples/portsyncd.yaml run by the real agent inside a network namespace made here,
// against a port (a veth whose peer is in a second namespace), a redis-server and a process
// named portsyncd that the test starts; scraped over mutual TLS, compared with golden
// Prometheus output and checked by promtool. portsyncd_health_status is the agent's own
// overall health under the example's name: 1, then 0.5 with the Redis stopped, as /health says.
// UPDATE_GOLDEN=1 rewrites the golden file from what the agent served.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_BIN, tempDir } from '../support/agent-process.js';
import { createTestPki, type TestPki } from '../support/certs.js';
import { eventually } from '../support/eventually.js';
import { samples, valueIn } from '../support/exposition.js';
import { ip, ipBatch, namespace, removeAll } from '../support/netns.js';
import { freePort } from '../support/ports.js';
import { PROMTOOL_BIN, requireTool } from '../support/prometheus.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const golden = join(import.meta.dirname, 'fixtures/portsyncd/golden.prom');
const QUEUE_KEY = 'portsyncd:events';

const children: ChildProcess[] = [];
let pki: TestPki | undefined;
let redis: RedisServer | undefined;

afterEach(async () => {
  await Promise.all(
    children.splice(0).map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(timer);
    }),
  );
  await redis?.remove();
  redis = undefined;
  await pki?.remove();
  pki = undefined;
  removeAll();
});

/** Started by PID, stopped by PID in afterEach; stdout and stderr collected. */
function startChild(command: string, args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; log: () => string } {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let log = '';
  child.stdout!.on('data', (chunk) => (log += chunk));
  child.stderr!.on('data', (chunk) => (log += chunk));
  return { child, log: () => log };
}

/**
 * The families the example is about (its own, target_info, the agent's component status) with
 * what varies from run to run replaced: target_info's host labels, and every value but those
 * of `exact`. Names, HELP, TYPE, label names and values, and bucket bounds stay as served.
 */
function normalised(exposition: string, exact: readonly string[]): string {
  const kept: string[] = [];
  for (const line of exposition.split('\n')) {
    const name = line.startsWith('#') ? line.split(' ')[2] : line.split(/[{ ]/)[0];
    if (!name || !['portsyncd_', 'target_info', 'otel_agent_component_status'].some((prefix) => name.startsWith(prefix))) continue;
    if (line.startsWith('#')) kept.push(line);
    else if (name === 'target_info') kept.push(line.replace(/(\w+)="[^"]*"/g, (label, key: string) => (key === 'service_name' ? label : `${key}="<host>"`)));
    else if (exact.includes(name)) kept.push(line);
    else kept.push(line.replace(/ \S+$/, ' <value>'));
  }
  return `${kept.join('\n')}\n`;
}

function promtool(args: string[], input?: string): { status: number | null; output: string } {
  requireTool(PROMTOOL_BIN, 'prometheus');
  const result = spawnSync(PROMTOOL_BIN, args, { input, encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}

describe('config/examples/portsyncd.yaml', () => {
  it('serves portsyncd’s metric set under its names over mutual TLS, from a port, a Redis and a process of the test’s', async () => {
    const directory = tempDir('portsyncd-example-');
    pki = await createTestPki();
    // The file names the example expects in TLS_DIR.
    const tlsDir = join(directory, 'tls');
    mkdirSync(tlsDir);
    copyFileSync(pki.server.certFile, join(tlsDir, 'server.pem'));
    copyFileSync(pki.server.keyFile, join(tlsDir, 'server-key.pem'));
    copyFileSync(pki.ca.certFile, join(tlsDir, 'clients-ca.pem'));

    // The queue: a list in a Redis of the test's, reached over its unix socket (a path, so the
    // agent reaches it from inside its namespace).
    redis = await startRedisServer({ unixSocket: true });
    await redis.cli('LPUSH', QUEUE_KEY, 'Ethernet0:up', 'Ethernet4:down', 'Ethernet0:down', 'Ethernet8:up', 'Ethernet4:up');
    const queueLength = Number(await redis.cli('LLEN', QUEUE_KEY));
    expect(queueLength).toBe(5);

    // The daemon: a copy of sleep, so that its executable is named portsyncd.
    const daemonBinary = join(directory, 'portsyncd');
    copyFileSync('/usr/bin/sleep', daemonBinary);
    const daemon = startChild(daemonBinary, ['3600']).child;

    // The switch: the agent's namespace holds the port, a second one its link partner.
    const switchNs = namespace();
    const partnerNs = namespace();
    ip('-n', switchNs, 'link', 'set', 'lo', 'up');
    ip('-n', switchNs, 'link', 'add', 'Ethernet0', 'type', 'veth', 'peer', 'name', 'Ethernet0p', 'netns', partnerNs);
    ip('-n', switchNs, 'link', 'set', 'Ethernet0', 'up');
    ip('-n', partnerNs, 'link', 'set', 'Ethernet0p', 'up');

    // The namespace has a loopback of its own; a free port all the same.
    const port = await freePort();
    const agent = startChild('ip', ['netns', 'exec', switchNs, process.execPath, AGENT_BIN, 'run', '-c', join(root, 'config/examples/portsyncd.yaml')], {
      METRICS_ENDPOINT: `127.0.0.1:${port}`,
      TLS_DIR: tlsDir,
      REDIS_ENDPOINT: `unix://${redis.socketPath}`,
      PORTSYNCD_QUEUE_KEY: QUEUE_KEY,
      STATE_DIRECTORY: join(directory, 'state'),
    });
    const inside = (...command: string[]) => run('ip', ['netns', 'exec', switchNs, ...command], { encoding: 'utf8' });
    const curl = (...extra: string[]) => inside('curl', '-sS', '--fail', '--max-time', '5', '--cacert', pki!.ca.certFile, ...extra, `https://127.0.0.1:${port}/metrics`);
    const scrape = async () => (await curl('--cert', pki!.client.certFile, '--key', pki!.client.keyFile)).stdout;
    const kernelFlaps = async () => Number((await inside('cat', '/sys/class/net/Ethernet0/carrier_down_count')).stdout.trim());

    await eventually(
      async () => {
        const body = await scrape();
        expect(valueIn(body, 'portsyncd_netlink_connected')).toBe(1);
        expect(valueIn(body, 'portsyncd_queue_depth')).toBe(queueLength);
        expect(valueIn(body, 'portsyncd_memory_bytes')).toBeGreaterThan(0);
        expect(valueIn(body, 'portsyncd_health_status')).toBe(1);
      },
      30_000,
      200,
    ).catch((error) => {
      throw new Error(`${(error as Error).message}\nagent log:\n${agent.log()}`);
    });

    // N flaps of the partner are N carrier down transitions of the port.
    const flaps = 7;
    const before = await kernelFlaps();
    ipBatch(Array.from({ length: flaps }, () => ['link set Ethernet0p down', 'link set Ethernet0p up']).flat(), partnerNs);
    expect(await kernelFlaps()).toBe(before + flaps);
    const body = await eventually(
      async () => {
        const text = await scrape();
        expect(valueIn(text, 'portsyncd_port_flaps_total', { port: 'Ethernet0' })).toBe(before + flaps);
        expect(valueIn(text, 'portsyncd_event_latency_seconds_count')).toBeGreaterThan(0);
        expect(valueIn(text, 'portsyncd_redis_latency_seconds_count')).toBeGreaterThan(0);
        return text;
      },
      15_000,
      100,
    );

    // Exact values: the daemon's resident memory as the kernel has it (sleep's does not move),
    // the queue's length, both connected, nothing failed.
    const rssBytes = () => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${daemon.pid}/status`, 'utf8'))![1]) * 1024;
    await eventually(async () => expect(valueIn(await scrape(), 'portsyncd_memory_bytes')).toBe(rssBytes()), 25_000, 200);
    expect(samples(body).filter((s) => s.name === 'portsyncd_memory_bytes')).toHaveLength(1);
    expect(valueIn(body, 'portsyncd_queue_depth')).toBe(Number(await redis.cli('LLEN', QUEUE_KEY)));
    expect(valueIn(body, 'portsyncd_redis_connected')).toBe(1);
    expect(valueIn(body, 'portsyncd_events_failed_total')).toBe(0);
    // Only the one port of the agent's namespace: not the partner, not lo.
    expect(samples(body).filter((s) => s.name === 'portsyncd_port_flaps_total').map((s) => s.labels.port)).toEqual(['Ethernet0']);
    // Nothing the receivers read besides portsyncd's set reaches the endpoint.
    const families = new Set(samples(body).map((s) => s.name.replace(/_(bucket|sum|count)$/, '')));
    expect([...families].filter((name) => !name.startsWith('portsyncd_') && !name.startsWith('otel_agent_') && name !== 'target_info')).toEqual([]);

    const normalisedBody = normalised(body, [
      'portsyncd_events_failed_total',
      'portsyncd_netlink_connected',
      'portsyncd_redis_connected',
      'portsyncd_queue_depth',
      'portsyncd_health_status',
      'otel_agent_component_status',
    ]);
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(join(golden, '..'), { recursive: true });
      writeFileSync(golden, normalisedBody);
    }
    expect(normalisedBody).toBe(readFileSync(golden, 'utf8'));
    const lint = promtool(['check', 'metrics'], body);
    expect(lint.status, lint.output).toBe(0);

    // Without a client certificate the handshake is refused.
    await expect(curl()).rejects.toThrow();

    // portsyncd_health_status is the agent's own health renamed by the example's view: the
    // original name is not served besides it, and /health (on the same port) agrees.
    const report = async () => {
      const { stdout } = await inside('curl', '-sS', '--max-time', '5', '--cacert', pki!.ca.certFile, '--cert', pki!.client.certFile, '--key', pki!.client.keyFile, `https://127.0.0.1:${port}/health`);
      const parsed = JSON.parse(stdout) as { status: string; components: Array<{ id: string; status: string }> };
      return { status: parsed.status, notOk: parsed.components.filter((c) => c.status !== 'ok').map((c) => `${c.id}:${c.status}`) };
    };
    expect(samples(body).filter((s) => s.name === 'otel_agent_health_status')).toEqual([]);
    expect(await report()).toEqual({ status: 'ok', notOk: [] });

    // Redis gone: its gauge says so while the link side stays up, the redis receiver is
    // degraded, and the health is 0.5.
    await redis.stop();
    await eventually(
      async () => {
        const text = await scrape();
        expect(valueIn(text, 'portsyncd_redis_connected')).toBe(0);
        expect(valueIn(text, 'portsyncd_netlink_connected')).toBe(1);
        expect(valueIn(text, 'portsyncd_health_status')).toBe(0.5);
      },
      30_000,
      200,
    );
    expect(await report()).toEqual({ status: 'degraded', notOk: ['redis:degraded'] });
  }, 90_000);
});
