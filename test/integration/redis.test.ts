// The redis receiver against redis-server processes the tests start on free ports: values
// checked against INFO and redis-cli, key sizes after writes, key patterns on 100,000 keys,
// and the server stopped, restarted, sleeping, refusing the password, behind TLS and a socket.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/receivers/redis/config.js';
import { RedisReceiver } from '../../src/receivers/redis/receiver.js';
import { createTestPki, type TestPki } from '../support/certs.js';
import { eventually } from '../support/eventually.js';
import { points, series, valueOf } from '../support/metric-sink.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { testSettings, type TestSettings } from '../support/settings.js';

const made: Array<{ receiver: RedisReceiver }> = [];

function receiver(config: Record<string, unknown>) {
  const settings = testSettings('redis');
  // A long interval: the tests drive each collection with scrape().
  const made1 = { receiver: new RedisReceiver(settings, configSchema.parse({ collection_interval: '1h', ...config })), settings };
  made.push(made1);
  return made1;
}

async function started(config: Record<string, unknown>) {
  const made1 = receiver(config);
  await made1.receiver.start(new AbortController().signal);
  return made1;
}

const lastStatus = (settings: TestSettings) => settings.statuses.at(-1);

function infoField(info: string, name: string): string | undefined {
  const line = info.split(/\r?\n/).find((l) => l.startsWith(`${name}:`));
  return line?.slice(name.length + 1);
}

function startMsOf(settings: TestSettings, name: string): number {
  const point = points(settings.meter, name)[0];
  return point.startTime[0] * 1000 + point.startTime[1] / 1e6;
}

afterEach(async () => {
  await Promise.all(made.splice(0).map(({ receiver }) => receiver.shutdown()));
});

describe('redis receiver against a plain server', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.remove();
  });

  it('reports what INFO says, with connected 1, a PING observation and ok status', async () => {
    await server.cli('FLUSHALL');
    await server.cli('SET', 'a', '1');
    await server.cli('EXPIRE', 'a', '1000');
    await server.cli('SET', 'b', '2');
    await server.cli('GET', 'a');
    await server.cli('GET', 'missing');
    await server.cli('CONFIG', 'SET', 'maxmemory', '104857600');
    const { receiver: r, settings } = await started({ endpoint: `redis://127.0.0.1:${server.port}` });
    const before = await server.cli('INFO');
    await r.scrape();
    const after = await server.cli('INFO');
    const meter = settings.meter;

    expect(valueOf(meter, 'redis.connected')).toBe(1);
    expect(lastStatus(settings)).toEqual({ status: 'ok', reason: undefined });
    // Nothing between the two INFO readings looks a key up or evicts one: these are exact.
    expect(valueOf(meter, 'redis.keyspace.hits')).toBe(Number(infoField(before, 'keyspace_hits')));
    expect(valueOf(meter, 'redis.keyspace.hits')).toBe(Number(infoField(after, 'keyspace_hits')));
    expect(valueOf(meter, 'redis.keyspace.misses')).toBe(Number(infoField(after, 'keyspace_misses')));
    expect(valueOf(meter, 'redis.maxmemory')).toBe(104857600);
    expect(valueOf(meter, 'redis.db.keys', { db: '0' })).toBe(2);
    expect(valueOf(meter, 'redis.db.expires', { db: '0' })).toBe(1);
    expect(series(meter, 'redis.role')).toEqual([{ attributes: { role: 'primary' }, value: 1 }]);
    // Counters fall between the readings taken before and after the scrape.
    const processed = valueOf(meter, 'redis.commands.processed')!;
    expect(processed).toBeGreaterThanOrEqual(Number(infoField(before, 'total_commands_processed')));
    expect(processed).toBeLessThanOrEqual(Number(infoField(after, 'total_commands_processed')));
    const uptime = valueOf(meter, 'redis.uptime')!;
    expect(uptime).toBeGreaterThanOrEqual(Number(infoField(before, 'uptime_in_seconds')));
    expect(uptime).toBeLessThanOrEqual(Number(infoField(after, 'uptime_in_seconds')));
    expect(valueOf(meter, 'redis.memory.used')).toBeGreaterThan(0);
    expect(valueOf(meter, 'redis.cpu.time', { state: 'user' })).toBeGreaterThanOrEqual(0);
    // commandstats: SET was called exactly twice (and EXPIRE once) before the scrape.
    expect(valueOf(meter, 'redis.cmd.calls', { cmd: 'set' })).toBe(2);
    expect(valueOf(meter, 'redis.cmd.calls', { cmd: 'expire' })).toBe(1);
    expect(valueOf(meter, 'redis.cmd.usec', { cmd: 'set' })).toBeGreaterThan(0);
    // latencystats (Redis 7): percentiles of GET as the server measured them.
    expect(valueOf(meter, 'redis.cmd.latency', { cmd: 'get', percentile: 'p99' })).toBeGreaterThan(0);
    const ping = points<{ count: number }>(meter, 'redis.ping.duration');
    expect(ping).toHaveLength(1);
    expect(ping[0].value.count).toBe(1);
  });

  it('reads key sizes by type; a list follows LPUSH; a deleted key leaves the scrape', async () => {
    await server.cli('FLUSHALL');
    await server.cli('LPUSH', 'jobs:pending', 'a', 'b', 'c');
    await server.cli('SADD', 'members', 'x', 'y');
    await server.cli('ZADD', 'ranks', '1', 'x');
    await server.cli('HSET', 'fields', 'f1', 'v', 'f2', 'v', 'f3', 'v', 'f4', 'v');
    await server.cli('XADD', 'events', '*', 'k', 'v');
    await server.cli('SET', 'text', 'hello');
    const keys = ['jobs:pending', 'members', 'ranks', 'fields', 'events', 'text', 'never-written'];
    const { receiver: r, settings } = await started({ endpoint: `redis://127.0.0.1:${server.port}`, keys: keys.map((key) => ({ key })) });
    await r.scrape();
    const meter = settings.meter;
    const size = (key: string) => valueOf(meter, 'redis.key.size', { key });
    expect(series(meter, 'redis.key.size').sort((a, b) => String(a.attributes.key).localeCompare(String(b.attributes.key)))).toEqual([
      { attributes: { db: '0', key: 'events', type: 'stream' }, value: 1 },
      { attributes: { db: '0', key: 'fields', type: 'hash' }, value: 4 },
      { attributes: { db: '0', key: 'jobs:pending', type: 'list' }, value: 3 },
      { attributes: { db: '0', key: 'members', type: 'set' }, value: 2 },
      { attributes: { db: '0', key: 'ranks', type: 'zset' }, value: 1 },
      { attributes: { db: '0', key: 'text', type: 'string' }, value: 5 },
    ]);
    await server.cli('LPUSH', 'jobs:pending', 'd', 'e');
    await r.scrape();
    expect(size('jobs:pending')).toBe(5);
    await server.cli('DEL', 'jobs:pending');
    await r.scrape();
    expect(size('jobs:pending')).toBeUndefined();
    expect(size('members')).toBe(2);
    expect(lastStatus(settings)?.status).toBe('ok');
  });

  it('DEBUG SLEEP past command_timeout: degraded with why, then ok again by itself', async () => {
    const { receiver: r, settings } = await started({ endpoint: `redis://127.0.0.1:${server.port}`, command_timeout: '200ms', collection_interval: '1h' });
    await r.scrape();
    expect(lastStatus(settings)?.status).toBe('ok');
    const sleeping = server.cli('DEBUG', 'SLEEP', '3');
    // Until the sleep has begun, collections still succeed.
    await eventually(async () => {
      await r.scrape();
      expect(lastStatus(settings)?.status).toBe('degraded');
    }, 2500);
    expect(lastStatus(settings)?.reason).toMatch(/timed out/i);
    // Still connected: the server is slow, not gone.
    expect(valueOf(settings.meter, 'redis.connected')).toBe(1);
    // The server's series are not served from a collection that could not read them.
    expect(valueOf(settings.meter, 'redis.uptime')).toBeUndefined();
    await sleeping;
    await eventually(async () => {
      await r.scrape();
      expect(lastStatus(settings)?.status).toBe('ok');
    });
    expect(valueOf(settings.meter, 'redis.uptime')).toBeGreaterThanOrEqual(0);
  });
});

describe('redis receiver across a server stop and restart', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.remove();
  });

  it('says it is down (connected 0, degraded with the reason, no server series), reconnects, and restarts the counters', async () => {
    const { receiver: r, settings } = await started({ endpoint: `redis://127.0.0.1:${server.port}`, max_reconnect_interval: '200ms' });
    await r.scrape();
    const firstStart = startMsOf(settings, 'redis.commands.processed');
    expect(valueOf(settings.meter, 'redis.connected')).toBe(1);
    await server.stop();
    await eventually(async () => {
      await r.scrape();
      expect(valueOf(settings.meter, 'redis.connected')).toBe(0);
    });
    const down = lastStatus(settings)!;
    expect(down.status).toBe('degraded');
    expect(down.reason).toContain(`not connected to redis://127.0.0.1:${server.port}`);
    expect(down.reason).toMatch(/ECONNREFUSED|Connection is closed|connect/);
    expect(valueOf(settings.meter, 'redis.commands.processed')).toBeUndefined();
    await eventually(() => expect(settings.logger.entries.some((e) => e.msg === 'connection to redis lost; reconnecting')).toBe(true));
    // The PING histogram is the agent's own measurement: it outlives the outage.
    expect(points(settings.meter, 'redis.ping.duration')).toHaveLength(1);

    // Held down for more than a second, so the new run's start is clearly later than the first's.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await server.start();
    await eventually(async () => {
      await r.scrape();
      expect(lastStatus(settings)?.status).toBe('ok');
    });
    expect(valueOf(settings.meter, 'redis.connected')).toBe(1);
    expect(startMsOf(settings, 'redis.commands.processed')).toBeGreaterThan(firstStart);
    expect(startMsOf(settings, 'redis.uptime')).toBe(startMsOf(settings, 'redis.commands.processed'));
    expect(settings.logger.entries.some((e) => e.msg === 'redis restarted; its counters start anew')).toBe(true);
  });
});

describe('redis receiver authentication', () => {
  const password = 'pw-not-to-be-logged-7f3a';
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer({ password });
  });
  afterAll(async () => {
    await server?.remove();
  });

  it('a wrong password: degraded with the server refusal, connected 0, and no password anywhere', async () => {
    const wrong = 'wrong-secret-91c2';
    const { receiver: r, settings } = await started({ endpoint: `redis://127.0.0.1:${server.port}`, password: wrong, max_reconnect_interval: '200ms' });
    await eventually(async () => {
      await r.scrape();
      expect(lastStatus(settings)?.reason).toMatch(/WRONGPASS|invalid password|NOAUTH/);
    });
    expect(lastStatus(settings)?.status).toBe('degraded');
    expect(valueOf(settings.meter, 'redis.connected')).toBe(0);
    const everything = JSON.stringify(settings.statuses) + JSON.stringify(settings.logger.entries);
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(password);
  });

  it('the right password: ok', async () => {
    const { receiver: r, settings } = await started({ endpoint: `redis://127.0.0.1:${server.port}`, password });
    await r.scrape();
    expect(lastStatus(settings)).toEqual({ status: 'ok', reason: undefined });
    expect(valueOf(settings.meter, 'redis.uptime')).toBeGreaterThanOrEqual(0);
  });
});

describe('redis receiver key patterns on 100,000 keys', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
    // DEBUG POPULATE makes string keys queue:0 .. queue:99999 with values "value:N".
    await server.cli('DEBUG', 'POPULATE', '100000', 'queue');
    await server.cli('SET', 'other:1', 'x');
  }, 60_000);
  afterAll(async () => {
    await server?.remove();
  });

  it('stops at max_keys, emits at most max_series (the largest), and says the scan was cut short', async () => {
    const { receiver: r, settings } = await started({
      endpoint: `redis://127.0.0.1:${server.port}`,
      key_patterns: [{ pattern: 'queue:*', max_keys: 1000, max_series: 10 }],
    });
    await r.scrape();
    const meter = settings.meter;
    expect(valueOf(meter, 'redis.key_pattern.keys', { pattern: 'queue:*' })).toBe(1000);
    expect(valueOf(meter, 'redis.key_pattern.complete', { pattern: 'queue:*' })).toBe(0);
    const sizes = series(meter, 'redis.key.size');
    expect(sizes).toHaveLength(10);
    for (const s of sizes) {
      expect(s.attributes.pattern).toBe('queue:*');
      expect(String(s.attributes.key)).toMatch(/^queue:\d+$/);
      expect(s.value).toBe(`value:${String(s.attributes.key).slice('queue:'.length)}`.length);
    }
    expect(lastStatus(settings)?.status).toBe('ok');
  });

  it('walks the whole keyspace when max_keys allows, counting every match once', async () => {
    const { receiver: r, settings } = await started({
      endpoint: `redis://127.0.0.1:${server.port}`,
      key_patterns: [
        { pattern: 'queue:*', max_keys: 200_000, max_series: 5, scan_count: 1000 },
        { pattern: 'other:*', max_keys: 10 },
      ],
    });
    await r.scrape();
    const meter = settings.meter;
    expect(valueOf(meter, 'redis.key_pattern.keys', { pattern: 'queue:*' })).toBe(100_000);
    expect(valueOf(meter, 'redis.key_pattern.complete', { pattern: 'queue:*' })).toBe(1);
    expect(valueOf(meter, 'redis.key_pattern.keys', { pattern: 'other:*' })).toBe(1);
    expect(valueOf(meter, 'redis.key.size', { key: 'other:1' })).toBe(1);
    // The largest of value:0 .. value:99999 are the five-digit ones (11 bytes).
    const queueSizes = series(meter, 'redis.key.size').filter((s) => s.attributes.pattern === 'queue:*');
    expect(queueSizes).toHaveLength(5);
    expect(queueSizes.every((s) => s.value === 11)).toBe(true);
  }, 60_000);
});

describe('redis receiver over TLS and a unix socket', () => {
  let pki: TestPki;
  let server: RedisServer;
  beforeAll(async () => {
    pki = await createTestPki();
    server = await startRedisServer({ tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, caFile: pki.ca.certFile }, unixSocket: true });
  });
  afterAll(async () => {
    await server?.remove();
    await pki?.remove();
  });

  it('rediss:// with the CA and a client certificate: ok', async () => {
    const { receiver: r, settings } = await started({
      endpoint: `rediss://127.0.0.1:${server.tlsPort}`,
      tls: { ca_file: pki.ca.certFile, cert_file: pki.client.certFile, key_file: pki.client.keyFile },
    });
    await r.scrape();
    expect(lastStatus(settings)).toEqual({ status: 'ok', reason: undefined });
    expect(valueOf(settings.meter, 'redis.connected')).toBe(1);
    expect(valueOf(settings.meter, 'redis.uptime')).toBeGreaterThanOrEqual(0);
  });

  it('rediss:// without a client certificate, or with one from another CA: degraded, not connected', async () => {
    for (const tls of [{ ca_file: pki.ca.certFile }, { ca_file: pki.ca.certFile, cert_file: pki.otherClient.certFile, key_file: pki.otherClient.keyFile }]) {
      const { receiver: r, settings } = await started({ endpoint: `rediss://127.0.0.1:${server.tlsPort}`, tls, connect_timeout: '1s' });
      await r.scrape();
      expect(lastStatus(settings)?.status).toBe('degraded');
      expect(valueOf(settings.meter, 'redis.connected')).toBe(0);
      await r.shutdown();
    }
  });

  it('rediss:// with a CA that did not sign the server: degraded with the certificate error', async () => {
    const { receiver: r, settings } = await started({
      endpoint: `rediss://127.0.0.1:${server.tlsPort}`,
      tls: { ca_file: pki.otherCa.certFile, cert_file: pki.client.certFile, key_file: pki.client.keyFile },
      connect_timeout: '1s',
    });
    await r.scrape();
    expect(lastStatus(settings)?.status).toBe('degraded');
    expect(lastStatus(settings)?.reason).toMatch(/certificate/i);
  });

  it('unix:// socket: ok', async () => {
    const { receiver: r, settings } = await started({ endpoint: `unix://${server.socketPath}` });
    await r.scrape();
    expect(lastStatus(settings)).toEqual({ status: 'ok', reason: undefined });
    expect(valueOf(settings.meter, 'redis.uptime')).toBeGreaterThanOrEqual(0);
  });
});
