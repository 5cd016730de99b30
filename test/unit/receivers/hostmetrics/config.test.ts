import { describe, expect, it } from 'vitest';
import { hostmetricsFactory } from '../../../../src/receivers/hostmetrics/index.js';
import {
  DEFAULT_EXCLUDED_DEVICES,
  DEFAULT_EXCLUDED_FS_TYPES,
  DEFAULT_EXCLUDED_MOUNT_POINTS,
  compileNamePatterns,
} from '../../../../src/receivers/hostmetrics/config.js';

const schema = hostmetricsFactory.configSchema;

function issues(input: unknown): Array<{ path: string; message: string }> {
  const result = schema.safeParse(input);
  if (result.success) throw new Error('expected the config to be refused');
  return result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
}

describe('hostmetrics config', () => {
  it('fills every default from an empty config', () => {
    expect(schema.parse({})).toEqual({
      collection_interval: 30_000,
      root_path: '/',
      scrapers: ['cpu', 'memory', 'load', 'filesystem', 'disk', 'network', 'system', 'processes'],
      cpu: { breakdown: 'per_cpu' },
      filesystem: { exclude_fs_types: DEFAULT_EXCLUDED_FS_TYPES, exclude_mount_points: DEFAULT_EXCLUDED_MOUNT_POINTS },
      disk: { exclude_devices: DEFAULT_EXCLUDED_DEVICES, devices: 'whole_disks' },
      network: { exclude_interfaces: [] },
    });
  });

  it('takes a chosen set of scrapers, a duration string and per-scraper options', () => {
    const config = schema.parse({
      collection_interval: '1m30s',
      root_path: '/hostfs',
      scrapers: ['cpu', 'network'],
      network: { exclude_interfaces: ['veth.*'] },
    });
    expect(config.collection_interval).toBe(90_000);
    expect(config.root_path).toBe('/hostfs');
    expect(config.scrapers).toEqual(['cpu', 'network']);
    expect(config.network.exclude_interfaces).toEqual(['veth.*']);
    expect(config.filesystem.exclude_fs_types).toEqual(DEFAULT_EXCLUDED_FS_TYPES);
  });

  it('refuses unknown keys, at the top and inside a scraper', () => {
    expect(issues({ colection_interval: '10s' })).toEqual([{ path: '', message: 'Unrecognized key: "colection_interval"' }]);
    expect(issues({ network: { exclude: ['lo'] } })).toEqual([{ path: 'network', message: 'Unrecognized key: "exclude"' }]);
  });

  it('names the allowed scrapers when one is unknown, and refuses one listed twice', () => {
    const [unknown] = issues({ scrapers: ['cpu', 'paging'] });
    expect(unknown.path).toBe('scrapers.1');
    expect(unknown.message).toContain('"cpu"|"memory"|"load"|"filesystem"|"disk"|"network"|"system"|"processes"');
    expect(issues({ scrapers: ['cpu', 'cpu'] })).toEqual([{ path: 'scrapers', message: 'lists a scraper twice' }]);
  });

  it('refuses a bad duration, an interval under a second, a relative root and a broken pattern', () => {
    expect(issues({ collection_interval: '30 seconds' })).toEqual([
      { path: 'collection_interval', message: 'expected a duration like 500ms, 15s or 1h, found "30 seconds"' },
    ]);
    expect(issues({ collection_interval: '100ms' })).toEqual([{ path: 'collection_interval', message: 'must be at least 1s' }]);
    expect(issues({ root_path: 'hostfs' })).toEqual([{ path: 'root_path', message: 'must be an absolute path' }]);
    const [pattern] = issues({ disk: { exclude_devices: ['loop(\\d+'] } });
    expect(pattern.path).toBe('disk.exclude_devices.0');
    expect(pattern.message).toMatch(/^invalid regular expression "loop\(\\d\+": /);
  });
});

describe('compileNamePatterns', () => {
  it('matches whole names only', () => {
    const pattern = compileNamePatterns(['loop\\d+', 'sr0'])!;
    expect(['loop0', 'loop12', 'sr0'].map((name) => pattern.test(name))).toEqual([true, true, true]);
    expect(['xloop0', 'loop', 'sr01', 'sda'].map((name) => pattern.test(name))).toEqual([false, false, false, false]);
    expect(compileNamePatterns([])).toBeUndefined();
  });
});
