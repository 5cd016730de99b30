// The endpoint over plain HTTP: routes, negotiation, gzip, shared collections, deadlines,
// self-telemetry and the lifecycle contract, against a real server on a loopback port.
import { createServer, type Server } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { prometheusFactory, type PrometheusExporter } from '../../../../src/exporters/prometheus/index.js';
import { fetchFrom, sampleMetrics, startExporter, testHarness, TestSource } from '../../../support/prometheus-exporter.js';

/** The implementation, loaded once as the agent would for a config that uses it. */
const prometheus = await prometheusFactory.load();

const running: PrometheusExporter[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((exporter) => exporter.shutdown()));
});

async function serve(config: Record<string, unknown> = {}, harness = testHarness()) {
  const started = await startExporter(config, harness);
  running.push(started.exporter);
  return started;
}

/** A promise with its resolve function exposed, to hold a collection open. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

describe('GET /metrics', () => {
  it('serves the source as Prometheus text 0.0.4', async () => {
    const { port } = await serve();
    const reply = await fetchFrom(port);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const body = reply.body.toString();
    expect(body).toMatch(/^test_requests_total\{.*route="\/a".*\} 42$/m);
    expect(body).toMatch(/^target_info\{.*service_name="otel-agent-test".*\} 1$/m);
    expect(body).not.toContain('# EOF');
  });

  it('applies namespace and const_labels, and leaves target_info out when asked', async () => {
    const { port } = await serve({ namespace: 'site', const_labels: { dc: 'dc1' }, target_info: false });
    const body = (await fetchFrom(port)).body.toString();
    expect(body).toMatch(/^site_test_requests_total\{.*dc="dc1".*\} 42$/m);
    expect(body).not.toContain('target_info');
  });

  it('answers OpenMetrics when Accept asks for it the way Prometheus does', async () => {
    const { port } = await serve();
    const reply = await fetchFrom(port, {
      headers: {
        accept:
          'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      },
    });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(reply.body.toString().trimEnd().endsWith('# EOF')).toBe(true);
  });

  it('gzips the body when Accept-Encoding has gzip, and the body decodes', async () => {
    const { port } = await serve();
    const reply = await fetchFrom(port, { headers: { 'accept-encoding': 'br;q=1.0, gzip;q=0.8' } });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-encoding']).toBe('gzip');
    expect(Number(reply.headers['content-length'])).toBe(reply.body.length);
    expect(gunzipSync(reply.body).toString()).toMatch(/^test_requests_total\{.*\} 42$/m);
  });

  it('sends no gzip when the client refuses it with q=0', async () => {
    const { port } = await serve();
    const reply = await fetchFrom(port, { headers: { 'accept-encoding': 'gzip;q=0' } });
    expect(reply.headers['content-encoding']).toBeUndefined();
    expect(reply.body.toString()).toContain('test_requests_total');
  });

  it('gives concurrent scrapes one shared collection', async () => {
    const gate = deferred<void>();
    const source = new TestSource(async () => {
      await gate.promise;
      return sampleMetrics(5);
    });
    const { port } = await serve({}, testHarness(source));
    const scrapes = [
      fetchFrom(port),
      fetchFrom(port, { headers: { 'accept-encoding': 'gzip' } }),
      fetchFrom(port, { headers: { accept: 'application/openmetrics-text' } }),
    ];
    // The first request started the collection; give the other two time to arrive on loopback.
    while (source.calls === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, 250));
    gate.resolve();
    const replies = await Promise.all(scrapes);
    expect(replies.map((reply) => reply.status)).toEqual([200, 200, 200]);
    expect(source.calls).toBe(1);
    expect(gunzipSync(replies[1].body).toString()).toBe(replies[0].body.toString());
    // Once that round is over, the next scrape collects again.
    await fetchFrom(port);
    expect(source.calls).toBe(2);
  });

  it('aborts the source at collection_timeout, the one deadline, and serves what it returns then', async () => {
    const source = new TestSource(
      () => new Promise((resolve) => source.lastOptions!.signal!.addEventListener('abort', () => resolve(sampleMetrics()), { once: true })),
    );
    const { port } = await serve({ collection_timeout: '200ms' }, testHarness(source));
    const reply = await fetchFrom(port);
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toContain('test_requests_total');
    expect((source.lastOptions?.signal?.reason as Error).message).toBe('collection_timeout of 200ms passed');
  });

  it('answers 503 with a one-line reason when the source never resolves, and keeps serving', async () => {
    const source = new TestSource(() => new Promise(() => undefined));
    const harness = testHarness(source);
    const { port } = await serve({ collection_timeout: '200ms' }, harness);
    const reply = await fetchFrom(port);
    expect(reply.status).toBe(503);
    expect(reply.body.toString()).toBe('collection did not stop at its 200ms deadline (waited 1000ms more)\n');
    expect(harness.statuses.at(-1)).toEqual({ status: 'degraded', reason: 'collection did not stop at its 200ms deadline (waited 1000ms more)' });
    // The hung collection is not started again; the next scrape waits on it and times out too.
    const again = await fetchFrom(port);
    expect(again.status).toBe(503);
    expect(source.calls).toBe(1);
    expect((await fetchFrom(port, { path: '/ready' })).status).toBe(200);
  });

  it('answers 500 with a one-line reason when collection fails, logs it, then recovers', async () => {
    const source = new TestSource(async (call) => {
      if (call === 1) throw new Error('pipeline exploded\nwith a stack');
      return sampleMetrics();
    });
    const harness = testHarness(source);
    const { port } = await serve({}, harness);
    const failed = await fetchFrom(port);
    expect(failed.status).toBe(500);
    expect(failed.body.toString()).toBe('collection failed: pipeline exploded\n');
    expect(harness.logger.entries).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'collection failed: pipeline exploded' }));
    expect(harness.statuses.at(-1)).toEqual({ status: 'degraded', reason: 'collection failed: pipeline exploded' });
    const recovered = await fetchFrom(port);
    expect(recovered.status).toBe(200);
    expect(harness.statuses.at(-1)).toEqual({ status: 'ok', reason: undefined });
  });

  it('records its scrape duration, scrape count by code and series count', async () => {
    const harness = testHarness();
    const { port } = await serve({}, harness);
    await fetchFrom(port);
    const records = harness.telemetry.records;
    const duration = records.find((r) => r.instrument === 'otel_agent.exporter.scrape.duration');
    expect(duration?.op).toBe('record');
    expect(duration?.attributes).toEqual({ exporter: 'prometheus/test' });
    expect(duration?.value).toBeGreaterThanOrEqual(0);
    expect(records).toContainEqual({ instrument: 'otel_agent.exporter.scrapes', op: 'add', value: 1, attributes: { exporter: 'prometheus/test', code: '200' } });
    const series = records.find((r) => r.instrument === 'otel_agent.exporter.series');
    expect(series?.value).toBeGreaterThanOrEqual(2);
  });

  it('counts and warns once about points the serialiser drops', async () => {
    const harness = testHarness(
      new TestSource(async () => {
        const metrics = sampleMetrics();
        metrics[0].scopeMetrics[0].metrics.push({
          descriptor: { name: 'test.latency', description: '', unit: 's', valueType: 1 },
          aggregationTemporality: 1,
          dataPointType: 1, // exponential histogram: Prometheus text cannot carry it
          dataPoints: [
            {
              startTime: [0, 0],
              endTime: [1, 0],
              attributes: {},
              value: { count: 1, sum: 1, scale: 0, zeroCount: 0, positive: { offset: 0, bucketCounts: [1] }, negative: { offset: 0, bucketCounts: [] } },
            },
          ],
        });
        return metrics;
      }),
    );
    const { port } = await serve({}, harness);
    await fetchFrom(port);
    await fetchFrom(port);
    const dropped = harness.telemetry.records.filter((r) => r.instrument === 'otel_agent.exporter.dropped');
    expect(dropped).toHaveLength(2);
    expect(dropped[0]).toMatchObject({ value: 1, attributes: { exporter: 'prometheus/test', reason: 'exponential_histogram' } });
    expect(harness.logger.entries.filter((e) => e.msg === 'data points dropped from the scrape')).toHaveLength(1);
  });
});

describe('other routes', () => {
  it('/health lists each component and answers 200 while none failed', async () => {
    const harness = testHarness();
    harness.health.components = [
      { id: 'hostmetrics', kind: 'receiver', status: 'ok', since: '2026-01-01T00:00:00.000Z' },
      { id: 'redis/cache', kind: 'receiver', status: 'degraded', reason: 'connection refused', since: '2026-01-01T00:00:01.000Z' },
    ];
    const { port } = await serve({}, harness);
    const reply = await fetchFrom(port, { path: '/health' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(reply.body.toString())).toEqual({
      status: 'degraded',
      components: [
        { id: 'hostmetrics', kind: 'receiver', status: 'ok', since: '2026-01-01T00:00:00.000Z' },
        { id: 'redis/cache', kind: 'receiver', status: 'degraded', reason: 'connection refused', since: '2026-01-01T00:00:01.000Z' },
      ],
    });
  });

  it('/health answers 503 when a component failed', async () => {
    const harness = testHarness();
    harness.health.components = [
      { id: 'otlp', kind: 'exporter', status: 'failed', reason: 'bad endpoint', since: '2026-01-01T00:00:00.000Z' },
    ];
    const { port } = await serve({}, harness);
    const reply = await fetchFrom(port, { path: '/health' });
    expect(reply.status).toBe(503);
    expect(JSON.parse(reply.body.toString()).status).toBe('failed');
  });

  it('/ready follows health.ready()', async () => {
    const harness = testHarness();
    harness.health.ready = false;
    const { port } = await serve({}, harness);
    expect((await fetchFrom(port, { path: '/ready' })).status).toBe(503);
    harness.health.ready = true;
    const ready = await fetchFrom(port, { path: '/ready' });
    expect(ready.status).toBe(200);
    expect(ready.body.toString()).toBe('ready\n');
  });

  it('/live answers 200 whatever the components say, for a liveness probe', async () => {
    const harness = testHarness();
    harness.health.ready = false;
    harness.health.components = [
      { id: 'otlp', kind: 'exporter', status: 'failed', reason: 'bad endpoint', since: '2026-01-01T00:00:00.000Z' },
    ];
    const { port } = await serve({}, harness);
    const live = await fetchFrom(port, { path: '/live' });
    expect(live.status).toBe(200);
    expect(live.body.toString()).toBe('live\n');
    expect((await fetchFrom(port, { path: '/ready' })).status).toBe(503);
  });

  it('answers 404 for unknown paths, 405 with Allow for other methods, and HEAD without a body', async () => {
    const { port } = await serve();
    expect((await fetchFrom(port, { path: '/' })).status).toBe(404);
    expect((await fetchFrom(port, { path: '/metrics/extra' })).status).toBe(404);
    const post = await fetchFrom(port, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const head = await fetchFrom(port, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect((await fetchFrom(port, { path: '/metrics?debug=1' })).status).toBe(200);
  });
});

describe('lifecycle', () => {
  const create = () => {
    const config = prometheusFactory.configSchema.parse({ endpoint: '127.0.0.1:0' });
    return prometheus.create(testHarness().settings, config) as PrometheusExporter;
  };

  it('shuts down without start, and twice', async () => {
    const exporter = create();
    await exporter.shutdown();
    await exporter.shutdown();
    expect(exporter.address()).toBeUndefined();
  });

  it('starts, shuts down, and a new instance starts again on the same port', async () => {
    const first = create();
    await first.start(new AbortController().signal);
    const port = first.address()!.port;
    expect((await fetchFrom(port, { path: '/ready' })).status).toBe(200);
    await first.shutdown();
    await first.shutdown();
    await expect(fetchFrom(port, { path: '/ready' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(first.start(new AbortController().signal)).rejects.toThrow('prometheus exporter "prometheus/test" was already started; create a new one');

    const config = prometheusFactory.configSchema.parse({ endpoint: `127.0.0.1:${port}` });
    const second = prometheus.create(testHarness().settings, config) as PrometheusExporter;
    running.push(second);
    await second.start(new AbortController().signal);
    expect((await fetchFrom(port, { path: '/ready' })).status).toBe(200);
  });

  it('closes open keep-alive connections and a scrape in flight on shutdown', async () => {
    const source = new TestSource(() => new Promise(() => undefined));
    const { exporter, port } = await serve({ collection_timeout: '1m' }, testHarness(source));
    const inFlight = fetchFrom(port);
    while (source.calls === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await exporter.shutdown();
    await expect(inFlight).rejects.toThrow(/socket hang up|ECONNRESET/);
    // The stop aborted the collection too, as its deadline would have.
    expect(source.lastOptions?.signal?.aborted).toBe(true);
  });

  it('rejects start with a message naming the endpoint when the port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const config = prometheusFactory.configSchema.parse({ endpoint: `127.0.0.1:${port}` });
      const exporter = prometheus.create(testHarness().settings, config);
      await expect(exporter.start(new AbortController().signal)).rejects.toThrow(
        `prometheus exporter "prometheus/test": cannot listen on 127.0.0.1:${port}: listen EADDRINUSE: address already in use 127.0.0.1:${port}`,
      );
      await exporter.shutdown();
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
