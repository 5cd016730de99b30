// What every scraper of the hostmetrics receiver is: one source of the host, read in full
// at each collection and recorded into the receiver's meter.
import type { Meter } from '../../component/types.js';
import type { HostmetricsConfig, ScraperName } from './config.js';
import type { HostFs } from './hostfs.js';

export interface ScraperContext {
  readonly meter: Meter;
  readonly host: HostFs;
  readonly config: HostmetricsConfig;
  /** The agent's own meter, for what a scraper counts of itself (reads refused). */
  readonly telemetry: Meter;
  readonly receiverId: string;
}

export interface Scraper {
  readonly name: ScraperName;
  /**
   * Reads the host and records every series it finds. Throws when its source cannot be
   * read at all; returns what it had to leave out (one mount that did not answer) otherwise.
   */
  scrape(): Promise<string[]>;
}
