// The checksum receiver on real files, with manifests and results written by the real
// coreutils tools: corruption that keeps size and mtime, deletion, a directory in place of a
// file, replacement, bad manifest lines, the unchanged-file cache across a restart.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../../../src/receivers/checksum/config.js';
import { ChecksumReceiver } from '../../../../src/receivers/checksum/receiver.js';
import { series, valueOf } from '../../../support/metric-sink.js';
import { testSettings, type TestSettings } from '../../../support/settings.js';

let dir: string;
let receivers: ChecksumReceiver[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'otel-agent-checksum-'));
});
afterEach(async () => {
  for (const receiver of receivers) await receiver.shutdown();
  receivers = [];
  rmSync(dir, { recursive: true, force: true });
});

function make(config: Record<string, unknown>, settings = testSettings({ id: 'checksum', stateDir: join(dir, 'state') })): { receiver: ChecksumReceiver; settings: TestSettings } {
  const receiver = new ChecksumReceiver(settings, configSchema.parse(config));
  receivers.push(receiver);
  return { receiver, settings };
}

async function started(config: Record<string, unknown>, settings?: TestSettings) {
  const made = make(config, settings);
  await made.receiver.start(new AbortController().signal);
  await made.receiver.verify();
  return made;
}

function tool(name: string, args: string[], cwd = dir): string {
  return execFileSync(name, args, { cwd, encoding: 'utf8' });
}

function fileStatus(settings: TestSettings): Record<string, unknown> {
  return Object.fromEntries(series(settings.meter, 'checksum.file.status').map(({ attributes }) => [attributes['checksum.file'], attributes['checksum.status']]));
}

function writeFiles(names: string[]): void {
  for (const name of names) {
    writeFileSync(join(dir, name), `content of ${name}\n`.repeat(1000));
    utimesSync(join(dir, name), 1_700_000_000, 1_700_000_000); // whole seconds: utimes can put them back exactly
  }
}

describe('checksum receiver', () => {
  it('tells ok, mismatch (one byte, size and mtime kept), missing, unreadable and replaced files apart', async () => {
    writeFiles(['a.img', 'b.img', 'c.img', 'd.img', 'e.img']);
    writeFileSync(join(dir, 'SHA256SUMS'), tool('sha256sum', ['a.img', 'b.img', 'c.img', 'd.img', 'e.img']));
    const { receiver, settings } = await started({ manifests: [join(dir, 'SHA256SUMS')] });
    expect(fileStatus(settings)).toEqual({ 'a.img': 'ok', 'b.img': 'ok', 'c.img': 'ok', 'd.img': 'ok', 'e.img': 'ok' });
    expect(valueOf(settings.meter, 'checksum.verifications', { 'checksum.status': 'ok' })).toBe(5);

    // One byte flipped in place, size and mtime put back: only ctime tells.
    const b = join(dir, 'b.img');
    const before = statSync(b);
    const fd = openSync(b, 'r+');
    writeSync(fd, Buffer.from('X'), 0, 1, 100);
    closeSync(fd);
    utimesSync(b, before.atime, before.mtime);
    expect(statSync(b).size).toBe(before.size);
    expect(statSync(b).mtimeMs).toBe(before.mtimeMs);
    unlinkSync(join(dir, 'c.img'));
    unlinkSync(join(dir, 'd.img'));
    mkdirSync(join(dir, 'd.img')); // read fails with EISDIR: root can open any file, not read a directory
    writeFileSync(join(dir, 'e.new'), 'other content\n');
    renameSync(join(dir, 'e.new'), join(dir, 'e.img'));

    await receiver.verify();
    expect(fileStatus(settings)).toEqual({ 'a.img': 'ok', 'b.img': 'mismatch', 'c.img': 'missing', 'd.img': 'unreadable', 'e.img': 'mismatch' });
    expect(valueOf(settings.meter, 'checksum.verifications', { 'checksum.status': 'mismatch' })).toBe(2);
    expect(valueOf(settings.meter, 'checksum.verifications', { 'checksum.status': 'missing' })).toBe(1);
    expect(valueOf(settings.meter, 'checksum.verifications', { 'checksum.status': 'unreadable' })).toBe(1);
    // a.img was skipped as unchanged, the only file that was
    expect(valueOf(settings.meter, 'checksum.files.skipped')).toBe(1);
    expect(valueOf(settings.meter, 'checksum.run.last_completed')).toBeGreaterThan(Date.now() / 1000 - 3600);

    // An entry removed from the manifest loses its series.
    writeFileSync(join(dir, 'SHA256SUMS'), readFileSync(join(dir, 'SHA256SUMS'), 'utf8').split('\n').filter((l) => !l.endsWith('c.img')).join('\n'));
    await receiver.verify();
    expect(Object.keys(fileStatus(settings)).sort()).toEqual(['a.img', 'b.img', 'd.img', 'e.img']);
  });

  it('skips unchanged files after a restart, and hashes them again once full_check_every is due', async () => {
    writeFiles(['a.img', 'b.img']);
    writeFileSync(join(dir, 'SHA256SUMS'), tool('sha256sum', ['a.img', 'b.img']));
    const size = statSync(join(dir, 'a.img')).size * 2;
    const first = await started({ manifests: [join(dir, 'SHA256SUMS')] });
    expect(valueOf(first.settings.meter, 'checksum.bytes_hashed')).toBe(size);
    await first.receiver.shutdown();

    const second = await started({ manifests: [join(dir, 'SHA256SUMS')] });
    expect(valueOf(second.settings.meter, 'checksum.files.skipped')).toBe(2);
    expect(valueOf(second.settings.meter, 'checksum.bytes_hashed')).toBe(0);
    expect(fileStatus(second.settings)).toEqual({ 'a.img': 'ok', 'b.img': 'ok' });
    await second.receiver.shutdown();

    const third = await started({ manifests: [join(dir, 'SHA256SUMS')], full_check_every: '1ms' });
    expect(valueOf(third.settings.meter, 'checksum.bytes_hashed')).toBe(size);
    expect(valueOf(third.settings.meter, 'checksum.files.skipped')).toBe(0);
  });

  it('verifies sha512sum, b2sum and md5sum manifests, BSD tags, binary mode and escaped names, from a glob', async () => {
    const odd = 'odd\\name\nwith newline.img';
    writeFiles(['x.img', 'y.img', odd]);
    mkdirSync(join(dir, 'sums'));
    writeFileSync(join(dir, 'sums', 'SHA512SUMS'), tool('sha512sum', ['--binary', '../x.img', `../${odd}`], join(dir, 'sums')));
    writeFileSync(join(dir, 'sums', 'B2SUMS'), tool('b2sum', ['../y.img'], join(dir, 'sums')));
    writeFileSync(join(dir, 'sums', 'MD5SUMS'), tool('md5sum', ['--tag', '../x.img'], join(dir, 'sums')));
    writeFileSync(join(dir, 'sums', 'TAGGED'), tool('sha256sum', ['--tag', `../${odd}`], join(dir, 'sums')));
    expect(readFileSync(join(dir, 'sums', 'SHA512SUMS'), 'utf8')).toMatch(/^\\/m); // the tool escaped the name
    const { settings } = await started({ manifests: [join(dir, 'sums', '*')] });
    expect(valueOf(settings.meter, 'checksum.verifications', { 'checksum.status': 'ok' })).toBe(5);
    expect(valueOf(settings.meter, 'checksum.verifications', { 'checksum.status': 'mismatch' })).toBe(0);
    expect(valueOf(settings.meter, 'checksum.file.status', { 'checksum.file': `../${odd}`, 'checksum.manifest': join(dir, 'sums', 'TAGGED') })).toBe(1);
  });

  it('reports each bad manifest line with file and line number, counts and skips it, and verifies the rest', async () => {
    writeFiles(['a.img', 'b.img']);
    const manifest = join(dir, 'SHA256SUMS');
    writeFileSync(manifest, `${tool('sha256sum', ['a.img'])}this is not a line\n${'f'.repeat(10)}  short.img\n${tool('sha256sum', ['b.img'])}`);
    const { settings } = await started({ manifests: [manifest] });
    expect(valueOf(settings.meter, 'checksum.verifications', { 'checksum.status': 'ok' })).toBe(2);
    expect(valueOf(settings.meter, 'checksum.manifest.bad_lines', { 'checksum.manifest': manifest })).toBe(2);
    expect(valueOf(settings.telemetry, 'otel_agent.receiver.refused', { reason: 'bad_manifest_line' })).toBe(2);
    const messages = settings.logger.entries.map((e) => e.msg ?? '');
    expect(messages).toContain(`${manifest}:2: expected "<hex digest>  <file>" or "ALGO (<file>) = <hex digest>"; line skipped`);
    expect(messages.some((m) => m.startsWith(`${manifest}:3: `))).toBe(true);
  });

  it('reports a manifest it cannot read as degraded and verifies the others', async () => {
    writeFiles(['a.img']);
    writeFileSync(join(dir, 'SHA256SUMS'), tool('sha256sum', ['a.img']));
    const { settings } = await started({ manifests: [join(dir, 'SHA256SUMS'), join(dir, 'ABSENT')] });
    expect(valueOf(settings.meter, 'checksum.verifications', { 'checksum.status': 'ok' })).toBe(1);
    expect(settings.statuses.at(-1)).toMatchObject({ status: 'degraded', reason: expect.stringContaining('ABSENT') });
  });

  it('reads sha256sum -c output written elsewhere, again when it changes', async () => {
    writeFiles(['a.img', 'b.img', 'c.img']);
    writeFileSync(join(dir, 'SHA256SUMS'), tool('sha256sum', ['a.img', 'b.img', 'c.img']));
    const results = join(dir, 'verify.txt');
    const check = () => {
      try {
        return tool('sha256sum', ['-c', 'SHA256SUMS']);
      } catch (error) {
        const e = error as { stdout: string; stderr: string };
        return e.stderr + e.stdout; // sha256sum exits 1 when a check fails
      }
    };
    writeFileSync(results, check());
    const { receiver, settings } = await started({ results: [results] });
    expect(fileStatus(settings)).toEqual({ 'a.img': 'ok', 'b.img': 'ok', 'c.img': 'ok' });

    writeFileSync(join(dir, 'b.img'), 'changed');
    unlinkSync(join(dir, 'c.img'));
    writeFileSync(results, check());
    await receiver.collect(new AbortController().signal);
    expect(fileStatus(settings)).toEqual({ 'a.img': 'ok', 'b.img': 'mismatch', 'c.img': 'missing' });
    expect(valueOf(settings.meter, 'checksum.verifications', { 'checksum.status': 'ok' })).toBe(4);
    // unchanged: not counted again
    await receiver.collect(new AbortController().signal);
    expect(valueOf(settings.meter, 'checksum.verifications', { 'checksum.status': 'ok' })).toBe(4);
  });

  it('reports a file without read permission as unreadable (run as nobody: root reads anything)', () => {
    writeFiles(['open.img', 'closed.img']);
    writeFileSync(join(dir, 'SHA256SUMS'), tool('sha256sum', ['open.img', 'closed.img']));
    chmodSync(join(dir, 'closed.img'), 0o000);
    chmodSync(dir, 0o777); // nobody writes the state record here
    const dist = resolve(import.meta.dirname, '../../../../dist/src');
    const script = `
      const { ChecksumReceiver } = await import('${dist}/receivers/checksum/receiver.js');
      const { configSchema } = await import('${dist}/receivers/checksum/config.js');
      const { MetricStore } = await import('${dist}/metrics/store.js');
      const { StateDirectory } = await import('${dist}/state/store.js');
      const logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return logger; } };
      const settings = { id: 'checksum', logger, status: { report() {} }, meter: new MetricStore({ scope: 'checksum' }),
        telemetry: new MetricStore({ scope: 'otel-agent' }), store: new StateDirectory(${JSON.stringify(join(dir, 'state'))}, logger).storeFor('receiver', 'checksum') };
      const receiver = new ChecksumReceiver(settings, configSchema.parse({ manifests: [${JSON.stringify(join(dir, 'SHA256SUMS'))}] }));
      await receiver.start(new AbortController().signal);
      const result = await receiver.verify();
      await receiver.shutdown();
      console.log(JSON.stringify(result.counts));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 60_000 });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({ ok: 1, mismatch: 0, missing: 0, unreadable: 1 });
  });

  it('hashes a 2 GiB sparse file with flat memory', async () => {
    const big = join(dir, 'sparse.img');
    const fd = openSync(big, 'w');
    ftruncateSync(fd, 2 * 1024 ** 3);
    writeSync(fd, Buffer.from('end'), 0, 3, 2 * 1024 ** 3 - 3);
    closeSync(fd);
    writeFileSync(join(dir, 'SHA256SUMS'), tool('sha256sum', ['sparse.img']));
    const { receiver, settings } = make({ manifests: [join(dir, 'SHA256SUMS')] });
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    try {
      await receiver.start(new AbortController().signal);
      await receiver.verify();
    } finally {
      clearInterval(sampler);
    }
    expect(valueOf(settings.meter, 'checksum.verifications', { 'checksum.status': 'ok' })).toBe(1);
    expect(valueOf(settings.meter, 'checksum.bytes_hashed')).toBe(2 * 1024 ** 3);
    expect(peak - baseline).toBeLessThan(128 * 1024 ** 2);
  }, 120_000);
});
