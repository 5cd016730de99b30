// The shipped unit must be one systemd accepts, and stay hardened.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_BIN, tempDir } from '../support/agent-process.js';

const UNIT = join(import.meta.dirname, '../../config/systemd/otel-agent.service');

function analyze(args: string[]) {
  const result = spawnSync('systemd-analyze', args, { encoding: 'utf8' });
  expect(result.error, 'systemd-analyze missing: apt-get install systemd').toBeUndefined();
  return result;
}

/** The unit as installed: the README links the built CLI to /usr/local/bin/otel-agent. */
function installedCopy(): string {
  const file = join(tempDir(), 'otel-agent.service');
  writeFileSync(file, readFileSync(UNIT, 'utf8').replaceAll('/usr/local/bin/otel-agent', AGENT_BIN));
  return file;
}

describe('config/systemd/otel-agent.service', () => {
  it('passes systemd-analyze verify', () => {
    const result = analyze(['verify', installedCopy()]);
    expect(result.stderr + result.stdout).toBe('');
    expect(result.status).toBe(0);
  });

  it('is hardened: systemd rates its exposure below 3 of 10', () => {
    const result = analyze(['security', '--offline=true', installedCopy()]);
    const level = Number(/Overall exposure level for otel-agent\.service: ([\d.]+)/.exec(result.stdout)?.[1]);
    expect(level).toBeLessThan(3);
  });

  it('is Type=notify with readiness from the agent, reloads with SIGHUP and keeps state in its StateDirectory', () => {
    const unit = readFileSync(UNIT, 'utf8');
    for (const line of ['Type=notify', 'NotifyAccess=all', 'ExecReload=/bin/kill -HUP $MAINPID', 'StateDirectory=otel-agent', 'Restart=always', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'User=otel-agent']) {
      expect(unit).toContain(line);
    }
  });
});
