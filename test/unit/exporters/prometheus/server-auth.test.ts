// Authentication of /metrics: basic auth against a bcrypt hash, bearer token (inline or
// from a file). /health and /ready stay open so local probes need no credentials.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { BcryptWorkers, basicAuthenticator, bearerAuthenticator, TokenFile } from '../../../../src/exporters/prometheus/auth.js';
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

  it('never waits on a FIFO put in place of the token file: scrapes keep the token read before', async () => {
    const file = join(dir, 'fifo-token');
    await writeFile(file, 'before-fifo\n');
    const harness = testHarness();
    const { port } = await serve({ bearer_token_file: file }, harness);
    const status = (token: string) => fetchFrom(port, { headers: { authorization: `Bearer ${token}` } }).then((response) => response.status);
    expect(await status('before-fifo')).toBe(200);
    await rm(file);
    execFileSync('mkfifo', [file]);
    await eventually(async () => {
      expect(await status('before-fifo')).toBe(200);
      expect(harness.statuses.at(-1)?.status).toBe('degraded');
    });
    expect(harness.statuses.at(-1)?.reason).toContain('a FIFO (named pipe); only a regular file is read');
    await rm(file);
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

/**
 * A password verifier whose comparisons wait until the test settles them: it counts the
 * comparisons asked for and the most that ran at once.
 */
function heldVerifier() {
  const held: Array<{ password: string; settle(matches: boolean): void }> = [];
  const state = { calls: 0, running: 0, mostAtOnce: 0, closed: false };
  return {
    held,
    state,
    verify(password: string, hash: string): Promise<boolean> {
      expect(hash).toBe(passwordHash);
      state.calls += 1;
      state.running += 1;
      state.mostAtOnce = Math.max(state.mostAtOnce, state.running);
      return new Promise<boolean>((resolve) => {
        held.push({
          password,
          settle: (matches) => {
            state.running -= 1;
            resolve(matches);
          },
        });
      });
    },
    async close() {
      state.closed = true;
    },
    /** Settles the oldest held comparison as bcrypt would: right password or not. */
    async settleNext() {
      const next = await eventually(() => held.shift() ?? Promise.reject(new Error('no comparison held')));
      next.settle(next.password === 's3cret pass');
    },
  };
}

describe('authenticators', () => {
  it('basic auth verifies each distinct header once; an accepted one stays while it is used, a refused one for the TTL', async () => {
    let now = 1_000;
    const verifier = heldVerifier();
    const auth = basicAuthenticator('prometheus', passwordHash, { cacheTtlMs: 60_000, now: () => now, verifier });
    const header = basic('prometheus', 's3cret pass');
    // Concurrent checks of the same header share one verification.
    const [first, second] = [auth.check(header), auth.check(header)];
    await verifier.settleNext();
    expect([await first, await second]).toEqual(['allowed', 'allowed']);
    // Scraped every 50 s: the verdict is refreshed by each use, never verified again.
    for (let i = 0; i < 5; i++) {
      now += 50_000;
      expect(await auth.check(header)).toBe('allowed');
    }
    expect(verifier.state.calls).toBe(1);
    // Unused for the TTL: forgotten, so verified again.
    now += 60_000;
    const renewed = auth.check(header);
    await verifier.settleNext();
    expect(await renewed).toBe('allowed');
    expect(verifier.state.calls).toBe(2);

    // A wrong password is remembered as wrong for the TTL from its verification.
    const wrong = auth.check(basic('prometheus', 'nope'));
    await verifier.settleNext();
    expect(await wrong).toBe('denied');
    now += 59_999;
    expect(await auth.check(basic('prometheus', 'nope'))).toBe('denied');
    expect(verifier.state.calls).toBe(3);
    now += 1;
    const again = auth.check(basic('prometheus', 'nope'));
    await verifier.settleNext();
    expect(await again).toBe('denied');
    expect(verifier.state.calls).toBe(4);
  });

  it('basic auth forgets the oldest refused verdict beyond its cache size, never the accepted one', async () => {
    const verifier = heldVerifier();
    const auth = basicAuthenticator('prometheus', passwordHash, { cacheSize: 2, verifier });
    const good = auth.check(basic('prometheus', 's3cret pass'));
    await verifier.settleNext();
    expect(await good).toBe('allowed');
    for (const password of ['1', '2', '3']) {
      const wrong = auth.check(basic('prometheus', password));
      await verifier.settleNext();
      expect(await wrong).toBe('denied');
    }
    expect(verifier.state.calls).toBe(4);
    // '1' was pushed out by '3' and is verified again; the accepted header is still known.
    expect(await auth.check(basic('prometheus', 's3cret pass'))).toBe('allowed');
    const forgotten = auth.check(basic('prometheus', '1'));
    await verifier.settleNext();
    expect(await forgotten).toBe('denied');
    expect(await auth.check(basic('prometheus', '3'))).toBe('denied');
    expect(verifier.state.calls).toBe(5);
  });

  it('basic auth runs at most maxConcurrentChecks verifications, lets maxPendingChecks wait, and answers busy beyond without verifying', async () => {
    const verifier = heldVerifier();
    const auth = basicAuthenticator('prometheus', passwordHash, { maxConcurrentChecks: 2, maxPendingChecks: 3, verifier });
    const good = auth.check(basic('prometheus', 's3cret pass'));
    await verifier.settleNext();
    expect(await good).toBe('allowed');

    const flood = Array.from({ length: 10 }, (_, i) => auth.check(basic('prometheus', `wrong ${i}`)));
    const early = await Promise.all(flood.slice(5));
    expect(early).toEqual(['busy', 'busy', 'busy', 'busy', 'busy']);
    // Two running, three waiting: only the running ones reached the verifier.
    expect(verifier.state.calls).toBe(1 + 2);
    // While the queue is full: the accepted header is answered from its verdict, a header
    // already waiting shares its verification, a new one is busy.
    expect(await auth.check(basic('prometheus', 's3cret pass'))).toBe('allowed');
    const joined = auth.check(basic('prometheus', 'wrong 4'));
    expect(await auth.check(basic('prometheus', 'wrong 99'))).toBe('busy');

    for (let i = 0; i < 5; i++) await verifier.settleNext();
    expect(await Promise.all(flood.slice(0, 5))).toEqual(['denied', 'denied', 'denied', 'denied', 'denied']);
    expect(await joined).toBe('denied');
    expect(verifier.state.calls).toBe(1 + 5);
    expect(verifier.state.mostAtOnce).toBe(2);
    // The queue drained: new headers are verified again.
    const later = auth.check(basic('prometheus', 'wrong 99'));
    await verifier.settleNext();
    expect(await later).toBe('denied');
  });

  it('basic auth refuses malformed headers without verifying', async () => {
    const verifier = heldVerifier();
    const auth = basicAuthenticator('prometheus', passwordHash, { verifier });
    for (const header of [undefined, '', 'Basic', `Basic ${Buffer.from('no-colon').toString('base64')}`, 'Digest abc']) {
      expect(await auth.check(header), String(header)).toBe('denied');
    }
    expect(verifier.state.calls).toBe(0);
    const lowerCase = auth.check(basic('prometheus', 's3cret pass').replace('Basic', 'basic'));
    await verifier.settleNext();
    expect(await lowerCase).toBe('allowed');
  });

  it('basic auth compares with bcrypt on a worker thread, never on the event loop', async () => {
    const onMainThread = vi.spyOn(bcrypt, 'compare');
    const onMainThreadSync = vi.spyOn(bcrypt, 'compareSync');
    const auth = basicAuthenticator('prometheus', passwordHash);
    try {
      expect(await auth.check(basic('prometheus', 's3cret pass'))).toBe('allowed');
      expect(await auth.check(basic('prometheus', 'wrong'))).toBe('denied');
      // A wrong user name still costs a bcrypt comparison, and is refused.
      expect(await auth.check(basic('someone', 's3cret pass'))).toBe('denied');
      expect(onMainThread).not.toHaveBeenCalled();
      expect(onMainThreadSync).not.toHaveBeenCalled();
    } finally {
      onMainThread.mockRestore();
      onMainThreadSync.mockRestore();
      await auth.close?.();
    }
  });

  it('bcrypt workers refuse work once closed', async () => {
    const workers = new BcryptWorkers(1);
    expect(await workers.verify('s3cret pass', passwordHash)).toBe(true);
    expect(await workers.verify('s3cret pas', passwordHash)).toBe(false);
    await workers.close();
    await expect(workers.verify('s3cret pass', passwordHash)).rejects.toThrow('bcrypt workers closed');
  });

  it('bearer compares the whole token', async () => {
    const auth = bearerAuthenticator('abc');
    expect(await auth.check('Bearer abc')).toBe('allowed');
    expect(await auth.check('bearer abc')).toBe('allowed');
    for (const header of ['Bearer ab', 'Bearer abcd', 'Bearer', 'abc', undefined]) expect(await auth.check(header), String(header)).toBe('denied');
  });
});
