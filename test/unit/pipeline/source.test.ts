import { describe, expect, it } from 'vitest';
import type { Processor, Receiver } from '../../../src/component/types.js';
import { MetricStore } from '../../../src/metrics/store.js';
import { resourceFromAttributes } from '../../../src/metrics/otel.js';
import { PipelineSource, type ReceiverNode } from '../../../src/pipeline/source.js';
import { silentLogger } from '../../../src/telemetry/logger.js';

function node(id: string, receiver: Receiver = { start: async () => {}, shutdown: async () => {} }): ReceiverNode {
  const meter = new MetricStore({ scope: id });
  meter.counter('events').add(1, { from: id });
  return { id, receiver, meter };
}

const resource = resourceFromAttributes({ 'host.name': 'h' });

describe('PipelineSource', () => {
  it('gives each pipeline its own receivers, after its own processors', async () => {
    const a = node('a');
    const b = node('b');
    const tag: Processor = {
      process: (m) => ({ ...m, scopeMetrics: m.scopeMetrics.map((s) => ({ ...s, scope: { name: `${s.scope.name}+tagged` } })) }),
    };
    const source = new PipelineSource({
      pipelines: [
        { name: 'metrics/one', receivers: [a, b], processors: [] },
        { name: 'metrics/two', receivers: [b], processors: [{ id: 'tag', processor: tag }] },
      ],
      resource,
      logger: silentLogger(),
    });
    const [one, two] = await source.collect({ timeoutMs: 1000 });
    expect(one.scopeMetrics.map((s) => s.scope.name)).toEqual(['a', 'b']);
    expect(two.scopeMetrics.map((s) => s.scope.name)).toEqual(['b+tagged']);
    expect(one.resource.attributes).toEqual({ 'host.name': 'h' });
  });

  it('shares one collection between concurrent callers, and refreshes a receiver once however many pipelines name it', async () => {
    let refreshes = 0;
    const shared = node('shared', {
      start: async () => {},
      shutdown: async () => {},
      collect: async () => {
        refreshes++;
        await new Promise((resolve) => setTimeout(resolve, 20));
      },
    });
    const source = new PipelineSource({
      pipelines: [
        { name: 'metrics/one', receivers: [shared], processors: [] },
        { name: 'metrics/two', receivers: [shared], processors: [] },
      ],
      resource,
      logger: silentLogger(),
    });
    const [first, second] = await Promise.all([source.collect({ timeoutMs: 1000 }), source.collect({ timeoutMs: 1000 })]);
    expect(first).toBe(second);
    expect(refreshes).toBe(1);
    await source.collect({ timeoutMs: 1000 });
    expect(refreshes).toBe(2);
  });

  it('never hangs on a receiver whose refresh never ends: its held metrics are served at the deadline', async () => {
    const errors: string[] = [];
    let aborted = false;
    const hung = node('hung', {
      start: async () => {},
      shutdown: async () => {},
      collect: (signal) =>
        new Promise(() => {
          signal.addEventListener('abort', () => (aborted = true));
        }),
    });
    const source = new PipelineSource({
      pipelines: [{ name: 'metrics', receivers: [hung, node('fine')], processors: [] }],
      resource,
      logger: silentLogger(),
      onError: (component, reason) => errors.push(`${component}: ${reason}`),
    });
    const [result] = await source.collect({ timeoutMs: 50 });
    expect(result.scopeMetrics.map((s) => s.scope.name)).toEqual(['hung', 'fine']);
    expect(result.scopeMetrics[0].metrics[0].dataPoints[0].value).toBe(1);
    expect(aborted).toBe(true);
    expect(errors).toEqual(['hung: refresh missed the 50ms collection deadline']);
  });

  it('aborts the receivers\' refreshes when the caller\'s signal aborts, and serves what they hold', async () => {
    const errors: string[] = [];
    let reason: unknown;
    const hung = node('hung', {
      start: async () => {},
      shutdown: async () => {},
      collect: (signal) => new Promise(() => signal.addEventListener('abort', () => (reason = signal.reason))),
    });
    const source = new PipelineSource({
      pipelines: [{ name: 'metrics', receivers: [hung], processors: [] }],
      resource,
      logger: silentLogger(),
      onError: (component, why) => errors.push(`${component}: ${why}`),
    });
    const deadline = new AbortController();
    const collecting = source.collect({ signal: deadline.signal });
    deadline.abort(new Error('collection_timeout of 50ms passed'));
    const [result] = await collecting;
    expect(result.scopeMetrics[0].metrics[0].dataPoints[0].value).toBe(1);
    expect((reason as Error).message).toBe('collection_timeout of 50ms passed');
    expect(errors).toEqual(['hung: refresh missed the collection deadline (collection_timeout of 50ms passed)']);
  });

  it('drops only the pipeline whose processor throws, and appends the agent\'s own metrics', async () => {
    const errors: string[] = [];
    const broken: Processor = {
      process: () => {
        throw new Error('boom');
      },
    };
    const self = new MetricStore({ scope: 'otel-agent' });
    self.gauge('otel_agent.up').set(1);
    const source = new PipelineSource({
      pipelines: [
        { name: 'metrics/broken', receivers: [node('a')], processors: [{ id: 'broken', processor: broken }] },
        { name: 'metrics/fine', receivers: [node('b')], processors: [] },
      ],
      resource,
      self: () => self.collect(),
      logger: silentLogger(),
      onError: (component, reason) => errors.push(`${component}: ${reason}`),
    });
    const result = await source.collect({ timeoutMs: 1000 });
    expect(result.map((r) => r.scopeMetrics[0].scope.name)).toEqual(['b', 'otel-agent']);
    expect(errors).toEqual(['metrics/broken: processor failed: boom']);
  });

  it('gives the agent\'s own metrics the resource the pipeline\'s processors made, not the one they replaced', async () => {
    const site = resourceFromAttributes({ 'host.name': 'h', site: 'dc1' });
    const setSite: Processor = { process: (m) => ({ ...m, resource: site }) };
    const self = new MetricStore({ scope: 'otel-agent' });
    self.gauge('otel_agent.up').set(1);
    const pipelines = [{ name: 'metrics', receivers: [node('a')], processors: [{ id: 'resource/site', processor: setSite }] }];
    const source = new PipelineSource({ pipelines, resource, self: () => self.collect(), logger: silentLogger() });
    const result = await source.collect({ timeoutMs: 1000 });
    expect(result.map((r) => [r.scopeMetrics[0].scope.name, r.resource])).toEqual([
      ['a', site],
      ['otel-agent', site],
    ]);
  });

  it('gives the agent\'s own metrics the configured resource when no pipeline has output', async () => {
    const broken: Processor = {
      process: () => {
        throw new Error('boom');
      },
    };
    const self = new MetricStore({ scope: 'otel-agent' });
    self.gauge('otel_agent.up').set(1);
    const pipelines = [{ name: 'metrics', receivers: [node('a')], processors: [{ id: 'broken', processor: broken }] }];
    const source = new PipelineSource({ pipelines, resource, self: () => self.collect(), logger: silentLogger() });
    const result = await source.collect({ timeoutMs: 1000 });
    expect(result.map((r) => r.resource)).toEqual([resource]);
  });
});
