// What the endpoint admits: requests to /metrics in flight are bounded by max_requests, and
// credentials waiting for bcrypt by a short queue; the excess is answered 503 at once, and
// neither a burst of scrapes nor a flood of wrong passwords delays an authorised scrape.
import { once } from 'node:events';
import { connect } from 'node:net';
import bcrypt from 'bcryptjs';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { prometheusFactory } from '../../../../src/exporters/prometheus/index.js';
import { PrometheusExporter, type PrometheusExporterOptions } from '../../../../src/exporters/prometheus/server.js';
import { eventually } from '../../../support/eventually.js';
import { fetchFrom, sampleMetrics, startExporter, testHarness, type Reply, type TestHarness } from '../../../support/prometheus-exporter.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const GOOD = basic('prometheus', 's3cret pass');

let passwordHash: string;
beforeAll(async () => {
  passwordHash = await bcrypt.hash('s3cret pass', 4);
});

const running: PrometheusExporter[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((exporter) => exporter.shutdown()));
});

/** Starts the exporter as the factory would, with `options` the factory does not pass. */
async function serve(yamlConfig: Record<string, unknown>, harness: TestHarness, options: PrometheusExporterOptions = {}): Promise<number> {
  if (Object.keys(options).length === 0) {
    const started = await startExporter(yamlConfig, harness);
    running.push(started.exporter);
    return started.port;
  }
  const config = prometheusFactory.configSchema.parse({ endpoint: '127.0.0.1:0', ...yamlConfig });
  const exporter = new PrometheusExporter(harness.settings, config, options);
  running.push(exporter);
  await exporter.start(new AbortController().signal);
  return exporter.address()!.port;
}

/** Collections wait until `release()`; then they, and any after, return the sample metrics. */
function heldSource(harness: TestHarness) {
  const releases: Array<() => void> = [];
  harness.source.behaviour = () => new Promise<ResourceMetrics[]>((resolve) => releases.push(() => resolve(sampleMetrics())));
  return {
    release: () => {
      harness.source.behaviour = async () => sampleMetrics();
      releases.splice(0).forEach((release) => release());
    },
  };
}

/** Sum of what the exporter added to an instrument, for the attributes given. */
function total(harness: TestHarness, instrument: string, attributes: Record<string, unknown> = {}): number {
  return harness.telemetry.records
    .filter((r) => r.instrument === instrument && Object.entries(attributes).every(([key, value]) => r.attributes[key] === value))
    .reduce((sum, r) => sum + r.value, 0);
}

const inFlight = (harness: TestHarness) => total(harness, 'otel_agent.exporter.requests.in_flight');

/** Starts requests and collects the replies as they arrive. */
function send(count: number, request: (index: number) => Promise<Reply>) {
  const replies: Reply[] = [];
  const all = Promise.all(Array.from({ length: count }, (_, index) => request(index).then((reply) => void replies.push(reply))));
  return { replies, all };
}

function expectRefused(reply: Reply, text: RegExp) {
  expect(reply.status).toBe(503);
  expect(reply.headers['retry-after']).toBe('1');
  expect(reply.body.toString()).toMatch(text);
}

describe('max_requests', () => {
  it('answers /metrics beyond the limit with 503 and Retry-After at once, while /health and /ready still answer', async () => {
    const harness = testHarness();
    const source = heldSource(harness);
    const port = await serve({ max_requests: 2 }, harness);

    const held = send(2, () => fetchFrom(port));
    await eventually(() => expect(inFlight(harness)).toBe(2));
    const refused = await Promise.all([fetchFrom(port), fetchFrom(port, { headers: { accept: 'application/openmetrics-text' } })]);
    for (const reply of refused) expectRefused(reply, /^2 requests to \/metrics in flight already; retry shortly$/m);
    expect((await fetchFrom(port, { path: '/health' })).status).toBe(200);
    expect((await fetchFrom(port, { path: '/ready' })).status).toBe(200);
    expect(held.replies).toEqual([]);

    source.release();
    await held.all;
    expect(held.replies.map((reply) => reply.status)).toEqual([200, 200]);
    // Answered requests give their places back.
    await eventually(() => expect(inFlight(harness)).toBe(0));
    expect((await fetchFrom(port)).status).toBe(200);
    expect(total(harness, 'otel_agent.exporter.requests.refused', { exporter: 'prometheus/test', reason: 'max_requests' })).toBe(2);
    expect(total(harness, 'otel_agent.exporter.scrapes', { code: '503' })).toBe(2);
    expect(total(harness, 'otel_agent.exporter.scrapes', { code: '200' })).toBe(3);
  });

  it('defaults to 40, as node_exporter does', async () => {
    const harness = testHarness();
    const source = heldSource(harness);
    const port = await serve({}, harness);
    const held = send(40, () => fetchFrom(port));
    await eventually(() => expect(inFlight(harness)).toBe(40));
    expectRefused(await fetchFrom(port), /^40 requests to \/metrics in flight already/m);
    source.release();
    await held.all;
    expect(held.replies.every((reply) => reply.status === 200)).toBe(true);
  });

  it('0 sets no limit', async () => {
    const harness = testHarness();
    const source = heldSource(harness);
    const port = await serve({ max_requests: 0 }, harness);
    const held = send(60, () => fetchFrom(port));
    await eventually(() => expect(inFlight(harness)).toBe(60));
    source.release();
    await held.all;
    expect(held.replies.map((reply) => reply.status)).toEqual(Array(60).fill(200));
    expect(total(harness, 'otel_agent.exporter.requests.refused')).toBe(0);
  });

  it('counts a request until its answer is sent or its client has gone', async () => {
    const harness = testHarness();
    const source = heldSource(harness);
    const port = await serve({ max_requests: 1 }, harness);
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    client.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await eventually(() => expect(inFlight(harness)).toBe(1));
    expectRefused(await fetchFrom(port), /in flight already/);
    // The client gives up while the collection still runs: its place is free again.
    client.destroy();
    await eventually(() => expect(inFlight(harness)).toBe(0));
    const next = fetchFrom(port);
    await eventually(() => expect(inFlight(harness)).toBe(1));
    source.release();
    expect((await next).status).toBe(200);
  });
});

/**
 * A verifier whose comparisons wait for the test (as a slow bcrypt would): it counts the
 * comparisons asked for and the most that ran at once.
 */
function heldVerifier() {
  const held: Array<{ password: string; settle(): void }> = [];
  const state = { calls: 0, running: 0, mostAtOnce: 0 };
  return {
    state,
    held,
    verify(password: string): Promise<boolean> {
      state.calls += 1;
      state.running += 1;
      state.mostAtOnce = Math.max(state.mostAtOnce, state.running);
      return new Promise<boolean>((resolve) =>
        held.push({
          password,
          settle: () => {
            state.running -= 1;
            resolve(password === 's3cret pass');
          },
        }),
      );
    },
    async close() {},
    async settleNext() {
      const next = await eventually(() => held.shift() ?? Promise.reject(new Error('no comparison held')));
      next.settle();
    },
  };
}

describe('a flood of wrong basic-auth passwords', () => {
  it('is answered 503 beyond the pending checks without verifying, while the right credentials get 200 at once', async () => {
    const harness = testHarness();
    const verifier = heldVerifier();
    const port = await serve({ basic_auth: { username: 'prometheus', password_hash: passwordHash } }, harness, {
      basicAuth: { verifier, maxConcurrentChecks: 1, maxPendingChecks: 2 },
    });
    const good = fetchFrom(port, { headers: { authorization: GOOD } });
    await verifier.settleNext();
    expect((await good).status).toBe(200);

    // Ten distinct wrong passwords at once: one verifying, two waiting, seven turned away.
    const flood = send(10, (i) => fetchFrom(port, { headers: { authorization: basic('prometheus', `wrong ${i}`) } }));
    await eventually(() => expect(flood.replies).toHaveLength(7));
    for (const reply of flood.replies) expectRefused(reply, /^too many credentials waiting to be verified; retry shortly$/m);
    expect(verifier.state.calls).toBe(2);

    // The flood is still queued; the scraper's header is answered from its verdict.
    for (let i = 0; i < 3; i++) {
      const scrape = await fetchFrom(port, { headers: { authorization: GOOD } });
      expect(scrape.status).toBe(200);
      expect(scrape.body.toString()).toContain('test_requests_total');
    }
    expect(verifier.state.calls).toBe(2);

    for (let i = 0; i < 3; i++) await verifier.settleNext();
    await flood.all;
    expect(flood.replies.slice(7).map((reply) => reply.status)).toEqual([401, 401, 401]);
    expect(verifier.state.calls).toBe(1 + 3);
    expect(verifier.state.mostAtOnce).toBe(1);
    expect(total(harness, 'otel_agent.exporter.requests.refused', { reason: 'auth_busy' })).toBe(7);
    expect(total(harness, 'otel_agent.exporter.scrapes', { code: '401' })).toBe(3);
    expect(total(harness, 'otel_agent.exporter.scrapes', { code: '200' })).toBe(4);
    expect(harness.source.calls).toBe(4);
  });

  it('with real bcrypt: wrong passwords get 401 or 503, never 200, and the right ones still get 200', async () => {
    const harness = testHarness();
    const port = await serve({ basic_auth: { username: 'prometheus', password_hash: passwordHash } }, harness);
    expect((await fetchFrom(port, { headers: { authorization: GOOD } })).status).toBe(200);
    const flood = send(30, (i) => fetchFrom(port, { headers: { authorization: basic('prometheus', `wrong ${i}`) } }));
    const scrapes = send(5, () => fetchFrom(port, { headers: { authorization: GOOD } }));
    await Promise.all([flood.all, scrapes.all]);
    expect(scrapes.replies.map((reply) => reply.status)).toEqual([200, 200, 200, 200, 200]);
    for (const reply of flood.replies) {
      if (reply.status === 503) expectRefused(reply, /too many credentials waiting/);
      else expect(reply.status).toBe(401);
    }
    expect(JSON.stringify(harness.logger.entries)).not.toContain('wrong');
  });
});
