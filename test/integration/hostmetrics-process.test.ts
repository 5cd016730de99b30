// The process scraper against real processes the test starts, exits and restarts: `sleep`s
// picked by command line, pidfile and systemd unit (a cgroup made by the test), and a node
// child that burns CPU, holds memory, opens files and writes to disk. Values are checked
// against what the test reads itself from /proc; the real agent serves them to promtool.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/receivers/hostmetrics/config.js';
import { HostmetricsReceiver } from '../../src/receivers/hostmetrics/receiver.js';
import { startAgent, tempDir, waitForMetric, writeConfig, type AgentProcess } from '../support/agent-process.js';
import { freePort } from '../support/ports.js';
import { eventually } from '../support/eventually.js';
import { series, valueOf } from '../support/metric-sink.js';
import { testSettings } from '../support/settings.js';

function receiver(include: unknown[]) {
  const settings = testSettings();
  const config = configSchema.parse({ scrapers: ['process'], process: { include } });
  return { receiver: new HostmetricsReceiver(settings, config), meter: settings.meter };
}

const children: ChildProcess[] = [];
const agents: AgentProcess[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.stop()));
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }
  }
});

/** A `sleep` whose command line no other process has: `sleep 86400.<digits>`. */
function uniqueSleep(options: { uid?: number } = {}): { child: ChildProcess; pattern: string } {
  const seconds = `86400.${BigInt(`0x${randomBytes(6).toString('hex')}`)}`;
  const child = spawn('sleep', [seconds], { stdio: 'ignore', ...options });
  children.push(child);
  return { child, pattern: `^sleep ${seconds.replace('.', '\\.')}$` };
}

async function stop(child: ChildProcess): Promise<void> {
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await gone;
}

/** PIDs with series of `name`, in numeric order. */
function pidsOf(meter: Parameters<typeof series>[0], name = 'process.thread.count'): number[] {
  return series(meter, name).map((s) => s.attributes['process.pid'] as number).sort((a, b) => a - b);
}

const procStatus = (pid: number) => readFileSync(`/proc/${pid}/status`, 'utf8');
const statusField = (pid: number, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(procStatus(pid))![1]);

describe('process scraper on real processes', () => {
  it('reports a node child: CPU it burnt, memory it holds, files it opened, bytes it wrote, threads', async () => {
    const dir = tempDir('hostmetrics-process-');
    const ready = path.join(dir, 'ready');
    // Burns 300 ms of CPU, touches 64 MiB, opens 20 descriptors and writes 4 MiB with fsync, then idles.
    const script = `
      const fs = require('node:fs');
      const until = Date.now() + 300; while (Date.now() < until);
      globalThis.held = Buffer.alloc(64 * 1024 * 1024, 1);
      globalThis.fds = Array.from({ length: 20 }, () => fs.openSync('/dev/null', 'r'));
      const out = fs.openSync(${JSON.stringify(path.join(dir, 'out'))}, 'w');
      fs.writeSync(out, Buffer.alloc(4 * 1024 * 1024, 2)); fs.fsyncSync(out); fs.closeSync(out);
      fs.writeFileSync(${JSON.stringify(ready)}, 'ok');
      setInterval(() => {}, 1000);`;
    const marker = `hostmetrics-process-${randomBytes(4).toString('hex')}`;
    const child = spawn(process.execPath, ['-e', script, marker], { stdio: 'ignore' });
    children.push(child);
    await eventually(() => accessSync(ready, constants.F_OK));
    const pid = child.pid!;

    const { receiver: r, meter } = receiver([{ command: marker }]);
    await r.scrape();
    expect(pidsOf(meter)).toEqual([pid]);
    const attributes = series(meter, 'process.thread.count')[0].attributes;
    expect(attributes).toEqual({
      'process.pid': pid,
      'process.executable.name': path.basename(process.execPath),
      'process.command': process.execPath,
      'process.owner': 'root',
    });
    const [, , , , , , , , , , , utime, stime] = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    expect(valueOf(meter, 'process.cpu.time', { 'cpu.mode': 'user' })).toBe(Number(utime) / 100);
    expect(valueOf(meter, 'process.cpu.time', { 'cpu.mode': 'system' })).toBe(Number(stime) / 100);
    expect(Number(utime) + Number(stime)).toBeGreaterThanOrEqual(20); // the 300 ms it burnt, less a tick's rounding
    const rss = valueOf(meter, 'process.memory.usage')!;
    expect(rss).toBeGreaterThan(64 * 1024 * 1024);
    expect(Math.abs(rss - statusField(pid, 'VmRSS') * 1024)).toBeLessThan(8 * 1024 * 1024);
    expect(valueOf(meter, 'process.memory.virtual')).toBeGreaterThan(rss);
    expect(valueOf(meter, 'process.unix.file_descriptor.count')).toBe(readdirSync(`/proc/${pid}/fd`).length);
    expect(valueOf(meter, 'process.unix.file_descriptor.count')).toBeGreaterThanOrEqual(23);
    expect(valueOf(meter, 'process.thread.count')).toBe(statusField(pid, 'Threads'));
    expect(valueOf(meter, 'process.disk.io', { 'disk.io.direction': 'write' })).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    const uptime = valueOf(meter, 'process.uptime')!;
    expect(uptime).toBeGreaterThan(0.2);
    expect(uptime).toBeLessThan(120);
  });

  it('drops a process that exits and follows one restarted under a rewritten pidfile', async () => {
    const dir = tempDir('hostmetrics-process-');
    const pidfile = path.join(dir, 'daemon.pid');
    const first = uniqueSleep();
    writeFileSync(pidfile, `${first.child.pid}\n`);
    const other = uniqueSleep();
    const { receiver: r, meter } = receiver([{ pidfile }, { command: other.pattern }]);
    await r.scrape();
    expect(pidsOf(meter)).toEqual([first.child.pid!, other.child.pid!].sort((a, b) => a - b));

    await stop(other.child);
    await stop(first.child);
    const second = uniqueSleep();
    writeFileSync(pidfile, `${second.child.pid}\n`);
    await r.scrape();
    for (const name of ['process.cpu.time', 'process.memory.usage', 'process.disk.io', 'process.uptime', 'process.thread.count']) {
      expect([...new Set(pidsOf(meter, name))], name).toEqual([second.child.pid]);
    }

    // Stopped, its pidfile left behind naming a PID that is gone: nothing is reported.
    await stop(second.child);
    await r.scrape();
    expect(pidsOf(meter)).toEqual([]);
  });

  it("names another user's process after its owner", async () => {
    const nobody = uniqueSleep({ uid: 65534 });
    const { receiver: r, meter } = receiver([{ command: nobody.pattern }]);
    await r.scrape();
    const owner = readFileSync('/etc/passwd', 'utf8').split('\n').find((line) => line.split(':')[2] === '65534')?.split(':')[0] ?? '65534';
    expect(series(meter, 'process.thread.count').map((s) => s.attributes['process.owner'])).toEqual([owner]);
  });

  // A unit's cgroup, made the way systemd makes it: under the name=systemd (v1) hierarchy or
  // the v2 tree, whichever this machine has writable.
  const hierarchy = ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((root) => {
    try {
      accessSync(path.join(root, 'cgroup.procs'), constants.W_OK);
      return true;
    } catch {
      return false;
    }
  });

  it.skipIf(hierarchy === undefined)('picks every process of a systemd unit by its cgroup, and none outside it', async () => {
    const unit = `otel-test-${randomBytes(4).toString('hex')}.service`;
    const slice = path.join(hierarchy!, 'system.slice');
    const madeSlice = !existsSync(slice);
    const cgroup = path.join(slice, unit);
    mkdirSync(cgroup, { recursive: true });
    try {
      const inside = [uniqueSleep(), uniqueSleep()];
      const outside = uniqueSleep();
      for (const { child } of inside) writeFileSync(path.join(cgroup, 'cgroup.procs'), `${child.pid}\n`);
      const { receiver: r, meter } = receiver([{ systemd_unit: unit }]);
      await r.scrape();
      expect(pidsOf(meter)).toEqual(inside.map(({ child }) => child.pid!).sort((a, b) => a - b));
      expect(pidsOf(meter)).not.toContain(outside.child.pid);
      await stop(inside[0].child);
      await r.scrape();
      expect(pidsOf(meter)).toEqual([inside[1].child.pid]);
    } finally {
      for (const child of children.splice(0)) {
        if (child.exitCode === null && child.signalCode === null) await stop(child);
      }
      // A cgroup can be removed once its processes have gone, which the kernel notes a moment later.
      await eventually(() => rmdirSync(cgroup), 5000);
      if (madeSlice) rmdirSync(slice);
    }
  });

  it('is served by the real agent under Prometheus names that promtool accepts, the pidfile followed across a restart', async () => {
    const dir = tempDir('hostmetrics-process-');
    const pidfile = path.join(dir, 'daemon.pid');
    const first = uniqueSleep();
    writeFileSync(pidfile, `${first.child.pid}\n`);
    const port = await freePort();
    const file = writeConfig(
      dir,
      `receivers:
  hostmetrics/daemons:
    collection_interval: 1s
    scrapers: [process]
    process:
      include: [ { pidfile: ${pidfile} } ]
exporters:
  prometheus:
    endpoint: 127.0.0.1:${port}
service:
  state_directory: ${path.join(dir, 'state')}
  pipelines:
    metrics:
      receivers: [hostmetrics/daemons]
      exporters: [prometheus]
`,
    );
    const agent = startAgent(['run', '--config', file]);
    agents.push(agent);
    const pidLabel = (pid: number) => new RegExp(`^process_memory_usage_bytes\\{[^}]*process_pid="${pid}"`, 'm');
    const body = await waitForMetric(port, pidLabel(first.child.pid!));
    for (const name of [
      'process_cpu_time_seconds_total',
      'process_memory_usage_bytes',
      'process_memory_virtual_bytes',
      'process_disk_io_bytes_total',
      'process_unix_file_descriptor_count_value',
      'process_thread_count_value',
      'process_uptime_seconds',
    ]) {
      expect(body, name).toMatch(new RegExp(`^${name}\\{[^}]*process_executable_name="sleep"[^}]*\\} \\d`, 'm'));
    }
    const check = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);

    await stop(first.child);
    const second = uniqueSleep();
    writeFileSync(pidfile, `${second.child.pid}\n`);
    const after = await waitForMetric(port, pidLabel(second.child.pid!));
    expect(after).not.toMatch(new RegExp(`process_pid="${first.child.pid}"`));
  });
});
