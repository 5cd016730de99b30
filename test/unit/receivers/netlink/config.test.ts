import { describe, expect, it } from 'vitest';
import { netlinkFactory } from '../../../../src/receivers/netlink/index.js';

const schema = netlinkFactory.configSchema;

function issues(input: unknown): Array<{ path: string; message: string }> {
  const result = schema.safeParse(input);
  if (result.success) throw new Error('expected the config to be refused');
  return result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
}

describe('netlink config', () => {
  it('fills every default from an empty config: every interface but lo', () => {
    expect(schema.parse({})).toEqual({
      include: ['*'],
      exclude: ['lo'],
      reconcile_interval: 10_000,
      restart_backoff: { initial_interval: 500, max_interval: 30_000 },
    });
  });

  it('takes the issue’s shape, with an exclude list that replaces the default', () => {
    expect(schema.parse({ include: ['eth*'], exclude: ['eth9'], reconcile_interval: '1m' })).toMatchObject({
      include: ['eth*'],
      exclude: ['eth9'],
      reconcile_interval: 60_000,
    });
  });

  it('refuses a backoff cap below its first wait, an empty glob, a tiny interval and unknown keys, each at its path', () => {
    expect(issues({ restart_backoff: { initial_interval: '10s', max_interval: '1s' } })).toEqual([
      { path: 'restart_backoff', message: 'max_interval must be at least initial_interval' },
    ]);
    expect(issues({ include: [''] })).toEqual([{ path: 'include.0', message: 'an empty glob matches nothing' }]);
    expect(issues({ reconcile_interval: '10ms' })).toEqual([{ path: 'reconcile_interval', message: 'must be at least 100ms' }]);
    expect(issues({ interfaces: ['eth0'] })[0].message).toMatch(/interfaces/);
  });
});
