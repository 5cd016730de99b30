// Every config the project ships must load: the default one, each example, and the
// example.yaml beside each component.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinFactories } from '../../src/components.js';
import { loadConfig, loadConfigText, type AgentConfig } from '../../src/config/load.js';
import { formatDuration, printConfig } from '../../src/config/redact.js';
import { componentFolders, repositoryRoot } from '../support/component-examples.js';

const root = repositoryRoot;
const componentExamples = componentFolders()
  .map(({ example }) => example)
  .filter((file) => existsSync(file));
const examples = [
  ...readdirSync(join(root, 'config/examples'))
    .filter((name) => name.endsWith('.yaml'))
    .map((name) => join(root, 'config/examples', name)),
  ...componentExamples,
];

describe('shipped configs', () => {
  it.each([join(root, 'otel-agent.yaml'), ...examples])('%s loads without problems', (file) => {
    const config = loadConfig(file, builtinFactories(), { SITE: 'dc9' });
    expect(config.service.pipelines.length).toBeGreaterThan(0);
    expect(config.unused).toEqual([]);
  });

  it('finds the example beside each component that has one', () => {
    // That every registered component has one is checked by test/contract/lifecycle.test.ts.
    expect(componentExamples.map((file) => file.slice(root.length + 1)).sort()).toEqual(
      expect.arrayContaining([
        'src/exporters/prometheus/example.yaml',
        'src/processors/attributes/example.yaml',
        'src/processors/filter/example.yaml',
        'src/processors/resource/example.yaml',
        'src/receivers/hostmetrics/example.yaml',
        'src/receivers/joblog/example.yaml',
        'src/receivers/redis/example.yaml',
      ]),
    );
  });

  it('the default config serves host metrics on loopback only', () => {
    const config = loadConfig(join(root, 'otel-agent.yaml'), builtinFactories(), {});
    expect(config.exporters.get('prometheus')!.config).toMatchObject({ endpoint: '127.0.0.1:9464' });
    expect(config.service.pipelines[0]).toMatchObject({ receivers: ['hostmetrics'], exporters: ['prometheus'] });
  });
});

describe('print-config', () => {
  it.each([join(root, 'otel-agent.yaml'), ...examples])('prints %s so that the loader reads back the same config', (file) => {
    const env = { SITE: 'dc9' };
    const config = loadConfig(file, builtinFactories(), env);
    const again = loadConfigText(printConfig(config), file, builtinFactories(), env);
    const comparable = (c: AgentConfig) => ({ ...c, unused: undefined });
    expect(comparable(again)).toEqual(comparable(config));
  });

  it('formats durations the way they are written', () => {
    expect([30_000, 1500, 5_400_000, 90_000, 0].map(formatDuration)).toEqual(['30s', '1500ms', '1h30m', '1m30s', '0ms']);
  });
});
