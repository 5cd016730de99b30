// The checksum receiver: every `interval`, each manifest (a path or glob) is read and every
// file it names verified, one at a time, at most max_bytes_per_second. A file unchanged since
// its last good check (same size, mtime, ctime, inode and device) is not hashed again until
// full_check_every is due; that cache is saved in the component's state record after each
// run, so a restart does not re-hash. Results files of `sha256sum -c` are read when they
// change (checked at each run and each collection).
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { hasWildcard, expandGlob } from '../../component/glob.js';
import { Lifecycle } from '../../component/lifecycle.js';
import { ScrapeController } from '../../component/scrape-controller.js';
import type { Attributes, Counter, Gauge, Receiver, ReceiverSettings, StateFormat } from '../../component/types.js';
import { RefusalCounter } from '../../events/refusals.js';
import type { ChecksumConfig } from './config.js';
import { hashFile, RateLimiter } from './hash.js';
import { manifestLines, parseManifestLines, parseResults, type ParsedManifest, type BadLine, type ManifestEntry, type Status } from './manifest.js';

export const STATUSES: readonly Status[] = ['ok', 'mismatch', 'missing', 'unreadable'];
/** Bad lines logged one by one per manifest version; the rest are summed in one line. */
const MAX_BAD_LINES_LOGGED = 20;
/** Entries handled between two yields to the event loop (stat and cache look-ups are quick, but a manifest may hold millions). */
const ENTRIES_PER_YIELD = 256;
/** Manifest lines parsed between two yields: about 10 ms of work. */
const LINES_PER_SLICE = 8192;

/** What the cache remembers of a file that last matched its digest. */
interface CachedFile {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  dev: number;
  algorithm: string;
  digest: string;
  /** When it was last hashed, epoch ms. */
  hashedAt: number;
}

const CACHE_FORMAT: StateFormat<Map<string, CachedFile>> = {
  versions: [1],
  decode(document) {
    const files = document.files;
    if (typeof files !== 'object' || files === null) throw new Error('expected an object "files"');
    const map = new Map<string, CachedFile>();
    for (const [path, value] of Object.entries(files as Record<string, unknown>)) {
      const v = value as Partial<CachedFile>;
      if (typeof v?.digest !== 'string' || typeof v.size !== 'number' || typeof v.mtimeMs !== 'number' || typeof v.ctimeMs !== 'number'
        || typeof v.ino !== 'number' || typeof v.dev !== 'number' || typeof v.algorithm !== 'string' || typeof v.hashedAt !== 'number') continue;
      map.set(path, v as CachedFile);
    }
    return map;
  },
};

export interface ChecksumRunResult {
  counts: Record<Status, number>;
  skipped: number;
  bytesHashed: number;
  badLines: number;
  /** Manifests that could not be read. */
  problems: string[];
  durationMs: number;
}

interface SourceVersion {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

export class ChecksumReceiver implements Receiver {
  private readonly lifecycle: Lifecycle;
  private readonly controller: ScrapeController<ChecksumRunResult>;
  private readonly refusals: RefusalCounter;
  private cache?: Map<string, CachedFile>;
  /** Per source (manifest or results file): the file-status series written by its last read. */
  private readonly fileSeries = new Map<string, Map<string, Attributes>>();
  /** The version of each manifest whose bad lines were last logged, so each is logged once. */
  private readonly loggedVersions = new Map<string, string>();
  private readonly resultsVersions = new Map<string, string>();
  private resultsReading?: Promise<void>;

  private readonly verifications: Counter;
  private readonly fileStatus: Gauge;
  private readonly lastRun: Gauge;
  private readonly bytesHashed: Counter;
  private readonly runDuration: Gauge;
  private readonly skipped: Counter;
  private readonly badLines: Gauge;

  constructor(
    private readonly settings: ReceiverSettings,
    private readonly config: ChecksumConfig,
  ) {
    const meter = settings.meter;
    this.verifications = meter.counter('checksum.verifications', { unit: '{file}', valueType: 'int', description: 'Files verified, by outcome (checksum.status: ok, mismatch, missing, unreadable); a file skipped as unchanged is not counted here.' });
    this.fileStatus = meter.gauge('checksum.file.status', { valueType: 'int', description: 'Outcome of the last verification of each file: 1 on the series of its current checksum.status.' });
    this.lastRun = meter.gauge('checksum.run.last_completed', { unit: 's', description: 'When the last verification run completed, seconds since the epoch.' });
    this.bytesHashed = meter.counter('checksum.bytes_hashed', { unit: 'By', valueType: 'int', description: 'Bytes read and hashed.' });
    this.runDuration = meter.gauge('checksum.run.duration', { unit: 's', description: 'How long the last completed verification run took.' });
    this.skipped = meter.counter('checksum.files.skipped', { unit: '{file}', valueType: 'int', description: 'Files not hashed because unchanged since their last good check.' });
    this.badLines = meter.gauge('checksum.manifest.bad_lines', { unit: '{line}', valueType: 'int', description: 'Lines of each manifest or results file that are not entries, skipped.' });
    this.refusals = new RefusalCounter(settings.telemetry, settings.id, settings.logger);
    this.controller = new ScrapeController({
      name: `receiver "${settings.id}"`,
      intervalMs: config.interval,
      onCollect: 'join',
      scrape: (signal) => this.run(signal),
      problem: (result) => (result.problems.length > 0 ? result.problems.join('; ').slice(0, 300) : undefined),
      status: settings.status,
    });
    this.lifecycle = new Lifecycle(`receiver "${settings.id}"`, { start: (signal) => this.begin(signal), stop: () => this.end() });
  }

  start(signal: AbortSignal): Promise<void> {
    return this.lifecycle.start(signal);
  }

  /** One run now (joining the one in progress); for tests and benchmarks. */
  async verify(): Promise<ChecksumRunResult | undefined> {
    if (this.lifecycle.phase === 'stopped') return undefined;
    return this.controller.run();
  }

  async collect(signal: AbortSignal): Promise<void> {
    await this.readResults();
    return this.controller.collect(signal);
  }

  shutdown(): Promise<void> {
    return this.lifecycle.shutdown();
  }

  private async begin(signal: AbortSignal): Promise<void> {
    for (const status of STATUSES) this.verifications.add(0, { 'checksum.status': status });
    this.skipped.add(0);
    this.bytesHashed.add(0);
    this.refusals.expect(['bad_manifest_line']);
    this.controller.start(signal);
  }

  private async end(): Promise<void> {
    await this.controller.stop();
    this.refusals.flush(true);
  }

  private async loadCache(): Promise<Map<string, CachedFile>> {
    this.cache ??= (await this.settings.store.record.read(CACHE_FORMAT)) ?? new Map();
    return this.cache;
  }

  private async saveCache(): Promise<void> {
    if (!this.cache) return;
    try {
      await this.settings.store.record.write(1, { files: Object.fromEntries(this.cache) });
    } catch (error) {
      this.settings.logger.warn({ err: error }, 'cannot save the checksum cache; the next start hashes every file again');
    }
  }

  private async manifestPaths(): Promise<string[]> {
    const paths = new Set<string>();
    for (const pattern of this.config.manifests) {
      if (hasWildcard(pattern)) for (const path of (await expandGlob(pattern)).sort()) paths.add(path);
      else paths.add(resolve(pattern));
    }
    return [...paths];
  }

  private async run(signal: AbortSignal): Promise<ChecksumRunResult> {
    const started = performance.now();
    const result: ChecksumRunResult = { counts: { ok: 0, mismatch: 0, missing: 0, unreadable: 0 }, skipped: 0, bytesHashed: 0, badLines: 0, problems: [], durationMs: 0 };
    const cache = await this.loadCache();
    const limiter = new RateLimiter(this.config.max_bytes_per_second);
    const seenManifests = new Set<string>();
    try {
      for (const manifest of await this.manifestPaths()) {
        signal.throwIfAborted();
        seenManifests.add(manifest);
        let text: string;
        let version: string;
        try {
          const info = await stat(manifest);
          version = versionOf(info);
          text = await readFile(manifest, 'utf8');
        } catch (error) {
          result.problems.push(`cannot read manifest ${manifest}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
          this.dropSource(manifest);
          continue;
        }
        // Parsed in slices with a yield between them: 100k lines at once hold the loop ~100 ms.
        const lines = manifestLines(text);
        const parsed: ParsedManifest = { entries: [], bad: [] };
        for (let from = 0; from < lines.length; from += LINES_PER_SLICE) {
          parseManifestLines(lines, from, from + LINES_PER_SLICE, manifest, parsed);
          if (from + LINES_PER_SLICE < lines.length) await yieldToLoop();
        }
        result.badLines += parsed.bad.length;
        this.reportBadLines(manifest, version, parsed.bad);
        await this.verifyManifest(manifest, parsed.entries, { cache, limiter, signal, result });
      }
      for (const source of [...this.fileSeries.keys()]) {
        if (!seenManifests.has(source) && !this.resultsVersions.has(source)) this.dropSource(source);
      }
      await this.readResults();
    } finally {
      // What was learnt is kept even when the run was cut short.
      await this.saveCache();
    }
    result.durationMs = performance.now() - started;
    this.runDuration.set(result.durationMs / 1000);
    this.lastRun.set(Date.now() / 1000);
    return result;
  }

  private async verifyManifest(
    manifest: string,
    entries: ManifestEntry[],
    run: { cache: Map<string, CachedFile>; limiter: RateLimiter; signal: AbortSignal; result: ChecksumRunResult },
  ): Promise<void> {
    const previous = this.fileSeries.get(manifest) ?? new Map<string, Attributes>();
    const current = new Map<string, Attributes>();
    const base = dirname(manifest);
    const fullCheckMs = this.config.full_check_every;
    for (let i = 0; i < entries.length; i++) {
      if (i % ENTRIES_PER_YIELD === ENTRIES_PER_YIELD - 1) await yieldToLoop();
      run.signal.throwIfAborted();
      const entry = entries[i];
      const path = isAbsolute(entry.name) ? entry.name : resolve(base, entry.name);
      const key = `${entry.algorithm}:${path}`;
      let status: Status;
      let info;
      try {
        info = await stat(path);
      } catch (error) {
        info = undefined;
        status = (error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'missing' : 'unreadable';
      }
      if (info) {
        const cached = run.cache.get(key);
        const now = Date.now();
        if (
          cached && cached.digest === entry.digest && cached.size === info.size && cached.mtimeMs === info.mtimeMs
          && cached.ctimeMs === info.ctimeMs && cached.ino === info.ino && cached.dev === info.dev
          && (fullCheckMs === undefined || now - cached.hashedAt < fullCheckMs)
        ) {
          run.result.skipped += 1;
          this.skipped.add(1);
          status = 'ok';
          this.setFileStatus(manifest, entry.name, status, previous, current);
          continue;
        }
        try {
          const digest = await hashFile(path, entry.algorithm, {
            signal: run.signal,
            limiter: run.limiter,
            onBytes: (count) => {
              run.result.bytesHashed += count;
              this.bytesHashed.add(count);
            },
          });
          status = digest === entry.digest ? 'ok' : 'mismatch';
          if (status === 'ok') {
            run.cache.set(key, { size: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs, ino: info.ino, dev: info.dev, algorithm: entry.algorithm, digest, hashedAt: now });
          } else run.cache.delete(key);
        } catch (error) {
          if (run.signal.aborted) throw error;
          status = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable';
        }
      }
      if (status! !== 'ok') run.cache.delete(key);
      run.result.counts[status!] += 1;
      this.verifications.add(1, { 'checksum.status': status! });
      this.setFileStatus(manifest, entry.name, status!, previous, current);
    }
    for (const [id, attributes] of previous) if (!current.has(id)) this.fileStatus.remove(attributes);
    this.fileSeries.set(manifest, current);
  }

  private setFileStatus(source: string, file: string, status: Status, previous: Map<string, Attributes>, current: Map<string, Attributes>): void {
    const attributes = { 'checksum.manifest': source, 'checksum.file': file, 'checksum.status': status };
    const old = previous.get(file) ?? current.get(file);
    if (old && old['checksum.status'] !== status) this.fileStatus.remove(old);
    this.fileStatus.set(1, attributes);
    current.set(file, attributes);
  }

  private dropSource(source: string): void {
    for (const attributes of this.fileSeries.get(source)?.values() ?? []) this.fileStatus.remove(attributes);
    this.fileSeries.delete(source);
    this.badLines.remove({ 'checksum.manifest': source });
  }

  private reportBadLines(source: string, version: string, bad: BadLine[]): void {
    this.badLines.set(bad.length, { 'checksum.manifest': source });
    if (this.loggedVersions.get(source) === version) return;
    this.loggedVersions.set(source, version);
    for (const { line, reason } of bad.slice(0, MAX_BAD_LINES_LOGGED)) {
      this.settings.logger.warn({ file: source, line, reason }, `${source}:${line}: ${reason}; line skipped`);
    }
    if (bad.length > MAX_BAD_LINES_LOGGED) {
      this.settings.logger.warn({ file: source, count: bad.length - MAX_BAD_LINES_LOGGED }, `${source}: ${bad.length - MAX_BAD_LINES_LOGGED} more bad lines skipped`);
    }
    for (const _ of bad) this.refusals.refuse('bad_manifest_line', source);
  }

  /** Reads every results file that changed since its last read; one read at a time. */
  private readResults(): Promise<void> {
    if (this.config.results.length === 0) return Promise.resolve();
    this.resultsReading ??= this.readResultsNow().finally(() => {
      this.resultsReading = undefined;
    });
    return this.resultsReading;
  }

  private async readResultsNow(): Promise<void> {
    for (const configured of this.config.results) {
      const path = resolve(configured);
      let text: string;
      let version: string;
      try {
        const info = await stat(path);
        version = versionOf(info);
        if (this.resultsVersions.get(path) === version) continue;
        text = await readFile(path, 'utf8');
      } catch (error) {
        if (this.resultsVersions.has(path)) {
          this.settings.logger.warn({ file: path, code: (error as NodeJS.ErrnoException).code }, 'results file gone or unreadable; its series are dropped');
        }
        this.resultsVersions.delete(path);
        this.dropSource(path);
        continue;
      }
      this.resultsVersions.set(path, version);
      const { results, bad } = parseResults(text);
      this.reportBadLines(path, version, bad);
      const previous = this.fileSeries.get(path) ?? new Map<string, Attributes>();
      const current = new Map<string, Attributes>();
      for (const { name, status } of results) {
        this.verifications.add(1, { 'checksum.status': status });
        this.setFileStatus(path, name, status, previous, current);
      }
      for (const [id, attributes] of previous) if (!current.has(id)) this.fileStatus.remove(attributes);
      this.fileSeries.set(path, current);
    }
  }
}

function versionOf(info: SourceVersion): string {
  return `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
}
