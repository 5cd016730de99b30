// The contract every receiver and exporter keeps (src/component/types.ts): shutdown is safe
// without start and twice, and a new instance starts after the first one stopped.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Component, ExporterSettings, ReceiverSettings } from '../../src/component/types.js';
import { EXPORTERS, RECEIVERS } from '../../src/components.js';
import { MetricStore } from '../../src/metrics/store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { storeIn } from '../support/state.js';

const dir = mkdtempSync(join(tmpdir(), 'otel-agent-contract-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The smallest valid config of each type; a new factory must add its own here. */
const MINIMAL_CONFIG: Record<string, unknown> = {
  hostmetrics: { collection_interval: '1s' },
  joblog: { paths: [join(dir, '*.log')], format: 'json', metrics: [{ name: 'lines', type: 'counter' }] },
  prometheus: { endpoint: '127.0.0.1:0' },
};

function baseSettings(id: string) {
  return {
    id,
    logger: silentLogger(),
    status: { report: () => {} },
    store: storeIn(mkdtempSync(join(dir, 'state-')), id),
    telemetry: new MetricStore({ scope: 'otel-agent' }),
  };
}

function configFor(type: string, schema: { parse(input: unknown): unknown }): unknown {
  expect(MINIMAL_CONFIG, `add a minimal "${type}" config to MINIMAL_CONFIG`).toHaveProperty([type]);
  return schema.parse(MINIMAL_CONFIG[type]);
}

async function contract(create: () => Component): Promise<void> {
  await create().shutdown();
  const first = create();
  await first.start(new AbortController().signal);
  await first.shutdown();
  await first.shutdown();
  const second = create();
  await second.start(new AbortController().signal);
  await second.shutdown();
}

describe.each(RECEIVERS.map((factory) => [factory.type, factory] as const))('receiver %s', (type, factory) => {
  it('keeps the lifecycle contract', async () => {
    const config = configFor(type, factory.configSchema);
    await contract(() => {
      const settings: ReceiverSettings = { ...baseSettings(type), meter: new MetricStore({ scope: type }) };
      return factory.create(settings, config as object);
    });
  });
});

describe.each(EXPORTERS.map((factory) => [factory.type, factory] as const))('exporter %s', (type, factory) => {
  it('keeps the lifecycle contract', async () => {
    const config = configFor(type, factory.configSchema);
    await contract(() => {
      const settings: ExporterSettings = {
        ...baseSettings(type),
        source: { collect: async () => [] },
        health: { ready: () => true, components: () => [] },
      };
      return factory.create(settings, config as object);
    });
  });
});
