import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ExporterFactory, ReceiverFactory } from '../../../src/component/types.js';
import { loadConfigText, type FactoryLookup } from '../../../src/config/load.js';
import { exporterIdentity, graphOf, identityOf, planReload, receiverIdentity, EMPTY_GRAPH } from '../../../src/pipeline/graph.js';
import { fakeFactory } from '../../support/fake-factory.js';

const receiver = fakeFactory<ReceiverFactory<{ value: number; pattern?: RegExp }>>({
  type: 'fake',
  kind: 'receiver',
  stability: 'development',
  description: 'nothing',
  configSchema: z.strictObject({ value: z.number().default(1), pattern: z.string().transform((text) => new RegExp(text)).optional() }),
  create: () => ({ start: async () => undefined, shutdown: async () => undefined }),
});
const exporter = fakeFactory<ExporterFactory<{ port: number }>>({
  type: 'capture',
  kind: 'exporter',
  stability: 'development',
  description: 'nothing',
  configSchema: z.strictObject({ port: z.number().default(1) }),
  create: () => ({ start: async () => undefined, shutdown: async () => undefined }),
});
const factories: FactoryLookup = { receivers: new Map([['fake', receiver]]), processors: new Map(), exporters: new Map([['capture', exporter]]) };

function config(options: { a?: string; b?: string | null; c?: string; exporter?: string; views?: string; limit?: number; stateDir?: string } = {}) {
  const b = options.b === undefined ? '{ value: 2 }' : options.b;
  return loadConfigText(
    `receivers:
  fake/a: ${options.a ?? '{ value: 1 }'}
${b === null ? '' : `  fake/b: ${b}\n`}${options.c ? `  fake/c: ${options.c}\n` : ''}exporters:
  capture: ${options.exporter ?? '{}'}
${options.views ? `views:\n${options.views}\n` : ''}service:
  state_directory: ${options.stateDir ?? '/var/lib/a'}
  telemetry:
    metrics: { series_limit: ${options.limit ?? 100} }
  pipelines:
    metrics:
      receivers: [fake/a${b === null ? '' : ', fake/b'}${options.c ? ', fake/c' : ''}]
      exporters: [capture]
`,
    'test.yaml',
    factories,
    {},
  );
}

describe('identityOf', () => {
  it('ignores the order of keys and tells compiled patterns, maps and sets apart by content', () => {
    expect(identityOf({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(identityOf({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(identityOf({ re: /a+/ })).not.toBe(identityOf({ re: /b+/ }));
    expect(identityOf({ re: /a+/ })).not.toBe(identityOf({ re: /a+/i }));
    expect(identityOf(new Map([['x', 1]]))).not.toBe(identityOf(new Map([['x', 2]])));
    expect(identityOf(new Set([1, 2]))).toBe(identityOf(new Set([2, 1])));
    expect(identityOf({ a: undefined })).not.toBe(identityOf({}));
  });
});

describe('planReload', () => {
  it('sorts every component into unchanged, replaced, added and removed', () => {
    const before = graphOf(config());
    const after = graphOf(config({ a: '{ value: 1 }', b: null, c: '{ value: 3 }', exporter: '{ port: 2 }' }));
    expect(planReload(before, after)).toEqual({
      receivers: { unchanged: ['fake/a'], replaced: [], added: ['fake/c'], removed: ['fake/b'] },
      exporters: { unchanged: [], replaced: ['capture'], added: [], removed: [] },
    });
  });

  it('leaves everything unchanged for the same config, and adds everything from nothing', () => {
    expect(planReload(graphOf(config()), graphOf(config()))).toEqual({
      receivers: { unchanged: ['fake/a', 'fake/b'], replaced: [], added: [], removed: [] },
      exporters: { unchanged: ['capture'], replaced: [], added: [], removed: [] },
    });
    expect(planReload(EMPTY_GRAPH, graphOf(config())).receivers.added).toEqual(['fake/a', 'fake/b']);
  });

  it('replaces a receiver whose compiled pattern changed', () => {
    const plan = planReload(graphOf(config({ a: '{ pattern: "x+" }' })), graphOf(config({ a: '{ pattern: "y+" }' })));
    expect(plan.receivers.replaced).toEqual(['fake/a']);
  });
});

describe('receiver identity', () => {
  it('changes with a view that applies to the receiver, and not with one that applies to another', () => {
    const plain = config();
    const forB = config({ views: '  - { instrument: jobs, receiver: fake/b, drop: true }' });
    const forAll = config({ views: '  - { instrument: jobs, drop: true }' });
    const forGlob = config({ views: '  - { instrument: jobs, receiver: "fake/*", drop: true }' });
    expect(receiverIdentity(forB, 'fake/a')).toBe(receiverIdentity(plain, 'fake/a'));
    expect(receiverIdentity(forB, 'fake/b')).not.toBe(receiverIdentity(plain, 'fake/b'));
    expect(receiverIdentity(forAll, 'fake/a')).not.toBe(receiverIdentity(plain, 'fake/a'));
    expect(receiverIdentity(forGlob, 'fake/a')).not.toBe(receiverIdentity(plain, 'fake/a'));
    // A view of the agent's own metrics is no receiver's: changing it replaces none.
    const forOwn = config({ views: '  - { instrument: otel_agent.health.status, name: site.health }' });
    expect(receiverIdentity(forOwn, 'fake/a')).toBe(receiverIdentity(plain, 'fake/a'));
  });

  it('changes with the series limit and the state directory; an exporter\'s only with the state directory and its own config', () => {
    const plain = config();
    expect(receiverIdentity(config({ limit: 5 }), 'fake/a')).not.toBe(receiverIdentity(plain, 'fake/a'));
    expect(receiverIdentity(config({ stateDir: '/var/lib/b' }), 'fake/a')).not.toBe(receiverIdentity(plain, 'fake/a'));
    expect(exporterIdentity(config({ limit: 5, b: null, views: '  - { instrument: jobs, drop: true }' }), 'capture')).toBe(exporterIdentity(plain, 'capture'));
    expect(exporterIdentity(config({ stateDir: '/var/lib/b' }), 'capture')).not.toBe(exporterIdentity(plain, 'capture'));
  });
});
