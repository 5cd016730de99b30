import { afterEach, describe, expect, it } from 'vitest';
import type { ComponentHealth, HealthSource } from '../../../src/component/types.js';
import { HealthServer, healthReport } from '../../../src/telemetry/health.js';
import { silentLogger } from '../../../src/telemetry/logger.js';

function source(statuses: ComponentHealth['status'][], ready = true): HealthSource {
  return {
    ready: () => ready,
    components: () => statuses.map((status, index) => ({ id: `c${index}`, kind: 'receiver', status, since: '2026-01-01T00:00:00.000Z' })),
  };
}

const servers: HealthServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.shutdown()));
});

describe('healthReport', () => {
  it('is the worst status of the components, ok when there are none', () => {
    expect(healthReport(source([])).status).toBe('ok');
    expect(healthReport(source(['ok', 'starting'])).status).toBe('starting');
    expect(healthReport(source(['ok', 'degraded', 'starting'])).status).toBe('degraded');
    expect(healthReport(source(['degraded', 'failed'])).status).toBe('failed');
  });
});

describe('HealthServer', () => {
  it('answers the three probes, 503 for a failed component or not ready, and nothing else', async () => {
    let current = source(['ok'], false);
    const server = new HealthServer('127.0.0.1:0', () => current, silentLogger());
    servers.push(server);
    await server.start();
    const { port } = server.address()!;
    const get = async (path: string, method = 'GET') => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, { method });
      return { status: response.status, body: await response.text() };
    };
    expect(await get('/ready')).toEqual({ status: 503, body: 'not ready\n' });
    expect(await get('/live')).toEqual({ status: 200, body: 'live\n' });
    current = source(['ok', 'failed'], true);
    expect(await get('/ready')).toEqual({ status: 200, body: 'ready\n' });
    const health = await get('/health');
    expect(health.status).toBe(503);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'failed', components: [{ id: 'c0', status: 'ok' }, { id: 'c1', status: 'failed' }] });
    expect((await get('/metrics')).status).toBe(404);
    expect((await get('/health', 'POST')).status).toBe(405);
  });

  it('says which endpoint it could not listen on', async () => {
    const first = new HealthServer('127.0.0.1:0', () => source([]), silentLogger());
    servers.push(first);
    await first.start();
    const { port } = first.address()!;
    const second = new HealthServer(`127.0.0.1:${port}`, () => source([]), silentLogger());
    await expect(second.start()).rejects.toThrow(`health endpoint: cannot listen on 127.0.0.1:${port}: listen EADDRINUSE`);
  });
});
