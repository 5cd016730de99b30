// The agent run inside a network namespace made here (`ip netns exec`, as the README says to
// watch another namespace): it sees that namespace's links and /sys, not the test's, and
// counts flaps there exactly.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_BIN, tempDir, writeConfig } from '../support/agent-process.js';
import { eventually } from '../support/eventually.js';
import { ip, ipBatch, namespace, removeAll } from '../support/netns.js';

let agent: ChildProcess | undefined;
afterEach(async () => {
  if (agent && agent.exitCode === null && agent.signalCode === null) {
    const exited = new Promise((resolve) => agent!.on('exit', resolve));
    agent.kill('SIGTERM');
    const timer = setTimeout(() => agent?.kill('SIGKILL'), 8000);
    await exited;
    clearTimeout(timer);
  }
  agent = undefined;
  removeAll();
});

/** What `command` prints when run inside `ns`. */
function inside(ns: string, ...command: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...command], { encoding: 'utf8' });
}

describe('netlink in the agent run inside a namespace', () => {
  it('reports the namespace’s own interfaces, with flaps equal to its kernel counter', async () => {
    const ns = namespace();
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    // The same names as the host's would be: the namespace has its own.
    ip('-n', ns, 'link', 'add', 'port1', 'type', 'veth', 'peer', 'name', 'port1p');
    ip('-n', ns, 'link', 'set', 'port1', 'up');
    ip('-n', ns, 'link', 'set', 'port1p', 'up');
    // The namespace has a loopback of its own: no port of the host is taken.
    const port = 9464;
    const config = writeConfig(
      tempDir(),
      `receivers:
  netlink: { include: ["port*"], exclude: ["*p"] }
exporters:
  prometheus: { endpoint: 127.0.0.1:${port} }
service:
  pipelines:
    metrics: { receivers: [netlink], exporters: [prometheus] }
`,
    );
    let log = '';
    agent = spawn('ip', ['netns', 'exec', ns, process.execPath, AGENT_BIN, 'run', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    agent.stderr!.on('data', (chunk) => (log += chunk));
    agent.stdout!.on('data', (chunk) => (log += chunk));
    const scrape = () => inside(ns, 'curl', '-sf', `http://127.0.0.1:${port}/metrics`);
    await eventually(() => expect(scrape()).toMatch(/^netlink_connected\{[^}]*\} 1$/m), 20_000, 200).catch((error) => {
      throw new Error(`${(error as Error).message}\nagent log:\n${log}`);
    });

    const commands: string[] = [];
    for (let i = 0; i < 50; i++) commands.push('link set port1p down', 'link set port1p up');
    ipBatch(commands, ns);
    const kernel = Number(inside(ns, 'cat', '/sys/class/net/port1/carrier_down_count').trim());
    expect(kernel).toBeGreaterThanOrEqual(50);
    await eventually(() => expect(scrape()).toMatch(new RegExp(`^netlink_interface_flaps_total\\{network_interface_name="port1"[^}]*\\} ${kernel}$`, 'm')), 15_000, 200);
    const body = scrape();
    // Only the namespace's interface: not its peer (excluded), not lo, nothing of the test's.
    expect([...body.matchAll(/^netlink_interface_oper_status\{network_interface_name="([^"]+)"/gm)].map((m) => m[1])).toEqual(['port1']);
  });
});
