import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { ExporterFactory, Factory, MetricSource, ReceiverFactory } from '../../../src/component/types.js';
import { loadConfigText, type FactoryLookup } from '../../../src/config/load.js';
import { Service } from '../../../src/pipeline/service.js';
import { fakeFactory } from '../../support/fake-factory.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { SelfTelemetry } from '../../../src/telemetry/self.js';

/** What the fake components did, in order. */
let events: string[] = [];
const sources = new Map<string, MetricSource>();

const fakeReceiver = fakeFactory<ReceiverFactory<{ value: number; fail_start: boolean; fail_shutdown: boolean }>>({
  type: 'fake',
  kind: 'receiver',
  stability: 'development',
  description: 'records fixed metrics',
  configSchema: z.strictObject({ value: z.number().default(1), fail_start: z.boolean().default(false), fail_shutdown: z.boolean().default(false) }),
  create(settings, config) {
    events.push(`create ${settings.id}`);
    return {
      async start() {
        events.push(`start ${settings.id}`);
        if (config.fail_start) throw new Error('cannot reach the thing');
        settings.meter.counter('jobs').add(config.value, { status: 'ok', job_id: settings.id });
        settings.meter.gauge('noise').set(1);
        settings.meter.histogram('duration', { unit: 's', buckets: [10] }).record(3);
      },
      async shutdown() {
        events.push(`shutdown ${settings.id}`);
        if (config.fail_shutdown) throw new Error('the thing hung up');
      },
    };
  },
});

const captureExporter = fakeFactory<ExporterFactory<{ fail_create: boolean; fail_start: boolean }>>({
  type: 'capture',
  kind: 'exporter',
  stability: 'development',
  description: 'keeps its source for the test',
  configSchema: z.strictObject({ fail_create: z.boolean().default(false), fail_start: z.boolean().default(false) }),
  create(settings, config) {
    if (config.fail_create) throw new Error('no such thing');
    sources.set(settings.id, settings.source);
    return {
      async start() {
        events.push(`start ${settings.id}`);
        if (config.fail_start) throw new Error('port in use');
      },
      async shutdown() {
        events.push(`shutdown ${settings.id}`);
      },
    };
  },
});

const factories: FactoryLookup = {
  receivers: new Map([['fake', fakeReceiver]]),
  processors: new Map(),
  exporters: new Map([['capture', captureExporter]]),
};

function service(yaml: string): Promise<Service> {
  events = [];
  sources.clear();
  const config = loadConfigText(yaml, 'test.yaml', factories, {});
  return Service.create({ config, factories, logger: silentLogger(), telemetry: new SelfTelemetry() });
}

async function metricNames(exporter: string): Promise<string[][]> {
  const collected = await sources.get(exporter)!.collect({ timeoutMs: 1000 });
  return collected.map((rm) => rm.scopeMetrics.flatMap((s) => s.metrics.map((m) => `${s.scope.name}:${m.descriptor.name}`)));
}

const TWO_PIPELINES = `
receivers:
  fake/a: { value: 2 }
  fake/b: { value: 5 }
exporters:
  capture/one: {}
  capture/two: {}
views:
  - instrument: jobs
    name: renamed_jobs
    attributes: { deny: [job_id] }
  - instrument: noise
    drop: true
  - instrument: duration
    receiver: fake/b
    buckets: [1, 2, 4]
service:
  telemetry:
    metrics: { enabled: false }
  pipelines:
    metrics/one:
      receivers: [fake/a, fake/b]
      exporters: [capture/one]
    metrics/two:
      receivers: [fake/b]
      exporters: [capture/one, capture/two]
`;

describe('Service', () => {
  it('creates a shared receiver once, starts exporters before receivers and stops receivers first', async () => {
    const svc = await service(TWO_PIPELINES);
    expect(events.filter((e) => e.startsWith('create'))).toEqual(['create fake/a', 'create fake/b']);
    expect(svc.ready()).toBe(false);
    await svc.start();
    expect(svc.ready()).toBe(true);
    expect(events.slice(2)).toEqual(['start capture/one', 'start capture/two', 'start fake/a', 'start fake/b']);
    expect(svc.components().map((c) => `${c.kind}:${c.id}:${c.status}`).sort()).toEqual([
      'exporter:capture/one:ok', 'exporter:capture/two:ok', 'receiver:fake/a:ok', 'receiver:fake/b:ok',
    ]);
    events = [];
    await svc.shutdown();
    await svc.shutdown();
    expect(events).toEqual(['shutdown fake/b', 'shutdown fake/a', 'shutdown capture/two', 'shutdown capture/one']);
    expect(svc.ready()).toBe(false);
  });

  it('gives an exporter every pipeline that names it, with views applied to every receiver', async () => {
    const svc = await service(TWO_PIPELINES);
    await svc.start();
    expect(await metricNames('capture/one')).toEqual([
      ['fake/a:renamed_jobs', 'fake/a:duration', 'fake/b:renamed_jobs', 'fake/b:duration'],
      ['fake/b:renamed_jobs', 'fake/b:duration'],
    ]);
    expect(await metricNames('capture/two')).toEqual([['fake/b:renamed_jobs', 'fake/b:duration']]);
    const [one] = await sources.get('capture/one')!.collect({ timeoutMs: 1000 });
    const [aJobs, aDuration, bJobs, bDuration] = one.scopeMetrics.flatMap((s) => s.metrics);
    expect(aJobs.dataPoints.map((p) => [p.attributes, p.value])).toEqual([[{ status: 'ok' }, 2]]);
    expect(bJobs.dataPoints.map((p) => p.value)).toEqual([5]);
    expect((aDuration.dataPoints[0].value as { buckets: { boundaries: number[] } }).buckets.boundaries).toEqual([10]);
    expect((bDuration.dataPoints[0].value as { buckets: { boundaries: number[] } }).buckets.boundaries).toEqual([1, 2, 4]);
    await svc.shutdown();
  });

  it('adds the agent\'s own metrics unless disabled', async () => {
    const svc = await service(TWO_PIPELINES.replace('enabled: false', 'enabled: true'));
    await svc.start();
    const names = (await metricNames('capture/two')).at(-1)!;
    expect(names).toEqual(expect.arrayContaining(['otel-agent:otel_agent.build.info', 'otel-agent:otel_agent.component.status', 'otel-agent:otel_agent.metric.series']));
    await svc.shutdown();
  });

  it('applies the views of the agent\'s own metrics to them, and those of receivers\' metrics to the receivers only', async () => {
    const withOwnViews = TWO_PIPELINES.replace('enabled: false', 'enabled: true').replace(
      'views:\n',
      `views:
  - { instrument: otel_agent.health.status, name: site.health.status, description: The site's health }
  - { instrument: "otel_agent.process.*", drop: true }
  - { instrument: "*", drop: true, receiver: fake/nothing }
`,
    );
    const svc = await service(withOwnViews);
    await svc.start();
    const collected = await sources.get('capture/one')!.collect({ timeoutMs: 1000 });
    const own = collected.flatMap((rm) => rm.scopeMetrics).filter((scope) => scope.scope.name === 'otel-agent').flatMap((scope) => scope.metrics);
    const names = own.map((m) => m.descriptor.name);
    expect(names).toContain('site.health.status');
    expect(names).not.toContain('otel_agent.health.status');
    expect(names.filter((name) => name.startsWith('otel_agent.process.'))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(['otel_agent.build.info', 'otel_agent.component.status']));
    const health = own.find((m) => m.descriptor.name === 'site.health.status')!;
    expect(health.descriptor.description).toBe("The site's health");
    expect(health.dataPoints.map((p) => p.value)).toEqual([1]);
    // The receivers' metrics are as the other views make them.
    expect((await metricNames('capture/two'))[0]).toEqual(['fake/b:renamed_jobs', 'fake/b:duration']);
    await svc.shutdown();
  });

  it('rolls back what started when a component fails to start, naming it', async () => {
    const svc = await service(TWO_PIPELINES.replace('fake/b: { value: 5 }', 'fake/b: { value: 5, fail_start: true }'));
    await expect(svc.start()).rejects.toThrow('failed to start receiver "fake/b": cannot reach the thing');
    // Upstream first, fake/b too: what failed to start may still hold what it set up.
    expect(events.slice(-5)).toEqual(['start fake/b', 'shutdown fake/b', 'shutdown fake/a', 'shutdown capture/two', 'shutdown capture/one']);
    expect(svc.components().find((c) => c.id === 'fake/b')).toMatchObject({ status: 'failed', reason: 'cannot reach the thing' });
    expect(svc.components().find((c) => c.id === 'fake/a')?.status).toBe('stopped');
  });

  it('shuts down the receivers that were created but never started when an exporter fails to start', async () => {
    const svc = await service(TWO_PIPELINES.replace('capture/two: {}', 'capture/two: { fail_start: true }'));
    await expect(svc.start()).rejects.toThrow('failed to start exporter "capture/two": port in use');
    expect(events.slice(2)).toEqual([
      'start capture/one', 'start capture/two', 'shutdown fake/b', 'shutdown fake/a', 'shutdown capture/two', 'shutdown capture/one',
    ]);
    expect(svc.components().map((c) => `${c.kind}:${c.id}:${c.status}`).sort()).toEqual([
      'exporter:capture/one:stopped', 'exporter:capture/two:failed', 'receiver:fake/a:stopped', 'receiver:fake/b:stopped',
    ]);
    expect(svc.ready()).toBe(false);
  });

  it('reports the errors of the rollback with the start error', async () => {
    const svc = await service(
      TWO_PIPELINES.replace('fake/a: { value: 2 }', 'fake/a: { value: 2, fail_shutdown: true }').replace('capture/two: {}', 'capture/two: { fail_start: true }'),
    );
    const error = await svc.start().then(
      () => undefined,
      (rejection: unknown) => rejection as Error,
    );
    expect(error?.message).toBe('failed to start exporter "capture/two": port in use; then failed to shut down receiver "fake/a": the thing hung up');
    const cause = error?.cause as AggregateError;
    expect(cause).toBeInstanceOf(AggregateError);
    expect(cause.errors.map((e: Error) => e.message)).toEqual(['port in use', 'failed to shut down receiver "fake/a": the thing hung up']);
    // The rollback went on past the failure.
    expect(events.slice(-4)).toEqual(['shutdown fake/b', 'shutdown fake/a', 'shutdown capture/two', 'shutdown capture/one']);
  });

  it('shuts down every component created when a service is shut down before it started', async () => {
    const svc = await service(TWO_PIPELINES);
    await svc.shutdown();
    expect(events.slice(2)).toEqual(['shutdown fake/b', 'shutdown fake/a', 'shutdown capture/two', 'shutdown capture/one']);
    await expect(svc.start()).rejects.toThrow('cannot start a service that is stopped');
  });

  it('loads only the types its pipelines use, and creates nothing when one cannot be loaded', async () => {
    const loads: string[] = [];
    const counting = <F extends Factory>(factory: F, type = factory.type, fail = false): F =>
      ({
        ...factory,
        type,
        load: () => {
          loads.push(type);
          return fail ? Promise.reject(new Error(`Cannot find module '${type}.js'`)) : factory.load();
        },
      }) as F;
    const lookup = (fail: boolean): FactoryLookup => ({
      receivers: new Map([['fake', counting(fakeReceiver, 'fake', fail)]]),
      processors: new Map(),
      exporters: new Map([
        ['capture', counting(captureExporter)],
        ['unused', counting(captureExporter, 'unused')],
      ]),
    });
    const text = TWO_PIPELINES.replace('exporters:\n', 'exporters:\n  unused: {}\n');
    events = [];
    const ok = await Service.create({ config: loadConfigText(text, 'test.yaml', lookup(false), {}), factories: lookup(false), logger: silentLogger(), telemetry: new SelfTelemetry() });
    // One load per type, however many components of it; none for a type no pipeline names.
    expect(loads.sort()).toEqual(['capture', 'fake']);
    await ok.shutdown();

    events = [];
    const failing = lookup(true);
    await expect(
      Service.create({ config: loadConfigText(text, 'test.yaml', failing, {}), factories: failing, logger: silentLogger(), telemetry: new SelfTelemetry() }),
    ).rejects.toMatchObject({ code: 'AGT_ERR_COMPONENT_LOAD', message: `failed to load receiver "fake/a" (type fake): Cannot find module 'fake.js'` });
    expect(events).toEqual([]);
  });

  it('shuts down what it created when a later component cannot be created', async () => {
    await expect(service(TWO_PIPELINES.replace('capture/two: {}', 'capture/two: { fail_create: true }'))).rejects.toThrow(
      'failed to create exporter "capture/two": no such thing',
    );
    await vi.waitFor(() => expect(events).toEqual(['create fake/a', 'create fake/b', 'shutdown fake/b', 'shutdown fake/a', 'shutdown capture/one']));
  });
});
