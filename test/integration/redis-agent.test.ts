// The redis receiver inside the real agent: the password from the environment, the metrics
// served (promtool clean), and Redis going away and coming back as /health tells it.
import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_BIN, fetchAgent, startAgent, tempDir, waitForMetric, writeConfig, type AgentProcess } from '../support/agent-process.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/ports.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

const PASSWORD = 'agent-redis-pw-5d1e';
let server: RedisServer;
const running: AgentProcess[] = [];

beforeAll(async () => {
  server = await startRedisServer({ password: PASSWORD });
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((agent) => agent.stop()));
});
afterAll(async () => {
  await server?.remove();
});

function config(metricsPort: number): string {
  return `receivers:
  redis:
    endpoint: redis://127.0.0.1:${server.port}
    password: \${env:REDIS_PASSWORD}
    collection_interval: 300ms
    command_timeout: 250ms
    max_reconnect_interval: 200ms
    keys: [{ key: "jobs:pending" }]
exporters:
  prometheus:
    endpoint: 127.0.0.1:${metricsPort}
service:
  pipelines:
    metrics: { receivers: [redis], exporters: [prometheus] }
`;
}

interface Health {
  components: Array<{ id: string; status: string; reason?: string }>;
}

async function redisHealth(port: number) {
  const health = JSON.parse((await fetchAgent(port, '/health')).body) as Health;
  return health.components.find((component) => component.id === 'redis');
}

describe('the agent with a redis receiver', () => {
  it('serves Redis metrics, says in /health when Redis is gone, and recovers; the password is never printed', async () => {
    await server.start();
    await server.cli('DEL', 'jobs:pending');
    await server.cli('LPUSH', 'jobs:pending', 'a', 'b', 'c');
    const port = await freePort();
    const agent = startAgent(['run', '--config', writeConfig(tempDir(), config(port))], { REDIS_PASSWORD: PASSWORD, STATE_DIRECTORY: tempDir('otel-agent-state-') });
    running.push(agent);
    const body = await waitForMetric(port, /^redis_key_size\{.*key="jobs:pending".*\} 3$/m);
    expect(body).toMatch(/^redis_connected(\{[^}]*\})? 1$/m);
    expect(body).toMatch(/^redis_uptime_seconds_total(\{[^}]*\})? \d+/m);
    expect(body).toMatch(/^redis_ping_duration_seconds_bucket\{/m);
    // promtool's only complaint is the micro- and milliseconds the Collector gives redis.cmd.usec,
    // redis.latest_fork and redis.db.avg_ttl; anything else it finds fails the test.
    const check = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
    expect(check.error, 'promtool missing: apt-get install prometheus').toBeUndefined();
    const complaints = (check.stdout + check.stderr).split('\n').filter((line) => line.trim() !== '');
    expect(complaints.filter((line) => !/^redis_(cmd_usec_microseconds_total|latest_fork_microseconds|db_avg_ttl_milliseconds) use base unit "seconds" instead of "(micro|milli)seconds"$/.test(line))).toEqual([]);
    expect((await redisHealth(port))?.status).toBe('ok');

    await server.stop();
    const down = await eventually(async () => {
      const health = await redisHealth(port);
      expect(health?.status).toBe('degraded');
      expect(health?.reason).toContain(`not connected to redis://127.0.0.1:${server.port}`);
      return health!;
    });
    expect(down.reason).not.toContain(PASSWORD);
    await waitForMetric(port, /^redis_connected(\{[^}]*\})? 0$/m);

    await server.start();
    await eventually(async () => expect((await redisHealth(port))?.status).toBe('ok'));
    await waitForMetric(port, /^redis_connected(\{[^}]*\})? 1$/m);
    const printed = spawnSync(process.execPath, [AGENT_BIN, 'print-config', '--config', writeConfig(tempDir(), config(port))], {
      encoding: 'utf8',
      env: { ...process.env, REDIS_PASSWORD: PASSWORD },
    });
    expect(printed.status, printed.stderr).toBe(0);
    expect(printed.stdout).toContain('password: <redacted>');
    expect(printed.stdout + agent.log()).not.toContain(PASSWORD);
  });
});
