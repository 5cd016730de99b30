// The hostmetrics receiver: runs its scrapers every collection_interval (the shared scrape
// controller keeps the timer, one run at a time and the status), and keeps the meter holding
// exactly what the last scrape found.
import { Lifecycle } from '../../component/lifecycle.js';
import { ScrapeController } from '../../component/scrape-controller.js';
import type { Counter, Gauge, Receiver, ReceiverSettings } from '../../component/types.js';
import type { HostmetricsConfig, ScraperName } from './config.js';
import { createCpuScraper } from './cpu.js';
import { createDiskScraper } from './disk.js';
import { createFilesystemScraper } from './filesystem.js';
import { HostFs } from './hostfs.js';
import { createLoadScraper } from './load.js';
import { createMemoryScraper } from './memory.js';
import { createNetworkScraper } from './network.js';
import { createProcessScraper } from './process.js';
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
  process: createProcessScraper,
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
  private readonly controller: ScrapeController<ScrapeResult>;
  /** Trouble seen by the previous scrape, so each new kind is logged once. */
  private knownTrouble = new Set<string>();

  constructor(
    private readonly settings: ReceiverSettings,
    private readonly config: HostmetricsConfig,
    host: HostFs = new HostFs(config.root_path),
  ) {
    const context: ScraperContext = { meter: settings.meter, host, config, telemetry: settings.telemetry, receiverId: settings.id };
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
    this.controller = new ScrapeController({
      name: `receiver "${settings.id}"`,
      intervalMs: config.collection_interval,
      scrape: () => this.scrapeOnce(),
      problem: (result) => this.reportTrouble(result),
      status: settings.status,
    });
    this.lifecycle = new Lifecycle(`receiver "${settings.id}"`, { start: (signal) => this.begin(signal), stop: () => this.end() });
  }

  start(signal: AbortSignal): Promise<void> {
    return this.lifecycle.start(signal);
  }

  private async begin(signal: AbortSignal): Promise<void> {
    this.controller.start(signal);
  }

  /**
   * Reads the host once with every scraper and records what it found; series of things
   * that are gone (an interface, a disk, a mount) are removed. A scrape asked for while
   * another runs joins it. Never rejects.
   */
  async scrape(): Promise<ScrapeResult> {
    if (this.lifecycle.phase === 'stopped') return { failed: new Map(), problems: [], durationMs: 0 };
    return (await this.controller.run()) ?? { failed: new Map(), problems: [], durationMs: 0 };
  }

  /**
   * A collection that comes while a scrape runs waits for it (until the collection's deadline),
   * so it sees the host as one scrape found it; otherwise the last scrape's series are served.
   */
  collect(signal: AbortSignal): Promise<void> {
    return this.controller.collect(signal);
  }

  shutdown(): Promise<void> {
    return this.lifecycle.shutdown();
  }

  private async end(): Promise<void> {
    await this.controller.stop();
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
    return result;
  }

  /** Logs each new kind of trouble once; the reason the status is degraded, if any. */
  private reportTrouble(result: ScrapeResult): string | undefined {
    const trouble = new Set<string>();
    for (const [scraper, error] of result.failed) trouble.add(`${scraper}: ${error}`);
    for (const problem of result.problems) trouble.add(problem);
    const logger = this.settings.logger;
    for (const entry of trouble) {
      if (!this.knownTrouble.has(entry)) logger.warn({ receiver: this.settings.id, trouble: entry }, 'host metrics scrape incomplete');
    }
    if (trouble.size === 0 && this.knownTrouble.size > 0) logger.info({ receiver: this.settings.id }, 'host metrics scrape complete again');
    this.knownTrouble = trouble;

    return trouble.size === 0 ? undefined : truncate([...trouble].join('; '));
  }
}

function truncate(text: string): string {
  return text.length <= MAX_REASON_LENGTH ? text : `${text.slice(0, MAX_REASON_LENGTH - 1)}…`;
}
