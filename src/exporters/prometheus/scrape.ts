// One scrape: collect from the source, serialise, maybe gzip, all under a deadline.
// Concurrent scrapes share the work: at most one `source.collect` runs at any time.
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { MetricSource } from '../../component/types.js';
import { serializeBytes, type SerializedBytes, type SerializeOptions } from './serializer.js';

const gzip = promisify(gzipCallback);

export type ExpositionFormat = 'text' | 'openmetrics';

/** A scrape that cannot be answered with metrics; `message` is one line, safe to show. */
export class ScrapeError extends Error {
  constructor(
    readonly statusCode: 500 | 503,
    message: string,
  ) {
    super(message);
    this.name = 'ScrapeError';
  }
}

export interface Exposition {
  result: SerializedBytes;
  body: Buffer;
  /** Set when the scrape asked for gzip. */
  gzipped?: Buffer;
}

interface Acceptable {
  type: string;
  q: number;
}

function parseAcceptList(header: string): Acceptable[] {
  return header.split(',').map((part) => {
    const [type, ...params] = part.split(';').map((piece) => piece.trim().toLowerCase());
    const qParam = params.find((param) => param.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    return { type, q: Number.isFinite(q) ? q : 0 };
  });
}

/** OpenMetrics when `Accept` prefers it to text/plain (as Prometheus does), else text 0.0.4. */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'text';
  let openMetricsQ = 0;
  let textQ = 0;
  for (const { type, q } of parseAcceptList(accept)) {
    if (type === 'application/openmetrics-text') openMetricsQ = Math.max(openMetricsQ, q);
    else if (type === 'text/plain' || type === 'text/*' || type === '*/*') textQ = Math.max(textQ, q);
  }
  return openMetricsQ > 0 && openMetricsQ >= textQ ? 'openmetrics' : 'text';
}

export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (!acceptEncoding) return false;
  return parseAcceptList(acceptEncoding).some(({ type, q }) => type === 'gzip' && q > 0);
}

/** First line of an error's message, so a response and a log line stay one line. */
export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split(/\r?\n/, 1)[0].slice(0, 300);
}

interface Round {
  metrics: Promise<ResourceMetrics[]>;
  settled: boolean;
  /** Scrapes waiting on this round; it stays current while any does or while collect runs. */
  waiting: number;
  outputs: Map<ExpositionFormat, Promise<Exposition>>;
  gzipped: Map<ExpositionFormat, Promise<Buffer>>;
}

export interface SharedScrapeOptions {
  source: MetricSource;
  serializeOptions: Omit<SerializeOptions, 'format'>;
  /** Deadline of one scrape, from its arrival to its answer. */
  timeoutMs: number;
  /** Called once per failed collection (not once per waiting scrape). */
  onCollectFailure(reason: string): void;
}

export class SharedScrape {
  private round?: Round;

  constructor(private readonly options: SharedScrapeOptions) {}

  /** Metrics in `format`, or a ScrapeError (500 failed, 503 deadline passed). */
  async scrape(format: ExpositionFormat, wantGzip: boolean): Promise<Exposition> {
    const round = this.joinRound();
    round.waiting += 1;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ScrapeError(503, `collection did not finish within ${this.options.timeoutMs}ms`)),
        this.options.timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exposition(round, format, wantGzip), deadline]);
    } finally {
      clearTimeout(timer);
      round.waiting -= 1;
      this.releaseIfDone(round);
    }
  }

  private joinRound(): Round {
    if (this.round) return this.round;
    const round: Round = { metrics: this.collect(), settled: false, waiting: 0, outputs: new Map(), gzipped: new Map() };
    round.metrics.then(
      () => this.settle(round),
      () => this.settle(round),
    );
    this.round = round;
    return round;
  }

  private async collect(): Promise<ResourceMetrics[]> {
    try {
      // Most of the budget goes to the source, which returns stale data rather than
      // nothing when a receiver is slow; the rest is for serialising.
      return await this.options.source.collect({ timeoutMs: Math.max(1, Math.floor(this.options.timeoutMs * 0.9)) });
    } catch (error) {
      const reason = `collection failed: ${oneLine(error)}`;
      this.options.onCollectFailure(reason);
      throw new ScrapeError(500, reason);
    }
  }

  private settle(round: Round): void {
    round.settled = true;
    this.releaseIfDone(round);
  }

  private releaseIfDone(round: Round): void {
    if (round.settled && round.waiting === 0 && this.round === round) this.round = undefined;
  }

  private exposition(round: Round, format: ExpositionFormat, wantGzip: boolean): Promise<Exposition> {
    let output = round.outputs.get(format);
    if (!output) {
      output = round.metrics.then(async (metrics) => {
        try {
          const result = await serializeBytes(metrics, { ...this.options.serializeOptions, format });
          return { result, body: result.bytes };
        } catch (error) {
          throw new ScrapeError(500, `serialisation failed: ${oneLine(error)}`);
        }
      });
      round.outputs.set(format, output);
    }
    if (!wantGzip) return output;
    let gzipped = round.gzipped.get(format);
    if (!gzipped) {
      gzipped = output.then((exposition) => gzip(exposition.body));
      round.gzipped.set(format, gzipped);
    }
    return Promise.all([output, gzipped]).then(([exposition, compressed]) => ({ ...exposition, gzipped: compressed }));
  }
}
