// Where state goes when the config names no service.state_directory.
import { describe, expect, it } from 'vitest';
import { defaultStateDirectory } from '../../../src/config/schema.js';

describe('the default state directory', () => {
  it("is systemd's StateDirectory= when set, the first of several", () => {
    expect(defaultStateDirectory({ STATE_DIRECTORY: '/var/lib/otel-agent:/var/lib/other' }, 998)).toBe('/var/lib/otel-agent');
  });

  it('is /var/lib/otel-agent for root', () => {
    expect(defaultStateDirectory({ HOME: '/root' }, 0)).toBe('/var/lib/otel-agent');
  });

  it("is another user's XDG state home, so an agent started by hand needs no root", () => {
    expect(defaultStateDirectory({ HOME: '/home/ops' }, 1000)).toBe('/home/ops/.local/state/otel-agent');
    expect(defaultStateDirectory({ HOME: '/home/ops', XDG_STATE_HOME: '/srv/state' }, 1000)).toBe('/srv/state/otel-agent');
  });

  it('ignores a relative XDG_STATE_HOME, as the XDG specification asks', () => {
    expect(defaultStateDirectory({ HOME: '/home/ops', XDG_STATE_HOME: 'state' }, 1000)).toBe('/home/ops/.local/state/otel-agent');
  });

  it('falls back to /var/lib/otel-agent for a user without a home', () => {
    expect(defaultStateDirectory({}, 1000)).toBe('/var/lib/otel-agent');
  });
});
