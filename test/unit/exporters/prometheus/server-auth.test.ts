// Authentication of /metrics: basic auth against a bcrypt hash, bearer token (inline or
// from a file). /health and /ready stay open so local probes need no credentials.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthenticator, bearerAuthenticator, TokenFile } from '../../../../src/exporters/prometheus/auth.js';
import { eventually } from '../../../support/eventually.js';
import type { PrometheusExporter } from '../../../../src/exporters/prometheus/index.js';
import { fetchFrom, startExporter, testHarness } from '../../../support/prometheus-exporter.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let passwordHash: string;
let dir: string;
beforeAll(async () => {
  passwordHash = await bcrypt.hash('s3cret pass', 4);
  dir = await mkdtemp(join(tmpdir(), 'otel-agent-auth-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const running: PrometheusExporter[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((exporter) => exporter.shutdown()));
});

async function serve(config: Record<string, unknown>, harness = testHarness()) {
  const started = await startExporter(config, harness);
  running.push(started.exporter);
  return started;
}

describe('basic auth', () => {
  it('serves good credentials, and answers 401 with a challenge to bad or missing ones', async () => {
    const harness = testHarness();
    const { port } = await serve({ basic_auth: { username: 'prometheus', password_hash: passwordHash } }, harness);

    const good = await fetchFrom(port, { headers: { authorization: basic('prometheus', 's3cret pass') } });
    expect(good.status).toBe(200);
    expect(good.body.toString()).toContain('test_requests_total');

    for (const authorization of [basic('prometheus', 'wrong'), basic('someone', 's3cret pass'), 'Basic !!!', 'Bearer s3cret pass']) {
      const refused = await fetchFrom(port, { headers: { authorization } });
      expect(refused.status, authorization).toBe(401);
      expect(refused.headers['www-authenticate']).toBe('Basic realm="otel-agent", charset="UTF-8"');
    }
    const missing = await fetchFrom(port);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Basic realm="otel-agent", charset="UTF-8"');

    // Only the authorised scrape collected; refused ones are counted with their code.
    expect(harness.source.calls).toBe(1);
    const codes = harness.telemetry.records.filter((r) => r.instrument === 'otel_agent.exporter.scrapes').map((r) => r.attributes.code);
    expect(codes).toEqual(['200', '401', '401', '401', '401', '401']);
    expect(JSON.stringify(harness.logger.entries)).not.toContain('s3cret');
  });

  it('leaves /health and /ready open', async () => {
    const { port } = await serve({ basic_auth: { username: 'prometheus', password_hash: passwordHash } });
    expect((await fetchFrom(port, { path: '/health' })).status).toBe(200);
    expect((await fetchFrom(port, { path: '/ready' })).status).toBe(200);
  });
});

describe('bearer token', () => {
  it('serves the configured token and refuses others with a Bearer challenge', async () => {
    const { port } = await serve({ bearer_token: 'tok-123' });
    expect((await fetchFrom(port, { headers: { authorization: 'Bearer tok-123' } })).status).toBe(200);
    const refusedHeaders: Record<string, string>[] = [
      { authorization: 'Bearer tok-1234' },
      { authorization: 'Bearer tok-12' },
      { authorization: basic('tok', '123') },
      {},
    ];
    for (const headers of refusedHeaders) {
      const refused = await fetchFrom(port, { headers });
      expect(refused.status).toBe(401);
      expect(refused.headers['www-authenticate']).toBe('Bearer realm="otel-agent"');
    }
  });

  it('reads the token from bearer_token_file, without its trailing newline', async () => {
    const file = join(dir, 'token');
    await writeFile(file, 'from-a-file\n');
    const { port } = await serve({ bearer_token_file: file });
    expect((await fetchFrom(port, { headers: { authorization: 'Bearer from-a-file' } })).status).toBe(200);
    expect((await fetchFrom(port, { headers: { authorization: 'Bearer from-a-fil' } })).status).toBe(401);
  });

  it('takes a rotated token file without a restart, and keeps the last token while the file is missing', async () => {
    const file = join(dir, 'rotated-token');
    await writeFile(file, 'first\n');
    const harness = testHarness();
    const { port } = await serve({ bearer_token_file: file }, harness);
    const status = (token: string) => fetchFrom(port, { headers: { authorization: `Bearer ${token}` } }).then((response) => response.status);
    expect(await status('first')).toBe(200);

    // Rotated as a secrets manager does: a new file renamed over the old one.
    await writeFile(`${file}.new`, 'second\n');
    await rename(`${file}.new`, file);
    await eventually(async () => expect(await status('second')).toBe(200));
    expect(await status('first')).toBe(401);

    // Read again on the scrapes that come: the problem shows at the first one past a second.
    await rm(file);
    await eventually(async () => {
      expect(await status('second')).toBe(200);
      expect(harness.statuses.at(-1)?.status).toBe('degraded');
    });
    expect(harness.statuses.at(-1)?.reason).toContain(`bearer_token_file: cannot read "${file}"`);
    expect(await status('second')).toBe(200);

    await writeFile(file, 'third\n');
    await eventually(async () => expect(await status('third')).toBe(200));
    expect(harness.statuses.at(-1)?.status).toBe('ok');
    expect(JSON.stringify(harness.logger.entries)).not.toMatch(/first|second|third/);
  });

  it('refuses to start on a missing or empty token file, naming it', async () => {
    const missing = join(dir, 'missing');
    await expect(startExporter({ bearer_token_file: missing })).rejects.toThrow(
      `prometheus exporter "prometheus/test": bearer_token_file: cannot read "${missing}"`,
    );
    const empty = join(dir, 'empty');
    await writeFile(empty, '\n');
    await expect(startExporter({ bearer_token_file: empty })).rejects.toThrow(`bearer_token_file: "${empty}" is empty`);
  });
});

describe('TokenFile', () => {
  it('reads again only past its maximum age, shares one read between concurrent checks, and reports a failure once', async () => {
    const file = join(dir, 'clocked-token');
    await writeFile(file, 'one');
    let now = 0;
    const events: string[] = [];
    const tokens = await TokenFile.open(file, 1_000, { recovered: () => events.push('recovered'), failed: (reason) => events.push(reason) }, () => now);
    await writeFile(file, 'two');
    expect(await tokens.current()).toBe('one');
    now = 1_000;
    const [a, b] = await Promise.all([tokens.current(), tokens.current()]);
    expect([a, b]).toEqual(['two', 'two']);

    await writeFile(file, '  \n');
    for (let i = 0; i < 3; i++) {
      now += 1_000;
      expect(await tokens.current()).toBe('two');
    }
    expect(events).toEqual([`bearer_token_file: "${file}" is empty; keeping the token read before`]);
    await writeFile(file, 'three');
    now += 1_000;
    expect(await tokens.current()).toBe('three');
    expect(events.at(-1)).toBe('recovered');
  });
});

describe('authenticators', () => {
  it('basic auth verifies each distinct header once while its verdict is fresh', async () => {
    let now = 1_000;
    const auth = basicAuthenticator('prometheus', passwordHash, { cacheTtlMs: 60_000, now: () => now });
    const header = basic('prometheus', 's3cret pass');
    const first = auth.check(header);
    // Concurrent and later checks of the same header share the first verification.
    expect(auth.check(header)).toBe(first);
    expect(await first).toBe(true);
    now += 59_999;
    expect(auth.check(header)).toBe(first);
    now += 1;
    const renewed = auth.check(header);
    expect(renewed).not.toBe(first);
    expect(await renewed).toBe(true);
    // A wrong password is remembered as wrong, not retried.
    const wrong = auth.check(basic('prometheus', 'nope'));
    expect(await wrong).toBe(false);
    expect(auth.check(basic('prometheus', 'nope'))).toBe(wrong);
  });

  it('basic auth forgets the oldest verdict beyond its cache size', async () => {
    const auth = basicAuthenticator('prometheus', passwordHash, { cacheSize: 2 });
    const first = auth.check(basic('a', '1'));
    auth.check(basic('b', '2'));
    auth.check(basic('c', '3'));
    expect(auth.check(basic('a', '1'))).not.toBe(first);
  });

  it('basic auth refuses malformed headers without verifying', async () => {
    const auth = basicAuthenticator('prometheus', passwordHash);
    for (const header of [undefined, '', 'Basic', `Basic ${Buffer.from('no-colon').toString('base64')}`, 'Digest abc']) {
      expect(await auth.check(header), String(header)).toBe(false);
    }
    expect(await auth.check(basic('prometheus', 's3cret pass').replace('Basic', 'basic'))).toBe(true);
  });

  it('bearer compares the whole token', async () => {
    const auth = bearerAuthenticator('abc');
    expect(await auth.check('Bearer abc')).toBe(true);
    expect(await auth.check('bearer abc')).toBe(true);
    for (const header of ['Bearer ab', 'Bearer abcd', 'Bearer', 'abc', undefined]) expect(await auth.check(header), String(header)).toBe(false);
  });
});
