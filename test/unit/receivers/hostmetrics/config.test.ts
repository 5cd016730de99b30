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
      process: { include: [] },
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
    expect(unknown.message).toContain('"cpu"|"memory"|"load"|"filesystem"|"disk"|"network"|"system"|"processes"|"process"');
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

describe('hostmetrics process scraper config', () => {
  it('takes each kind of entry; a unit without a suffix is a service', () => {
    const config = schema.parse({
      scrapers: ['process'],
      process: {
        include: [
          { executable: 'portsyncd' },
          { executable: 'port.*', match_type: 'regexp' },
          { command: 'node .*worker\\.js' },
          { pidfile: '/run/portsyncd.pid' },
          { systemd_unit: 'portsyncd' },
          { systemd_unit: 'sshd.socket' },
        ],
      },
    });
    expect(config.process.include).toEqual([
      { executable: 'portsyncd' },
      { executable: 'port.*', match_type: 'regexp' },
      { command: 'node .*worker\\.js' },
      { pidfile: '/run/portsyncd.pid' },
      { systemd_unit: 'portsyncd.service' },
      { systemd_unit: 'sshd.socket' },
    ]);
  });

  it('is not among the default scrapers, and refuses to run with nothing to pick', () => {
    expect(schema.parse({}).scrapers).not.toContain('process');
    expect(issues({ scrapers: ['process'] })).toEqual([
      { path: 'process.include', message: 'the process scraper needs at least one entry (executable, command, pidfile or systemd_unit)' },
    ]);
  });

  it('refuses an entry naming two ways or none, a stray match_type, bad patterns and paths', () => {
    expect(issues({ process: { include: [{ executable: 'a', pidfile: '/run/a.pid' }] } })).toEqual([
      { path: 'process.include.0', message: 'expected exactly one of executable, command, pidfile, systemd_unit, found executable and pidfile' },
    ]);
    expect(issues({ process: { include: [{}] } })).toEqual([
      { path: 'process.include.0', message: 'expected exactly one of executable, command, pidfile, systemd_unit, found none' },
    ]);
    expect(issues({ process: { include: [{ command: 'x', match_type: 'regexp' }] } })).toEqual([
      { path: 'process.include.0.match_type', message: 'applies to executable only' },
    ]);
    expect(issues({ process: { include: [{ executable: 'a(', match_type: 'regexp' }] } })[0]).toMatchObject({
      path: 'process.include.0.executable',
      message: expect.stringMatching(/^invalid regular expression "a\(": /),
    });
    expect(issues({ process: { include: [{ command: '[' }] } })[0].path).toBe('process.include.0.command');
    expect(issues({ process: { include: [{ pidfile: 'run/a.pid' }] } })).toEqual([
      { path: 'process.include.0.pidfile', message: 'must be an absolute path' },
    ]);
    expect(issues({ process: { include: [{ systemd_unit: 'system.slice/a.service' }] } })).toEqual([
      { path: 'process.include.0.systemd_unit', message: 'must be a unit name such as portsyncd.service, not a path' },
    ]);
    expect(issues({ process: { include: [{ exe: 'a' }] } })).toEqual([
      { path: 'process.include.0', message: 'Unrecognized key: "exe"' },
      { path: 'process.include.0', message: 'expected exactly one of executable, command, pidfile, systemd_unit, found none' },
    ]);
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
