// The process scraper on the captured host tree (testdata/host): five processes with their
// stat, status, io, cmdline, cgroup, exe and fd, an /etc/passwd and pidfiles under /run.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../../../src/receivers/hostmetrics/config.js';
import { HostFs } from '../../../../src/receivers/hostmetrics/hostfs.js';
import { HostmetricsReceiver } from '../../../../src/receivers/hostmetrics/receiver.js';
import { attributeValues, series, valueOf } from '../../../support/metric-sink.js';
import { testSettings } from '../../../support/settings.js';

const CAPTURED_HOST = fileURLToPath(new URL('./testdata/host', import.meta.url));
const KiB = 1024;

/** A host tree whose reads of some files are refused, as /proc refuses another user's files. */
class RefusingHostFs extends HostFs {
  readonly readdirs: string[] = [];
  constructor(root: string, private readonly refused: Set<string> = new Set()) {
    super(root);
  }
  private check(hostPath: string): void {
    if (this.refused.has(hostPath)) throw Object.assign(new Error(`EACCES: permission denied, open '${hostPath}'`), { code: 'EACCES' });
  }
  override read(hostPath: string): string {
    this.check(hostPath);
    return super.read(hostPath);
  }
  override readdir(hostPath: string): string[] {
    this.check(hostPath);
    this.readdirs.push(hostPath);
    return super.readdir(hostPath);
  }
}

function receiverOn(root: string, include: unknown[], host = new RefusingHostFs(root)) {
  const settings = testSettings();
  const config = configSchema.parse({ root_path: root, scrapers: ['process'], process: { include } });
  return { receiver: new HostmetricsReceiver(settings, config, host), meter: settings.meter, settings, host };
}

const copies: string[] = [];
function copyOfHost(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'hostmetrics-process-'));
  cpSync(CAPTURED_HOST, root, { recursive: true, verbatimSymlinks: true });
  copies.push(root);
  return root;
}
afterEach(() => {
  for (const root of copies.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** The PIDs that have series of `name`, in numeric order. */
function pids(meter: Parameters<typeof series>[0], name = 'process.thread.count'): number[] {
  return [...new Set(series(meter, name).map((s) => s.attributes['process.pid'] as number))].sort((a, b) => a - b);
}

const NGINX = { 'process.pid': 523, 'process.executable.name': 'nginx', 'process.command': '/usr/sbin/nginx', 'process.owner': 'root' };

describe('process scraper', () => {
  it('reports CPU by mode, memory, disk I/O, descriptors, threads and uptime of a process picked by executable', async () => {
    const { receiver, meter, settings } = receiverOn(CAPTURED_HOST, [{ executable: 'nginx' }]);
    const result = await receiver.scrape();
    expect(result.failed.size).toBe(0);
    expect(result.problems).toEqual([]);
    expect(series(meter, 'process.cpu.time')).toEqual([
      { attributes: { ...NGINX, 'cpu.mode': 'user' }, value: 0.12 },
      { attributes: { ...NGINX, 'cpu.mode': 'system' }, value: 0.03 },
    ]);
    expect(series(meter, 'process.memory.usage')).toEqual([{ attributes: NGINX, value: 1201 * 4 * KiB }]);
    expect(series(meter, 'process.memory.virtual')).toEqual([{ attributes: NGINX, value: 12_312_576 }]);
    expect(series(meter, 'process.disk.io')).toEqual([
      { attributes: { ...NGINX, 'disk.io.direction': 'read' }, value: 8192 },
      { attributes: { ...NGINX, 'disk.io.direction': 'write' }, value: 1_048_576 },
    ]);
    expect(series(meter, 'process.unix.file_descriptor.count')).toEqual([{ attributes: NGINX, value: 4 }]);
    expect(series(meter, 'process.thread.count')).toEqual([{ attributes: NGINX, value: 1 }]);
    // /proc/uptime 1209383.52 s, started 3021 ticks after boot.
    expect(valueOf(meter, 'process.uptime', NGINX)).toBeCloseTo(1209383.52 - 30.21, 6);
    expect(valueOf(settings.telemetry, 'otel_agent.hostmetrics.process.unreadable', { file: 'io' })).toBe(0);
  });

  it('picks by executable regex, by command line, and by systemd unit (delegated sub-cgroups included)', async () => {
    const pick = async (include: unknown[]) => {
      const { receiver, meter } = receiverOn(CAPTURED_HOST, include);
      await receiver.scrape();
      return pids(meter, 'process.thread.count');
    };
    expect(await pick([{ executable: 'tm.*', match_type: 'regexp' }])).toEqual([1201]);
    expect(await pick([{ executable: 'tm' }])).toEqual([]);
    expect(await pick([{ command: 'backup\\.sh --full' }])).toEqual([3100]);
    expect(await pick([{ command: '^/bin/bash' }, { executable: 'bash' }])).toEqual([3100]);
    expect(await pick([{ systemd_unit: 'backup' }])).toEqual([3100]);
    expect(await pick([{ systemd_unit: 'nginx.service' }, { systemd_unit: 'session-3.scope' }])).toEqual([523, 1201]);
    expect(await pick([{ systemd_unit: 'user.service' }])).toEqual([]);
  });

  it('names the executable from /proc/PID/exe (a deleted binary too), the command from argv[0], the owner from /etc/passwd', async () => {
    const { receiver, meter } = receiverOn(CAPTURED_HOST, [{ executable: 'bash' }, { executable: 'tmux' }]);
    await receiver.scrape();
    expect(series(meter, 'process.thread.count').map((s) => s.attributes)).toEqual([
      { 'process.pid': 1201, 'process.executable.name': 'tmux', 'process.command': 'tmux', 'process.owner': 'alice' },
      // uid 1001 has no passwd entry: the number stands for the name.
      { 'process.pid': 3100, 'process.executable.name': 'bash', 'process.command': '/bin/bash', 'process.owner': '1001' },
    ]);
  });

  it('reads a pidfile without walking /proc; a missing pidfile is a stopped daemon, a garbled one a problem', async () => {
    const { receiver, meter, host, settings } = receiverOn(CAPTURED_HOST, [
      { pidfile: '/run/nginx.pid' },
      { pidfile: '/run/stale.pid' },
      { pidfile: '/run/absent.pid' },
      { pidfile: '/run/garbled.pid' },
    ]);
    const result = await receiver.scrape();
    expect(pids(meter, 'process.cpu.time')).toEqual([523]);
    expect(host.readdirs).not.toContain('/proc');
    expect(result.problems).toEqual(['process: pidfile /run/garbled.pid: expected a PID, found "nginx"']);
    expect(settings.statuses.at(-1)).toEqual({ status: 'degraded', reason: 'process: pidfile /run/garbled.pid: expected a PID, found "nginx"' });
  });

  it('leaves out, quietly and counted, what it may not read of a process, and keeps the rest', async () => {
    const host = new RefusingHostFs(CAPTURED_HOST, new Set(['/proc/1201/io', '/proc/1201/fd']));
    const { receiver, meter, settings } = receiverOn(CAPTURED_HOST, [{ executable: 'tmux' }, { executable: 'nginx' }], host);
    const result = await receiver.scrape();
    expect(result.problems).toEqual([]);
    expect(pids(meter, 'process.disk.io')).toEqual([523]);
    expect(pids(meter, 'process.unix.file_descriptor.count')).toEqual([523]);
    expect(pids(meter, 'process.memory.usage')).toEqual([523, 1201]);
    const telemetry = settings.telemetry;
    expect(valueOf(telemetry, 'otel_agent.hostmetrics.process.unreadable', { receiver: 'hostmetrics', file: 'io' })).toBe(1);
    expect(valueOf(telemetry, 'otel_agent.hostmetrics.process.unreadable', { receiver: 'hostmetrics', file: 'fd' })).toBe(1);
    expect(settings.statuses.at(-1)?.status).toBe('ok');
  });

  it('drops the series of a process that exits, and follows a restart to its new PID', async () => {
    const root = copyOfHost();
    const { receiver, meter } = receiverOn(root, [{ pidfile: '/run/nginx.pid' }, { executable: 'tmux' }]);
    await receiver.scrape();
    expect(pids(meter, 'process.uptime')).toEqual([523, 1201]);

    // tmux exits; nginx restarts as PID 611, which rewrites its pidfile.
    rmSync(path.join(root, 'proc/1201'), { recursive: true });
    cpSync(path.join(root, 'proc/523'), path.join(root, 'proc/611'), { recursive: true, verbatimSymlinks: true });
    writeFileSync(
      path.join(root, 'proc/611/stat'),
      '611 (nginx) S 1 611 611 0 -1 4194624 80 0 0 0 2 1 0 0 20 0 3 0 120900000 12312576 1100 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 0 0 0 0 0 0\n',
    );
    rmSync(path.join(root, 'proc/523'), { recursive: true });
    writeFileSync(path.join(root, 'run/nginx.pid'), '611\n');
    await receiver.scrape();

    for (const name of ['process.cpu.time', 'process.memory.usage', 'process.disk.io', 'process.uptime', 'process.thread.count']) {
      expect(attributeValues(meter, name, 'process.pid'), name).toEqual([611]);
    }
    expect(valueOf(meter, 'process.cpu.time', { 'process.pid': 611, 'cpu.mode': 'user' })).toBe(0.02);
    expect(valueOf(meter, 'process.thread.count', { 'process.pid': 611 })).toBe(3);
    expect(valueOf(meter, 'process.uptime', { 'process.pid': 611 })).toBeCloseTo(1209383.52 - 1_209_000, 6);
  });

  it('takes the new names of a process that execs another program under the same PID', async () => {
    const root = copyOfHost();
    const { receiver, meter } = receiverOn(root, [{ command: 'backup\\.sh' }]);
    await receiver.scrape();
    expect(attributeValues(meter, 'process.thread.count', 'process.executable.name')).toEqual(['bash']);
    // backup.sh execs tar: same PID and start time, new comm, exe and cmdline.
    const stat = path.join(root, 'proc/3100/stat');
    writeFileSync(stat, '3100 (tar) S 1201 3100 1201 34817 3100 4194304 1201 0 0 0 0 0 0 0 20 0 1 0 300012 8523776 901 18446744073709551615 1 1 0 0 0 0 0 0 65538 0 0 0 17 0 0 0 0 0 0\n');
    rmSync(path.join(root, 'proc/3100/exe'));
    writeFileSync(path.join(root, 'proc/3100/cmdline'), 'tar\0-czf\0/srv/backup/full.tgz\0/home\0');
    await receiver.scrape();
    // Its command line no longer says backup: it is no longer picked.
    expect(pids(meter, 'process.thread.count')).toEqual([]);
  });
});
