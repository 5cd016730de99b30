// The hostmetrics receiver: runs its scrapers on its own timer, every collection_interval,
// and keeps the meter holding exactly what the last scrape found.
import { Lifecycle, StatusOnChange } from '../../component/lifecycle.js';
import type { Counter, Gauge, Receiver, ReceiverSettings } from '../../component/types.js';
import type { HostmetricsConfig, ScraperName } from './config.js';
import { createCpuScraper } from './cpu.js';
import { createDiskScraper } from './disk.js';
import { createFilesystemScraper } from './filesystem.js';
import { HostFs } from './hostfs.js';
import { createLoadScraper } from './load.js';
import { createMemoryScraper } from './memory.js';
import { createNetworkScraper } from './network.js';
import { createProcessesScraper } from './processes.js';
import type { Scraper, ScraperContext } from './scraper.js';
import { createSystemScraper } from './system.js';

const SCRAPER_FACTORIES: Record<ScraperName, (context: ScraperContext) => Scraper> = {
  cpu: createCpuScraper,
  memory: createMemoryScraper,
  load: createLoadScraper,
  filesystem: createFilesystemScraper,
  disk: createDiskScraper,
  network: createNetworkScraper,
  system: createSystemScraper,
  processes: createProcessesScraper,
};

/** A degraded status's reason stays short enough for /health. */
const MAX_REASON_LENGTH = 300;

export interface ScrapeResult {
  /** Scrapers that read nothing, with why. Their series are gone until they read again. */
  failed: Map<ScraperName, string>;
  /** What scrapers that did read had to leave out. */
  problems: string[];
  durationMs: number;
}

export class HostmetricsReceiver implements Receiver {
  private readonly scrapers: Scraper[];
  private readonly scrapeErrors: Counter;
  private readonly scrapeDuration: Gauge;
  private readonly selfAttributes: { receiver: string };
  private readonly lifecycle: Lifecycle;
  private readonly status: StatusOnChange;
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<ScrapeResult>;
  /** Trouble seen by the previous scrape, so each new kind is logged once. */
  private knownTrouble = new Set<string>();

  constructor(
    private readonly settings: ReceiverSettings,
    private readonly config: HostmetricsConfig,
    host: HostFs = new HostFs(config.root_path),
  ) {
    const context: ScraperContext = { meter: settings.meter, host, config };
    this.scrapers = config.scrapers.map((name) => SCRAPER_FACTORIES[name](context));
    this.selfAttributes = { receiver: settings.id };
    this.scrapeErrors = settings.telemetry.counter('otel_agent.hostmetrics.scrape.errors', {
      unit: '{errors}',
      description: 'Scrapes in which a host metrics scraper failed or left something out.',
    });
    this.scrapeDuration = settings.telemetry.gauge('otel_agent.hostmetrics.scrape.duration', {
      unit: 's',
      description: 'How long the last host metrics scrape took.',
    });
    for (const scraper of this.scrapers) this.scrapeErrors.add(0, { ...this.selfAttributes, scraper: scraper.name });
    this.status = new StatusOnChange(settings.status);
    this.lifecycle = new Lifecycle(`receiver "${settings.id}"`, { start: (signal) => this.begin(signal), stop: () => this.end() });
  }

  start(signal: AbortSignal): Promise<void> {
    return this.lifecycle.start(signal);
  }

  private async begin(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    signal.addEventListener('abort', () => clearInterval(this.timer), { once: true });
    // The scrape loop must not keep the process alive by itself: the agent decides that.
    this.timer = setInterval(() => void this.scrape(), this.config.collection_interval).unref();
    void this.scrape();
  }

  /**
   * Reads the host once with every scraper and records what it found; series of things
   * that are gone (an interface, a disk, a mount) are removed. A scrape asked for while
   * another runs joins it. Never rejects.
   */
  scrape(): Promise<ScrapeResult> {
    if (this.lifecycle.phase === 'stopped') return Promise.resolve({ failed: new Map(), problems: [], durationMs: 0 });
    this.inFlight ??= this.scrapeOnce().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  shutdown(): Promise<void> {
    return this.lifecycle.shutdown();
  }

  private async end(): Promise<void> {
    clearInterval(this.timer);
    await this.inFlight;
    // A stopped receiver says nothing more about the host.
    const meter = this.settings.meter;
    meter.sweep(meter.mark());
    this.scrapeDuration.remove(this.selfAttributes);
  }

  private async scrapeOnce(): Promise<ScrapeResult> {
    const started = performance.now();
    const meter = this.settings.meter;
    const mark = meter.mark();
    const outcomes = await Promise.allSettled(this.scrapers.map((scraper) => scraper.scrape()));
    meter.sweep(mark);
    const result: ScrapeResult = { failed: new Map(), problems: [], durationMs: performance.now() - started };
    outcomes.forEach((outcome, index) => {
      const scraper = this.scrapers[index].name;
      if (outcome.status === 'rejected') {
        result.failed.set(scraper, outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason));
      } else {
        for (const problem of outcome.value) result.problems.push(`${scraper}: ${problem}`);
      }
      if (outcome.status === 'rejected' || outcome.value.length > 0) {
        this.scrapeErrors.add(1, { ...this.selfAttributes, scraper });
      }
    });
    this.scrapeDuration.set(result.durationMs / 1000, this.selfAttributes);
    this.reportTrouble(result);
    return result;
  }

  /** Logs each new kind of trouble once, and keeps the status in step with the last scrape. */
  private reportTrouble(result: ScrapeResult): void {
    const trouble = new Set<string>();
    for (const [scraper, error] of result.failed) trouble.add(`${scraper}: ${error}`);
    for (const problem of result.problems) trouble.add(problem);
    const logger = this.settings.logger;
    for (const entry of trouble) {
      if (!this.knownTrouble.has(entry)) logger.warn({ receiver: this.settings.id, trouble: entry }, 'host metrics scrape incomplete');
    }
    if (trouble.size === 0 && this.knownTrouble.size > 0) logger.info({ receiver: this.settings.id }, 'host metrics scrape complete again');
    this.knownTrouble = trouble;

    const reason = trouble.size === 0 ? undefined : truncate([...trouble].join('; '));
    this.status.report(reason === undefined ? 'ok' : 'degraded', reason);
  }
}

function truncate(text: string): string {
  return text.length <= MAX_REASON_LENGTH ? text : `${text.slice(0, MAX_REASON_LENGTH - 1)}…`;
}
