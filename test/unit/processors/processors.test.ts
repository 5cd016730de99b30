import { describe, expect, it } from 'vitest';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { MetricStore } from '../../../src/metrics/store.js';
import { attributesProcessorFactory } from '../../../src/processors/attributes/index.js';
import { filterProcessorFactory } from '../../../src/processors/filter/index.js';
import { resourceProcessorFactory } from '../../../src/processors/resource/index.js';
import { metricNames, points } from '../../support/metric-sink.js';
import { testSettings } from '../../support/settings.js';

// The implementations, loaded once as the agent would for a config that uses them.
const [attributes, filter, resource] = await Promise.all([attributesProcessorFactory.load(), filterProcessorFactory.load(), resourceProcessorFactory.load()]);

const settings = testSettings('p');

function input(): ResourceMetrics {
  const store = new MetricStore({ scope: 'r' });
  store.counter('jobs').add(1, { status: 'ok', job_id: '7' });
  store.gauge('queue.depth').set(3);
  return { resource: resourceFromAttributes({ 'host.name': 'h1', secret_tag: 'x' }), scopeMetrics: [store.collect()] };
}

function parse<T>(factory: { configSchema: { parse(v: unknown): T } }, raw: unknown): T {
  return factory.configSchema.parse(raw);
}

describe('attributes processor', () => {
  it('applies insert, update, upsert, delete and from_attribute in order, without touching its input', () => {
    const config = parse(attributesProcessorFactory, {
      actions: [
        { key: 'site', value: 'dc1', action: 'upsert' },
        { key: 'status', value: 'never', action: 'insert' },
        { key: 'missing', value: 'never', action: 'update' },
        { key: 'job', from_attribute: 'job_id', action: 'insert' },
        { key: 'job_id', action: 'delete' },
      ],
    });
    const processor = attributes.create(settings, config);
    const before = input();
    const after = processor.process(before);
    expect(points(after, 'jobs')[0].attributes).toEqual({ status: 'ok', site: 'dc1', job: '7' });
    expect(points(before, 'jobs')[0].attributes).toEqual({ status: 'ok', job_id: '7' });
  });

  it('limits itself to the metrics named by globs', () => {
    const config = parse(attributesProcessorFactory, { metrics: ['queue.*'], actions: [{ key: 'site', value: 'dc1', action: 'upsert' }] });
    const out = attributes.create(settings, config).process(input());
    expect(points(out, 'jobs')[0].attributes).not.toHaveProperty('site');
    expect(points(out, 'queue.depth')[0].attributes).toEqual({ site: 'dc1' });
  });

  it('returns the same attributes object for the same input series at each collection', () => {
    const config = parse(attributesProcessorFactory, { actions: [{ key: 'site', value: 'dc1', action: 'upsert' }] });
    const processor = attributes.create(settings, config);
    const store = new MetricStore({ scope: 'r' });
    store.counter('c').add(1, { a: 'b' });
    const first = processor.process({ resource: resourceFromAttributes({}), scopeMetrics: [store.collect()] });
    const second = processor.process({ resource: resourceFromAttributes({}), scopeMetrics: [store.collect()] });
    expect(points(second, 'c')[0].attributes).toBe(points(first, 'c')[0].attributes);
  });

  it('refuses an action without a value', () => {
    const result = attributesProcessorFactory.configSchema.safeParse({ actions: [{ key: 'a', action: 'upsert' }] });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0].message).toBe('action "upsert" needs "value" or "from_attribute"');
  });
});

describe('filter processor', () => {
  it('keeps included metrics, then drops excluded ones', () => {
    const keepAll = filter.create(settings, parse(filterProcessorFactory, { metrics: { include: ['*'], exclude: ['queue.*'] } }));
    expect(metricNames(keepAll.process(input()))).toEqual(['jobs']);
    const onlyQueue = filter.create(settings, parse(filterProcessorFactory, { metrics: { include: ['queue.depth'] } }));
    expect(metricNames(onlyQueue.process(input()))).toEqual(['queue.depth']);
  });

  it('refuses a filter with neither include nor exclude', () => {
    expect(filterProcessorFactory.configSchema.safeParse({ metrics: {} }).success).toBe(false);
  });
});

describe('resource processor', () => {
  it('rewrites resource attributes', () => {
    const config = parse(resourceProcessorFactory, {
      attributes: [
        { key: 'deployment.environment.name', value: 'prod', action: 'upsert' },
        { key: 'secret_tag', action: 'delete' },
      ],
    });
    const out = resource.create(settings, config).process(input());
    expect(out.resource.attributes).toEqual({ 'host.name': 'h1', 'deployment.environment.name': 'prod' });
  });
});
