// The contract every component keeps (src/component/types.ts), run on the example.yaml kept
// beside it (src/<kind>s/<type>/example.yaml), made runnable here by
// test/support/component-examples.ts. A receiver or exporter shuts down safely without start
// and twice, and a new instance on the same state starts after the first one stopped; a
// processor's process() is a pure function of its input. A new component is covered by
// adding its folder with its example; a registered factory without one fails here.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';
import type { Component, ExporterFactory, Factory, Kind, ProcessorFactory, ReceiverFactory } from '../../src/component/types.js';
import { EXPORTERS, PROCESSORS, RECEIVERS, builtinFactories } from '../../src/components.js';
import { loadConfig, loadConfigText, type ComponentConfig } from '../../src/config/load.js';
import { MetricStore } from '../../src/metrics/store.js';
import type { TestPki } from '../support/certs.js';
import { componentFolders, runnableExample, type ComponentFolder } from '../support/component-examples.js';
import { testExporterSettings, testSettings } from '../support/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'otel-agent-contract-'));
let pki: TestPki | undefined;
afterAll(async () => {
  await pki?.remove();
  rmSync(dir, { recursive: true, force: true });
});

const REGISTERED: ReadonlyArray<{ kind: Kind; factories: readonly Factory[] }> = [
  { kind: 'receiver', factories: RECEIVERS },
  { kind: 'processor', factories: PROCESSORS },
  { kind: 'exporter', factories: EXPORTERS },
];
const SECTION: Record<Kind, 'receivers' | 'processors' | 'exporters'> = { receiver: 'receivers', processor: 'processors', exporter: 'exporters' };
const folders = componentFolders();
const registered = REGISTERED.flatMap(({ kind, factories }) => factories.map((factory) => ({ kind, factory })));

describe('component folders', () => {
  it.each(registered.map(({ kind, factory }) => [kind, factory.type] as const))('the registered %s %s has its folder and example.yaml', (kind, type) => {
    const folder = folders.find((candidate) => candidate.kind === kind && candidate.type === type);
    expect(folder, `a folder src/${SECTION[kind]}/${type}/ with index.ts`).toBeDefined();
    expect(existsSync(folder!.example), `${folder!.folder}/example.yaml, which the lifecycle contract runs`).toBe(true);
  });

  it('holds no component that is not registered, so every example runs below', () => {
    const types = folders.map(({ kind, type }) => `${kind} ${type}`);
    expect(types.sort()).toEqual(registered.map(({ kind, factory }) => `${kind} ${factory.type}`).sort());
  });
});

/** The instances of the folder's type in its example, after the example was made runnable here. */
async function exampleInstances(folder: ComponentFolder): Promise<ComponentConfig[]> {
  // As written: a problem is reported at the example's own file and line.
  loadConfig(folder.example, builtinFactories(), {});
  const workDir = mkdtempSync(join(dir, `${folder.type}-`));
  const runnable = await runnableExample(folder.example, workDir, pki);
  pki = runnable.pki;
  const config = loadConfigText(runnable.text, folder.example, builtinFactories(), {}, { checkLocalFiles: true });
  const instances = [...config[SECTION[folder.kind]].values()].filter((component) => component.type === folder.type);
  expect(instances.length, `${folder.example} configures a ${folder.type} ${folder.kind}`).toBeGreaterThan(0);
  return instances;
}

async function keepsLifecycle(create: () => Component): Promise<void> {
  await create().shutdown();
  const first = create();
  await first.start(new AbortController().signal);
  await first.shutdown();
  await first.shutdown();
  const second = create();
  await second.start(new AbortController().signal);
  await second.shutdown();
}

/** Two series under a resource: enough for any processor's matchers to have something to act on. */
function smallMetrics(): ResourceMetrics {
  const store = new MetricStore({ scope: 'contract' });
  store.counter('contract.jobs', { unit: '{jobs}' }).add(3, { status: 'ok', job_id: '7' });
  store.gauge('contract.queue.depth').set(2, { queue: 'main' });
  return { resource: resourceFromAttributes({ 'host.name': 'contract-host', 'service.name': 'otel-agent' }), scopeMetrics: [store.collect()] };
}

const comparable = (metrics: ResourceMetrics) => JSON.parse(JSON.stringify({ resource: metrics.resource.attributes, scopeMetrics: metrics.scopeMetrics }));

const factoryOf = (kind: Kind, type: string) => builtinFactories()[SECTION[kind]].get(type)!;

describe.each(folders.filter((folder) => existsSync(folder.example)).map((folder) => [`${folder.kind} ${folder.type}`, folder] as const))('%s', (_, folder) => {
  if (folder.kind === 'processor') {
    it('its example parses; process() returns metrics, leaves its input as it was, and answers the same twice', async () => {
      const factory = factoryOf(folder.kind, folder.type) as ProcessorFactory;
      for (const { id, config } of await exampleInstances(folder)) {
        const processor = (await factory.load()).create(testSettings({ id, kind: 'processor' }), config as object);
        const input = smallMetrics();
        const before = comparable(input);
        const output = processor.process(input);
        expect(output.scopeMetrics, id).toEqual(expect.any(Array));
        expect(output.resource.attributes, id).toEqual(expect.any(Object));
        expect(comparable(input), `${id} changed its input`).toEqual(before);
        expect(comparable(processor.process(input)), id).toEqual(comparable(output));
      }
    });
    return;
  }

  it('its example runs: shutdown without start and twice, and a new instance on the same state starts after the first stopped', async () => {
    for (const { id, config } of await exampleInstances(folder)) {
      const stateDir = mkdtempSync(join(dir, 'state-'));
      if (folder.kind === 'receiver') {
        const { create } = await (factoryOf(folder.kind, folder.type) as ReceiverFactory).load();
        await keepsLifecycle(() => create(testSettings({ id, stateDir }), config as object));
      } else {
        const { create } = await (factoryOf(folder.kind, folder.type) as ExporterFactory).load();
        await keepsLifecycle(() => create(testExporterSettings({ id, stateDir }), config as object));
      }
    }
  });
});
