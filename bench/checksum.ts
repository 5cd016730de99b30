// Checksum receiver: hash throughput against coreutils' sha256sum on the same 1 GiB of files
// (8 files of 128 MiB of random bytes, in the page cache), in one run, best of two rounds
// each; the longest event-loop stall and the RSS growth while the receiver hashes; and how
// close a rate-limited run comes to its max_bytes_per_second.
import { execFile } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { MetricStore } from '../src/metrics/store.js';
import { configSchema } from '../src/receivers/checksum/config.js';
import { ChecksumReceiver } from '../src/receivers/checksum/receiver.js';
import { benchSettings, formatTable } from './support.js';

const run = promisify(execFile);
const FILES = 8;
const FILE_BYTES = 128 * 1024 * 1024;
const ROUNDS = 2;
const LIMIT_BYTES_PER_SECOND = 256 * 1024 * 1024;

export interface ChecksumBenchRow {
  what: string;
  seconds: number;
  mibPerSecond: number;
  ratio?: number;
  maxStallMs?: number;
  rssGrowthMiB?: number;
}

async function receiverRun(dir: string, manifest: string, round: string, maxBytesPerSecond = 0): Promise<{ seconds: number; maxStallMs: number; rssGrowthMiB: number; ok: number }> {
  const settings = { ...benchSettings('checksum', 'receiver', join(dir, `state-${round}`)), meter: new MetricStore({ scope: 'checksum' }) };
  const receiver = new ChecksumReceiver(settings, configSchema.parse({ manifests: [manifest], max_bytes_per_second: maxBytesPerSecond }));
  const delay = monitorEventLoopDelay({ resolution: 5 });
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  delay.enable();
  const started = performance.now();
  await receiver.start(new AbortController().signal);
  const result = await receiver.verify();
  const seconds = (performance.now() - started) / 1000;
  delay.disable();
  clearInterval(sampler);
  await receiver.shutdown();
  return { seconds, maxStallMs: delay.max / 1e6, rssGrowthMiB: (peak - baseline) / 1024 ** 2, ok: result?.counts.ok ?? 0 };
}

export async function runChecksumBench(): Promise<ChecksumBenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'otel-agent-bench-checksum-'));
  try {
    const names: string[] = [];
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < FILES; i++) {
      const name = `image-${i}.img`;
      const fd = openSync(join(dir, name), 'w');
      for (let written = 0; written < FILE_BYTES; written += chunk.length) writeSync(fd, randomFillSync(chunk));
      closeSync(fd);
      names.push(name);
    }
    const manifest = join(dir, 'SHA256SUMS');
    await writeFile(manifest, (await run('sha256sum', names, { cwd: dir })).stdout);
    const total = FILES * FILE_BYTES;
    const mib = total / 1024 ** 2;

    let tool = Infinity;
    let ours = { seconds: Infinity, maxStallMs: 0, rssGrowthMiB: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const started = performance.now();
      await run('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: dir });
      tool = Math.min(tool, (performance.now() - started) / 1000);
      const measured = await receiverRun(dir, manifest, String(round));
      if (measured.ok !== FILES) throw new Error(`expected ${FILES} files ok, found ${measured.ok}`);
      if (measured.seconds < ours.seconds) ours = { ...measured, maxStallMs: Math.max(ours.maxStallMs, measured.maxStallMs), rssGrowthMiB: Math.max(ours.rssGrowthMiB, measured.rssGrowthMiB) };
      else ours = { ...ours, maxStallMs: Math.max(ours.maxStallMs, measured.maxStallMs), rssGrowthMiB: Math.max(ours.rssGrowthMiB, measured.rssGrowthMiB) };
    }

    // Rate limit: two of the files at LIMIT_BYTES_PER_SECOND.
    const limitedManifest = join(dir, 'LIMITED.SHA256SUMS');
    await writeFile(limitedManifest, (await run('sha256sum', names.slice(0, 2), { cwd: dir })).stdout);
    const limited = await receiverRun(dir, limitedManifest, 'limited', LIMIT_BYTES_PER_SECOND);
    const limitedMiB = (2 * FILE_BYTES) / 1024 ** 2;

    return [
      { what: 'sha256sum -c (coreutils)', seconds: tool, mibPerSecond: mib / tool },
      { what: 'checksum receiver', seconds: ours.seconds, mibPerSecond: mib / ours.seconds, ratio: tool / ours.seconds, maxStallMs: ours.maxStallMs, rssGrowthMiB: ours.rssGrowthMiB },
      { what: `receiver, max_bytes_per_second: ${LIMIT_BYTES_PER_SECOND / 1024 ** 2}MiB`, seconds: limited.seconds, mibPerSecond: limitedMiB / limited.seconds, maxStallMs: limited.maxStallMs, rssGrowthMiB: limited.rssGrowthMiB },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatChecksumTable(rows: ChecksumBenchRow[]): string {
  return formatTable(
    `Checksum: SHA-256 of ${FILES} x ${FILE_BYTES / 1024 ** 2} MiB files in the page cache, best of ${ROUNDS}; stall = longest event-loop delay while hashing`,
    ['run', 'seconds', 'MiB/s', 'vs sha256sum', 'max stall ms', 'RSS growth MiB'],
    rows.map((row) => [
      row.what,
      row.seconds.toFixed(2),
      row.mibPerSecond.toFixed(0),
      row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}x`,
      row.maxStallMs === undefined ? '' : row.maxStallMs.toFixed(1),
      row.rssGrowthMiB === undefined ? '' : row.rssGrowthMiB.toFixed(1),
    ]),
  );
}
