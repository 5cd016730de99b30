import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ExporterFactory, MetricSource, ProcessorFactory, ReceiverFactory } from '../../../src/component/types.js';
import { loadConfigText, type FactoryLookup } from '../../../src/config/load.js';
import { Service } from '../../../src/pipeline/service.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { SelfTelemetry } from '../../../src/telemetry/self.js';
import { fakeFactory } from '../../support/fake-factory.js';

/** What the fake components did, in order. */
let events: string[] = [];
/** `id=value` of receivers whose start fails whatever their config says: an old config that no longer starts. */
const broken = new Set<string>();
/** The source each exporter instance was created with, in creation order. */
const sources: { id: string; source: MetricSource }[] = [];

const fakeReceiver = fakeFactory<ReceiverFactory<{ value: number; fail_start: boolean; fail_create: boolean }>>({
  type: 'fake',
  kind: 'receiver',
  stability: 'development',
  description: 'counts its starts on its meter',
  configSchema: z.strictObject({ value: z.number().default(1), fail_start: z.boolean().default(false), fail_create: z.boolean().default(false) }),
  create(settings, config) {
    if (config.fail_create) throw new Error('no such thing');
    events.push(`create ${settings.id}`);
    const starts = settings.meter.counter('starts');
    return {
      async start() {
        events.push(`start ${settings.id}`);
        if (config.fail_start || broken.has(`${settings.id}=${config.value}`)) throw new Error('cannot reach the thing');
        // On the meter: a meter kept across a reload counts on, a new one starts from 1.
        starts.add(1);
        settings.meter.gauge('value').set(config.value);
      },
      async shutdown() {
        events.push(`shutdown ${settings.id}`);
      },
    };
  },
});

const captureExporter = fakeFactory<ExporterFactory<{ port: number; fail_start: boolean }>>({
  type: 'capture',
  kind: 'exporter',
  stability: 'development',
  description: 'keeps its source for the test',
  configSchema: z.strictObject({ port: z.number().default(1), fail_start: z.boolean().default(false) }),
  create(settings, config) {
    events.push(`create ${settings.id}`);
    sources.push({ id: settings.id, source: settings.source });
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

const tagProcessor = fakeFactory<ProcessorFactory<{ tag: string }>>({
  type: 'tag',
  kind: 'processor',
  stability: 'development',
  description: 'sets a resource attribute',
  configSchema: z.strictObject({ tag: z.string() }),
  create(settings, config) {
    events.push(`create ${settings.id}`);
    return {
      process: (metrics) => ({ ...metrics, resource: { ...metrics.resource, attributes: { ...metrics.resource.attributes, tag: config.tag } } as never }),
    };
  },
});

/** A type whose implementation cannot be imported. */
const brokenReceiver: ReceiverFactory = {
  type: 'broken',
  kind: 'receiver',
  stability: 'development',
  description: 'its module is missing',
  configSchema: z.strictObject({}),
  load: () => Promise.reject(new Error("Cannot find module 'broken.js'")),
};

const factories: FactoryLookup = {
  receivers: new Map([
    ['fake', fakeReceiver],
    ['broken', brokenReceiver],
  ]),
  processors: new Map([['tag', tagProcessor]]),
  exporters: new Map([['capture', captureExporter]]),
};

function yaml(options: { a?: string; b?: string | null; c?: string; exporter?: string; second?: string; tag?: string } = {}): string {
  const receivers = ['fake/a', ...(options.b === null ? [] : ['fake/b']), ...(options.c ? ['fake/c'] : [])];
  return `receivers:
  fake/a: ${options.a ?? '{ value: 1 }'}
${options.b === null ? '' : `  fake/b: ${options.b ?? '{ value: 2 }'}\n`}${options.c ? `  fake/c: ${options.c}\n` : ''}processors:
  tag: { tag: ${options.tag ?? 'one'} }
exporters:
  capture: ${options.exporter ?? '{}'}
${options.second ? `  capture/second: ${options.second}\n` : ''}service:
  telemetry:
    metrics: { enabled: false }
  pipelines:
    metrics:
      receivers: [${receivers.join(', ')}]
      processors: [tag]
      exporters: [capture${options.second ? ', capture/second' : ''}]
`;
}

const load = (text: string) => loadConfigText(text, 'test.yaml', factories, {});

async function started(text: string): Promise<Service> {
  events = [];
  sources.length = 0;
  const service = await Service.create({ config: load(text), factories, logger: silentLogger(), telemetry: new SelfTelemetry() });
  await service.start();
  events = [];
  return service;
}

/** Per receiver, its `starts` counter and `value` gauge as the exporter's source serves them; and the resource's tag. */
async function view(source: MetricSource) {
  const [metrics] = await source.collect({ timeoutMs: 1000 });
  const receivers = Object.fromEntries(
    metrics.scopeMetrics.map((scope) => [
      scope.scope.name,
      Object.fromEntries(scope.metrics.map((metric) => [metric.descriptor.name, metric.dataPoints[0]?.value])),
    ]),
  );
  return { receivers, tag: metrics.resource.attributes.tag };
}

function statuses(service: Service): string[] {
  return service.components().map((c) => `${c.kind}:${c.id}:${c.status}`).sort();
}

describe('Service.reload', () => {
  it('keeps unchanged components running, replaces changed ones old first, stops removed ones and starts new ones', async () => {
    const service = await started(yaml());
    const source = sources[0].source;
    const plan = await service.reload(load(yaml({ b: '{ value: 20 }', c: '{ value: 3 }', tag: 'two' })));
    expect(plan.receivers).toEqual({ unchanged: ['fake/a'], replaced: ['fake/b'], added: ['fake/c'], removed: [] });
    expect(plan.exporters.unchanged).toEqual(['capture']);
    // Nothing of fake/a or of the exporter was touched; the processor was made anew.
    expect(events).toEqual(['create fake/b', 'create fake/c', 'create tag', 'shutdown fake/b', 'start fake/b', 'start fake/c']);
    // The exporter kept its source, which now serves the new pipelines.
    expect(sources).toHaveLength(1);
    expect(await view(source)).toEqual({
      receivers: { 'fake/a': { starts: 1, value: 1 }, 'fake/b': { starts: 1, value: 20 }, 'fake/c': { starts: 1, value: 3 } },
      tag: 'two',
    });
    expect(statuses(service)).toEqual([
      'exporter:capture:ok', 'processor:tag:ok', 'receiver:fake/a:ok', 'receiver:fake/b:ok', 'receiver:fake/c:ok',
    ]);

    events = [];
    await service.reload(load(yaml({ b: null, tag: 'two' })));
    expect(events).toEqual(['create tag', 'shutdown fake/c', 'shutdown fake/b']);
    expect(Object.keys((await view(source)).receivers)).toEqual(['fake/a']);
    // What was removed no longer shows in /health.
    expect(statuses(service)).toEqual(['exporter:capture:ok', 'processor:tag:ok', 'receiver:fake/a:ok']);
    await service.shutdown();
  });

  it('touches nothing, and creates nothing, when a type the new config uses cannot be loaded', async () => {
    const service = await started(yaml());
    const text = yaml({ b: '{ value: 20 }' })
      .replace('processors:\n', '  broken/x: {}\nprocessors:\n')
      .replace('receivers: [fake/a, fake/b]', 'receivers: [fake/a, fake/b, broken/x]');
    await expect(service.reload(load(text))).rejects.toMatchObject({
      code: 'AGT_ERR_COMPONENT_LOAD',
      message: `failed to load receiver "broken/x" (type broken): Cannot find module 'broken.js'`,
    });
    expect(events).toEqual([]);
    expect(await view(sources[0].source)).toEqual({
      receivers: { 'fake/a': { starts: 1, value: 1 }, 'fake/b': { starts: 1, value: 2 } },
      tag: 'one',
    });
    expect(service.ready()).toBe(true);
    await service.shutdown();
  });

  it('touches nothing when a new component cannot be created', async () => {
    const service = await started(yaml());
    await expect(service.reload(load(yaml({ b: '{ value: 20 }', c: '{ fail_create: true }' })))).rejects.toThrow(
      'failed to create receiver "fake/c": no such thing',
    );
    // The replacement for fake/b was created, then let go of; the running fake/b never stopped.
    expect(events).toEqual(['create fake/b', 'shutdown fake/b']);
    expect(await view(sources[0].source)).toEqual({
      receivers: { 'fake/a': { starts: 1, value: 1 }, 'fake/b': { starts: 1, value: 2 } },
      tag: 'one',
    });
    expect(statuses(service)).toEqual(['exporter:capture:ok', 'processor:tag:ok', 'receiver:fake/a:ok', 'receiver:fake/b:ok']);
    expect(service.ready()).toBe(true);
    await service.shutdown();
  });

  it('rolls a failed start back: the new components go, the replaced ones return on their old meters, the unchanged never stop', async () => {
    const service = await started(yaml());
    const source = sources[0].source;
    await expect(service.reload(load(yaml({ b: '{ value: 20 }', c: '{ fail_start: true }', tag: 'two' })))).rejects.toThrow(
      'failed to start receiver "fake/c": cannot reach the thing',
    );
    expect(events).toEqual([
      'create fake/b', 'create fake/c', 'create tag',
      'shutdown fake/b', 'start fake/b', 'start fake/c',
      // Upstream first: what failed to start may still hold what it set up.
      'shutdown fake/c', 'shutdown fake/b',
      'create fake/b', 'start fake/b',
    ]);
    // fake/a ran throughout; fake/b is a new instance of its old config on its old meter: its count went on.
    expect(await view(source)).toEqual({
      receivers: { 'fake/a': { starts: 1, value: 1 }, 'fake/b': { starts: 2, value: 2 } },
      tag: 'one',
    });
    expect(statuses(service)).toEqual(['exporter:capture:ok', 'processor:tag:ok', 'receiver:fake/a:ok', 'receiver:fake/b:ok']);

    // A later good reload works from what runs.
    events = [];
    const plan = await service.reload(load(yaml({ b: '{ value: 20 }' })));
    expect(plan.receivers.replaced).toEqual(['fake/b']);
    expect((await view(source)).receivers['fake/b']).toEqual({ starts: 1, value: 20 });
    await service.shutdown();
  });

  it('brings a replaced exporter back on its old source when a new exporter cannot start', async () => {
    const service = await started(yaml());
    const [{ source }] = sources;
    await expect(service.reload(load(yaml({ exporter: '{ port: 2 }', second: '{ fail_start: true }' })))).rejects.toThrow(
      'failed to start exporter "capture/second": port in use',
    );
    expect(events).toEqual([
      'create tag', 'create capture', 'create capture/second',
      // The old exporter goes first: its successor needs its port.
      'shutdown capture', 'start capture', 'start capture/second',
      'shutdown capture/second', 'shutdown capture',
      'create capture', 'start capture',
    ]);
    const restored = sources.at(-1)!;
    expect(restored.id).toBe('capture');
    expect(restored.source).toBe(source);
    expect((await view(source)).receivers['fake/a']).toEqual({ starts: 1, value: 1 });
    expect(statuses(service)).toEqual(['exporter:capture:ok', 'processor:tag:ok', 'receiver:fake/a:ok', 'receiver:fake/b:ok']);
    await service.shutdown();
  });

  it('says when a replaced component could not be brought back, and keeps the rest running', async () => {
    const service = await started(yaml());
    // fake/b's old config no longer starts either (a file it needs went away, say).
    broken.add('fake/b=2');
    try {
      const error = await service.reload(load(yaml({ b: '{ value: 20 }', c: '{ fail_start: true }' }))).then(
        () => undefined,
        (rejection: unknown) => rejection as Error & { code: string },
      );
      expect(error?.code).toBe('AGT_ERR_RELOAD_RESTORE');
      expect(error?.message).toBe(
        'failed to start receiver "fake/c": cannot reach the thing; then the previous receiver "fake/b" did not start again: cannot reach the thing',
      );
    } finally {
      broken.clear();
    }
    expect(statuses(service)).toEqual(['exporter:capture:ok', 'processor:tag:ok', 'receiver:fake/a:ok', 'receiver:fake/b:failed']);
    expect((await view(sources[0].source)).receivers['fake/a']).toEqual({ starts: 1, value: 1 });
    // What failed is still shut down with the rest.
    events = [];
    await service.shutdown();
    expect(events).toEqual(['shutdown fake/b', 'shutdown fake/a', 'shutdown capture']);
  });
});
