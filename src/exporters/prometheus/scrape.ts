// One scrape: collect from the source, serialise, maybe gzip. The collection has one deadline,
// `collection_timeout`: it aborts the source's signal, which aborts the receivers' refreshes, and
// the source answers with what the receivers hold (stale, for those that were late). Only a source
// that has not settled a grace after the abort makes a scrape 503.
// Concurrent scrapes share the work: at most one `source.collect` runs at any time.
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { MetricSource } from '../../component/types.js';
import { serializeBytes, type SerializedBytes, type SerializeOptions } from './serializer.js';

const gzip = promisify(gzipCallback);

/**
 * How long a source may take to settle after its deadline aborted it. One that honours the
 * signal only reads what its meters hold (milliseconds, even for 100,000 series); one still
 * running after this ignores the signal, and the scrape is answered 503.
 */
export const ABORT_GRACE_MS = 1000;

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
  /** Ends the deadline's timer and the exporter-stop listener once the round settled. */
  release(): void;
  settled: boolean;
  /** Scrapes waiting on this round; it stays current while any does or while collect runs. */
  waiting: number;
  outputs: Map<ExpositionFormat, Promise<Exposition>>;
  gzipped: Map<ExpositionFormat, Promise<Buffer>>;
}

export interface SharedScrapeOptions {
  source: MetricSource;
  serializeOptions: Omit<SerializeOptions, 'format'>;
  /** The collection's deadline: the source's signal aborts this long after the collection began. */
  timeoutMs: number;
  /** After the abort, how long the source may take to settle before scrapes get 503; ABORT_GRACE_MS by default. */
  abortGraceMs?: number;
  /** Aborts the collection in progress, as its deadline would: the exporter's stop. */
  signal?: AbortSignal;
  /** Called once per failed collection (not once per waiting scrape). */
  onCollectFailure(reason: string): void;
}

export class SharedScrape {
  private round?: Round;

  constructor(private readonly options: SharedScrapeOptions) {}

  /**
   * Metrics in `format`, or a ScrapeError: 500 when collection or serialisation failed, 503 when
   * the source did not settle within the grace after its deadline.
   */
  async scrape(format: ExpositionFormat, wantGzip: boolean): Promise<Exposition> {
    const round = this.joinRound();
    round.waiting += 1;
    // A scrape that joins a round waits at most as long as one that started it would.
    const { timeoutMs, abortGraceMs = ABORT_GRACE_MS } = this.options;
    let timer: NodeJS.Timeout | undefined;
    const ignored = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ScrapeError(503, `collection did not stop at its ${timeoutMs}ms deadline (waited ${abortGraceMs}ms more)`)),
        timeoutMs + abortGraceMs,
      );
    });
    try {
      return await Promise.race([this.exposition(round, format, wantGzip), ignored]);
    } finally {
      clearTimeout(timer);
      round.waiting -= 1;
      this.releaseIfDone(round);
    }
  }

  private joinRound(): Round {
    if (this.round) return this.round;
    const { timeoutMs, signal } = this.options;
    const abort = new AbortController();
    const deadline = setTimeout(() => abort.abort(new Error(`collection_timeout of ${timeoutMs}ms passed`)), timeoutMs);
    const onStop = () => abort.abort(signal!.reason);
    if (signal?.aborted) onStop();
    else signal?.addEventListener('abort', onStop, { once: true });
    const release = () => {
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onStop);
    };
    const round: Round = { metrics: this.collect(abort.signal), release, settled: false, waiting: 0, outputs: new Map(), gzipped: new Map() };
    round.metrics.then(
      () => this.settle(round),
      () => this.settle(round),
    );
    this.round = round;
    return round;
  }

  private async collect(signal: AbortSignal): Promise<ResourceMetrics[]> {
    try {
      return await this.options.source.collect({ signal });
    } catch (error) {
      const reason = `collection failed: ${oneLine(error)}`;
      this.options.onCollectFailure(reason);
      throw new ScrapeError(500, reason);
    }
  }

  private settle(round: Round): void {
    round.release();
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
