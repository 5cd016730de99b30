// The exporter's config schema and the small pure pieces of the server: endpoint parsing,
// content negotiation, and the shared, deadline-bound scrape.
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../../src/exporters/prometheus/config.js';
import { prometheusFactory } from '../../../../src/exporters/prometheus/index.js';
import { acceptsGzip, negotiateFormat, ScrapeError, SharedScrape } from '../../../../src/exporters/prometheus/scrape.js';
import { parseEndpoint } from '../../../../src/exporters/prometheus/server.js';
import { sampleMetrics, TestSource } from '../../../support/prometheus-exporter.js';

const HASH = '$2b$04$' + 'a'.repeat(53);

function issues(input: unknown): string[] {
  const result = configSchema.safeParse(input);
  if (result.success) return [];
  return result.error.issues.map((issue) => `${issue.path.join('::')}: ${issue.message}`);
}

describe('config', () => {
  it('fills in the defaults: loopback, suffixes, target_info, a 5s deadline, 40 requests in flight, no TLS, no auth', () => {
    expect(configSchema.parse({})).toEqual({
      endpoint: '127.0.0.1:9464',
      namespace: '',
      const_labels: {},
      add_metric_suffixes: true,
      target_info: true,
      collection_timeout: 5000,
      max_requests: 40,
    });
  });

  it('takes max_requests as a whole number, 0 for no limit', () => {
    expect(configSchema.parse({ max_requests: 0 }).max_requests).toBe(0);
    expect(configSchema.parse({ max_requests: 5 }).max_requests).toBe(5);
    for (const value of [-1, 2.5, '40']) {
      expect(issues({ max_requests: value }), String(value)).toEqual(['max_requests: expected a whole number of requests, 0 for no limit']);
    }
  });

  it('parses TLS with its defaults and durations', () => {
    const config = configSchema.parse({
      endpoint: '[::1]:9100',
      collection_timeout: '1500ms',
      tls: { cert_file: '/etc/a.crt', key_file: '/etc/a.key', client_ca_file: '/etc/ca.crt' },
      basic_auth: { username: 'prom', password_hash: HASH },
    });
    expect(config.tls).toEqual({
      cert_file: '/etc/a.crt',
      key_file: '/etc/a.key',
      client_ca_file: '/etc/ca.crt',
      min_version: 'TLSv1.2',
      reload_interval: 30_000,
    });
    expect(config.collection_timeout).toBe(1500);
  });

  it('names the path of every mistake', () => {
    expect(issues({ endpont: 'x' })).toEqual([': Unrecognized key: "endpont"']);
    expect(issues({ endpoint: '9464' })).toEqual(['endpoint: expected host:port, like 127.0.0.1:9464']);
    expect(issues({ endpoint: '127.0.0.1:70000' })).toEqual(['endpoint: port must be 0 to 65535']);
    expect(issues({ collection_timeout: 'soon' })).toEqual(['collection_timeout: expected a duration like 500ms, 15s or 1h, found "soon"']);
    expect(issues({ collection_timeout: '0s' })).toEqual(['collection_timeout: must be more than 0s']);
    expect(issues({ namespace: 'my-site' })).toEqual(['namespace: expected a Prometheus name prefix: letters, digits and _']);
    expect(issues({ tls: { cert_file: 'a' } })).toEqual(['tls::key_file: Invalid input: expected string, received undefined']);
    expect(issues({ tls: { cert_file: 'a', key_file: 'b', min_version: 'TLSv1.1' } })).toEqual([
      'tls::min_version: Invalid option: expected one of "TLSv1.2"|"TLSv1.3"',
    ]);
    expect(issues({ tls: { cert_file: 'a', key_file: 'b', clientca: 'c' } })).toEqual(['tls: Unrecognized key: "clientca"']);
  });

  it('refuses a password that is not a bcrypt hash, without echoing it', () => {
    const found = issues({ basic_auth: { username: 'prom', password_hash: 'plain-text-password' } });
    expect(found).toEqual([
      'basic_auth::password_hash: expected a bcrypt hash ($2b$<cost>$<53 characters>), as printed by `htpasswd -nbB` or bcryptjs',
    ]);
    expect(found.join()).not.toContain('plain-text-password');
  });

  it('allows one authentication method at a time', () => {
    expect(issues({ bearer_token: 't', basic_auth: { username: 'u', password_hash: HASH } })).toEqual([
      'bearer_token: only one of basic_auth, bearer_token, bearer_token_file may be set, found basic_auth and bearer_token',
    ]);
    expect(issues({ bearer_token: 't', bearer_token_file: '/f' })).toHaveLength(1);
  });

  it('is the schema of the prometheus exporter factory', () => {
    expect(prometheusFactory.configSchema).toBe(configSchema);
    expect(prometheusFactory).toMatchObject({ type: 'prometheus', kind: 'exporter' });
  });
});

describe('parseEndpoint', () => {
  it('splits IPv4, names and bracketed IPv6', () => {
    expect(parseEndpoint('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseEndpoint('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    expect(parseEndpoint('[::1]:9100')).toEqual({ host: '::1', port: 9100 });
  });
});

describe('negotiation', () => {
  it('picks OpenMetrics only when Accept prefers it', () => {
    expect(negotiateFormat(undefined)).toBe('text');
    expect(negotiateFormat('*/*')).toBe('text');
    expect(negotiateFormat('text/plain;version=0.0.4')).toBe('text');
    expect(negotiateFormat('application/openmetrics-text')).toBe('openmetrics');
    expect(negotiateFormat('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1')).toBe('openmetrics');
    expect(negotiateFormat('text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5')).toBe('text');
    expect(negotiateFormat('application/openmetrics-text;q=0')).toBe('text');
    expect(negotiateFormat('Application/OpenMetrics-Text; version=1.0.0')).toBe('openmetrics');
  });

  it('gzips only when gzip is accepted with q above 0', () => {
    expect(acceptsGzip(undefined)).toBe(false);
    expect(acceptsGzip('gzip')).toBe(true);
    expect(acceptsGzip('deflate, gzip;q=0.5')).toBe(true);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('identity')).toBe(false);
  });
});

describe('SharedScrape', () => {
  function gatedSource() {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const source = new TestSource(async () => {
      await gate;
      return sampleMetrics();
    });
    return { source, open: () => open() };
  }

  it('runs one collection for scrapes that arrive while it is in flight, whatever their format', async () => {
    const { source, open } = gatedSource();
    const failures: string[] = [];
    const shared = new SharedScrape({ source, serializeOptions: {}, timeoutMs: 5_000, onCollectFailure: (reason) => failures.push(reason) });
    const scrapes = [shared.scrape('text', false), shared.scrape('text', true), shared.scrape('openmetrics', false)];
    open();
    const [plain, gzipped, openMetrics] = await Promise.all(scrapes);
    expect(source.calls).toBe(1);
    expect(gzipped.body).toBe(plain.body);
    expect(gzipped.gzipped?.length).toBeGreaterThan(0);
    expect(openMetrics.body.toString()).toContain('# EOF');
    await shared.scrape('text', false);
    expect(source.calls).toBe(2);
    expect(failures).toEqual([]);
  });

  it('aborts the source at the deadline and serves what it then returns', async () => {
    const source = new TestSource(
      () => new Promise((resolve) => source.lastOptions!.signal!.addEventListener('abort', () => resolve(sampleMetrics()), { once: true })),
    );
    const shared = new SharedScrape({ source, serializeOptions: {}, timeoutMs: 50, onCollectFailure: () => undefined });
    expect((await shared.scrape('text', false)).body.toString()).toContain('test_requests_total');
    expect(source.lastOptions?.timeoutMs).toBeUndefined();
    expect((source.lastOptions?.signal?.reason as Error).message).toBe('collection_timeout of 50ms passed');
  });

  it('aborts the collection in progress when its stop signal aborts', async () => {
    const stop = new AbortController();
    const source = new TestSource(
      () => new Promise((resolve) => source.lastOptions!.signal!.addEventListener('abort', () => resolve(sampleMetrics()), { once: true })),
    );
    const shared = new SharedScrape({ source, serializeOptions: {}, timeoutMs: 60_000, signal: stop.signal, onCollectFailure: () => undefined });
    const scrape = shared.scrape('text', false);
    stop.abort(new Error('exporter stopped'));
    expect((await scrape).body.toString()).toContain('test_requests_total');
    expect((source.lastOptions?.signal?.reason as Error).message).toBe('exporter stopped');
  });

  // A 503 now means the source ignored its abort: one that honours it is served stale (above).
  it('answers 503 when the source does not settle after its deadline, and never runs two collections at once', async () => {
    const { source, open } = gatedSource();
    const shared = new SharedScrape({ source, serializeOptions: {}, timeoutMs: 50, abortGraceMs: 50, onCollectFailure: () => undefined });
    await expect(shared.scrape('text', false)).rejects.toEqual(new ScrapeError(503, 'collection did not stop at its 50ms deadline (waited 50ms more)'));
    const late = shared.scrape('text', false);
    open();
    // The scrape that joined the late collection gets its result.
    expect((await late).body.toString()).toContain('test_requests_total');
    expect(source.calls).toBe(1);
  });

  it('reports a failed collection once, however many scrapes shared it', async () => {
    const source = new TestSource(async () => {
      throw new Error('boom');
    });
    const failures: string[] = [];
    const shared = new SharedScrape({ source, serializeOptions: {}, timeoutMs: 5_000, onCollectFailure: (reason) => failures.push(reason) });
    const results = await Promise.allSettled([shared.scrape('text', false), shared.scrape('openmetrics', true)]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toEqual(new ScrapeError(500, 'collection failed: boom'));
    expect(failures).toEqual(['collection failed: boom']);
  });
});
