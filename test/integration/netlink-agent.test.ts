// The netlink receiver in the agent as a process: its metrics under Prometheus names (and
// under portsyncd's, by a view and the attributes processor), and /health while its `ip
// monitor` child is killed and restarted.
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchAgent, startAgent, tempDir, waitForMetric, writeConfig, type AgentProcess } from '../support/agent-process.js';
import { eventually } from '../support/eventually.js';
import { ipBatch, removeAll, sysValue, vethPair } from '../support/netns.js';
import { freePort } from '../support/ports.js';

let agent: AgentProcess | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  removeAll();
});

/** The process ids of `pid`'s children running `ip ... monitor`. */
function monitorChildren(pid: number): number[] {
  const children = readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
  );
  return children.filter((child) => {
    try {
      return readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0').includes('monitor');
    } catch {
      return false;
    }
  });
}

interface Health {
  components: Array<{ id: string; status: string; reason?: string }>;
}

async function netlinkHealth(port: number) {
  return (JSON.parse((await fetchAgent(port, '/health')).body) as Health).components.find((c) => c.id === 'netlink');
}

describe('netlink in the agent process', () => {
  it('serves flaps as portsyncd names them, and says in /health when the event source is down until it is back', async () => {
    const { name, peer } = vethPair();
    const port = await freePort();
    const config = writeConfig(
      tempDir(),
      `receivers:
  netlink:
    include: [${name}]
    restart_backoff: { initial_interval: 1s, max_interval: 5s }
processors:
  attributes/port:
    actions:
      - { key: port, action: upsert, from_attribute: network.interface.name }
      - { key: network.interface.name, action: delete }
views:
  - { instrument: netlink.interface.flaps, name: portsyncd.port.flaps }
exporters:
  prometheus:
    endpoint: 127.0.0.1:${port}
service:
  pipelines:
    metrics:
      receivers: [netlink]
      processors: [attributes/port]
      exporters: [prometheus]
`,
    );
    agent = startAgent(['run', '-c', config]);
    await waitForMetric(port, /^netlink_connected\{[^}]*\} 1$/m);
    ipBatch(['down', 'up', 'down', 'up'].map((state) => `link set ${peer} ${state}`));
    const flaps = sysValue(name, 'carrier_down_count');
    await waitForMetric(port, new RegExp(`^portsyncd_port_flaps_total\\{port="${name}"[^}]*\\} ${flaps}$`, 'm'));
    const body = (await fetchAgent(port)).body;
    expect(body).toMatch(new RegExp(`^netlink_interface_oper_status\\{port="${name}"[^}]*\\} 1$`, 'm'));
    expect(body).toMatch(/^netlink_events_processed_total\{[^}]*\} \d+$/m);
    expect(body).toMatch(/^netlink_event_delay_seconds_bucket\{[^}]*le="0\.01"[^}]*\} \d+$/m);
    expect(await netlinkHealth(port)).toMatchObject({ status: 'ok' });

    const [monitor] = monitorChildren(agent.child.pid!);
    expect(monitor).toBeGreaterThan(0);
    process.kill(monitor, 'SIGKILL');
    await eventually(async () =>
      expect(await netlinkHealth(port)).toMatchObject({
        status: 'degraded',
        reason: expect.stringMatching(/^link event source down: ip -o -ts monitor link exited on SIGKILL; restarting in 1000ms/),
      }),
    );
    expect((await fetchAgent(port)).body).toMatch(/^netlink_connected\{[^}]*\} 0$/m);
    ipBatch(['down', 'up'].map((state) => `link set ${peer} ${state}`));

    await waitForMetric(port, /^netlink_connected\{[^}]*\} 1$/m);
    await eventually(async () => expect(await netlinkHealth(port)).toMatchObject({ status: 'ok' }));
    expect(monitorChildren(agent.child.pid!)).not.toContain(monitor);
    await waitForMetric(port, new RegExp(`^portsyncd_port_flaps_total\\{port="${name}"[^}]*\\} ${flaps + 1}$`, 'm'));
    expect(agent.log()).toContain('link monitor down');
  });
});
