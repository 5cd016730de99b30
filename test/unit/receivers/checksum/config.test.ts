// The checksum receiver's config errors name the file, line, YAML path, what was expected and found.
import { describe, expect, it } from 'vitest';
import { builtinFactories } from '../../../../src/components.js';
import { ConfigError, formatProblem, loadConfigText } from '../../../../src/config/load.js';

const PIPELINE = 'exporters: { prometheus: }\nservice: { pipelines: { metrics: { receivers: [checksum], exporters: [prometheus] } } }\n';

function problems(receiver: string): string[] {
  try {
    loadConfigText(`receivers:\n  checksum:\n${receiver}${PIPELINE}`, 'agent.yaml', builtinFactories(), {});
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map(formatProblem);
  }
  return [];
}

describe('checksum config', () => {
  it('takes manifests, an interval and a rate', () => {
    expect(problems('    manifests: [/srv/images/SHA256SUMS]\n    interval: 1h\n    max_bytes_per_second: 200MiB\n')).toEqual([]);
  });

  it('refuses a receiver with nothing to verify', () => {
    expect(problems('    interval: 1h\n')).toEqual([expect.stringMatching(/^agent\.yaml:\d+:\d+: receivers::checksum::manifests: expected at least one manifest or results file, found none$/)]);
  });

  it('refuses an interval under a second and a rate that is not a size, each at its line', () => {
    const found = problems('    manifests: [/srv/SHA256SUMS]\n    interval: 10ms\n    max_bytes_per_second: fast\n');
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/^agent\.yaml:4:\d+: receivers::checksum::interval: .*at least 1s/);
    expect(found[1]).toMatch(/^agent\.yaml:5:\d+: receivers::checksum::max_bytes_per_second: expected .*found "fast"/);
  });

  it('refuses an unknown key', () => {
    expect(problems('    manifests: [/srv/SHA256SUMS]\n    manifest: /srv/SHA256SUMS\n')).toEqual([expect.stringMatching(/receivers::checksum::manifest: unknown key "manifest"/)]);
  });
});
