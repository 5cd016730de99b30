// The receiver around the scrapers: lifecycle, its own timer, and what it does when a
// scraper fails (status, logs, self-metrics, series).
import { cpSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../../../src/receivers/hostmetrics/config.js';
import { HostFs } from '../../../../src/receivers/hostmetrics/hostfs.js';
import { hostmetricsFactory } from '../../../../src/receivers/hostmetrics/index.js';
import { HostmetricsReceiver } from '../../../../src/receivers/hostmetrics/receiver.js';
import { valueOf } from '../../../support/metric-sink.js';
import { eventually } from '../../../support/eventually.js';
import { testSettings, type TestSettings } from '../../../support/settings.js';

const CAPTURED_HOST = fileURLToPath(new URL('./testdata/host', import.meta.url));
const roots: string[] = [];
const receivers: HostmetricsReceiver[] = [];

function copyOfHost(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'hostmetrics-'));
  cpSync(CAPTURED_HOST, root, { recursive: true });
  roots.push(root);
  return root;
}

/** A receiver on a copy of the captured host; statfs answers one fixed size for every mount. */
function receiverOn(root: string, config: Record<string, unknown> = {}, settings: TestSettings = testSettings()) {
  const parsed = configSchema.parse({ root_path: root, scrapers: ['cpu', 'memory', 'load'], ...config });
  const statfs = async () => ({ bsize: 4096, blocks: 100, bfree: 50, bavail: 40, files: 10, ffree: 5 });
  const receiver = new HostmetricsReceiver(settings, parsed, new HostFs(root, statfs));
  receivers.push(receiver);
  return { receiver, settings };
}

afterEach(async () => {
  for (const receiver of receivers.splice(0)) await receiver.shutdown();
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('hostmetrics factory', () => {
  it('is a receiver of type hostmetrics whose default config comes from its schema', async () => {
    expect(hostmetricsFactory.type).toBe('hostmetrics');
    expect(hostmetricsFactory.kind).toBe('receiver');
    const receiver = (await hostmetricsFactory.load()).create(testSettings(), hostmetricsFactory.configSchema.parse({}));
    expect(receiver).toBeInstanceOf(HostmetricsReceiver);
  });
});

describe('lifecycle', () => {
  it('shuts down without having started, and twice', async () => {
    const { receiver, settings } = receiverOn(copyOfHost());
    await receiver.shutdown();
    await receiver.shutdown();
    expect(settings.meter.collect().metrics).toEqual([]);
    await expect(receiver.start(new AbortController().signal)).rejects.toThrow('receiver "hostmetrics" was already started; create a new one');
  });

  it('scrapes at start, removes its series at shutdown, and a new instance starts again on the same meter', async () => {
    const root = copyOfHost();
    const settings = testSettings();
    const first = receiverOn(root, {}, settings).receiver;
    await first.start(new AbortController().signal);
    await eventually(() => expect(valueOf(settings.meter, 'system.cpu.load_average.1m')).toBe(1.42));
    expect(valueOf(settings.telemetry, 'otel_agent.hostmetrics.scrape.duration', { receiver: 'hostmetrics' })).toBeGreaterThanOrEqual(0);
    await first.shutdown();
    await first.shutdown();
    expect(settings.meter.collect().metrics).toEqual([]);
    expect(valueOf(settings.telemetry, 'otel_agent.hostmetrics.scrape.duration', { receiver: 'hostmetrics' })).toBeUndefined();
    expect((await first.scrape()).durationMs).toBe(0);
    expect(settings.meter.collect().metrics).toEqual([]);

    const second = receiverOn(root, {}, settings).receiver;
    await second.start(new AbortController().signal);
    await eventually(() => expect(valueOf(settings.meter, 'system.memory.limit')).toBe(65765720 * 1024));
    await second.shutdown();
  });

  it('scrapes again every collection_interval, on its own timer', async () => {
    const root = copyOfHost();
    const { receiver, settings } = receiverOn(root, { collection_interval: '1s' });
    await receiver.start(new AbortController().signal);
    await eventually(() => expect(valueOf(settings.meter, 'system.cpu.load_average.1m')).toBe(1.42));
    writeFileSync(path.join(root, 'proc/loadavg'), '3.50 1.20 0.80 2/1400 1880300\n');
    await eventually(() => expect(valueOf(settings.meter, 'system.cpu.load_average.1m')).toBe(3.5));
  });

  it('stops its timer when the start signal aborts', async () => {
    const root = copyOfHost();
    const { receiver, settings } = receiverOn(root, { collection_interval: '1s' });
    const abort = new AbortController();
    await receiver.start(abort.signal);
    await eventually(() => expect(valueOf(settings.meter, 'system.cpu.load_average.1m')).toBe(1.42));
    abort.abort();
    writeFileSync(path.join(root, 'proc/loadavg'), '3.50 1.20 0.80 2/1400 1880300\n');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(valueOf(settings.meter, 'system.cpu.load_average.1m')).toBe(1.42);
  });

  it('joins a scrape asked for while one runs', async () => {
    const { receiver } = receiverOn(copyOfHost());
    const [first, second] = await Promise.all([receiver.scrape(), receiver.scrape()]);
    expect(second).toBe(first);
    expect(await receiver.scrape()).not.toBe(first);
  });

  it('makes a collection that comes during a scrape wait for it, and one between scrapes return at once', async () => {
    const root = copyOfHost();
    const { receiver, settings } = receiverOn(root);
    await receiver.scrape();
    writeFileSync(path.join(root, 'proc/loadavg'), '3.50 1.20 0.80 2/1400 1880300\n');
    // Between scrapes the collection serves what the last one found.
    await receiver.collect(new AbortController().signal);
    expect(valueOf(settings.meter, 'system.cpu.load_average.1m')).toBe(1.42);
    const scraping = receiver.scrape();
    await receiver.collect(new AbortController().signal);
    expect(valueOf(settings.meter, 'system.cpu.load_average.1m')).toBe(3.5);
    await scraping;
  });
});

describe('a scraper that fails', () => {
  it('loses its series while the others keep theirs, degrades the status, logs once, counts, and recovers', async () => {
    const root = copyOfHost();
    const { receiver, settings } = receiverOn(root);
    expect((await receiver.scrape()).failed.size).toBe(0);
    expect(settings.statuses).toEqual([{ status: 'ok', reason: undefined }]);

    renameSync(path.join(root, 'proc/meminfo'), path.join(root, 'proc/meminfo.gone'));
    const failed = await receiver.scrape();
    await receiver.scrape();
    expect([...failed.failed.keys()]).toEqual(['memory']);
    expect(failed.failed.get('memory')).toMatch(/^ENOENT: no such file or directory, open '.*\/proc\/meminfo'$/);
    expect(valueOf(settings.meter, 'system.memory.limit')).toBeUndefined();
    expect(valueOf(settings.meter, 'system.cpu.load_average.1m')).toBe(1.42);
    expect(settings.statuses.at(-1)?.status).toBe('degraded');
    expect(settings.statuses.at(-1)?.reason).toMatch(/^memory: ENOENT/);
    expect(settings.statuses).toHaveLength(2);
    const warnings = settings.logger.entries.filter((entry) => entry.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].fields).toMatchObject({ receiver: 'hostmetrics', trouble: expect.stringMatching(/^memory: ENOENT/) });
    const errors = (scraper: string) => valueOf(settings.telemetry, 'otel_agent.hostmetrics.scrape.errors', { receiver: 'hostmetrics', scraper });
    expect([errors('memory'), errors('cpu'), errors('load')]).toEqual([2, 0, 0]);

    renameSync(path.join(root, 'proc/meminfo.gone'), path.join(root, 'proc/meminfo'));
    expect((await receiver.scrape()).failed.size).toBe(0);
    expect(valueOf(settings.meter, 'system.memory.limit')).toBe(65765720 * 1024);
    expect(settings.statuses.at(-1)).toEqual({ status: 'ok', reason: undefined });
    expect(settings.logger.entries.at(-1)).toMatchObject({ level: 'info', msg: 'host metrics scrape complete again' });
  });

  it('reports malformed /proc text as the scraper failing, naming the file', async () => {
    const root = copyOfHost();
    writeFileSync(path.join(root, 'proc/loadavg'), 'garbage\n');
    const { receiver } = receiverOn(root);
    expect((await receiver.scrape()).failed.get('load')).toBe('/proc/loadavg: expected a number for 1m, found "garbage"');
  });
});
