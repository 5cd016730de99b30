// What an exporter reads: the output of every pipeline that names it, plus the agent's own
// metrics, collected once per request however many scrapes arrive at the same time.
import type { Resource } from '@opentelemetry/resources';
import type { ResourceMetrics, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type { CollectOptions, Logger, MetricSource, Processor, Receiver } from '../component/types.js';
import type { MetricStore } from '../metrics/store.js';

export interface ReceiverNode {
  id: string;
  receiver: Receiver;
  meter: MetricStore;
}

export interface ProcessorNode {
  id: string;
  processor: Processor;
}

export interface Pipeline {
  name: string;
  receivers: ReceiverNode[];
  processors: ProcessorNode[];
}

export interface PipelineSourceOptions {
  pipelines: Pipeline[];
  resource: Resource;
  /** The agent's own metrics, or undefined when disabled. */
  self?: () => ScopeMetrics;
  logger: Logger;
  /** Told when a receiver's refresh misses the deadline, or a processor throws. */
  onError?: (component: string, reason: string) => void;
}

/** The collection's one deadline: the caller's signal, or a timer of `timeoutMs`, whichever aborts first. */
function deadline({ signal, timeoutMs }: CollectOptions, controller: AbortController): { promise: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const promise = new Promise<void>((resolve) => {
    const abort = (reason: unknown) => {
      controller.abort(reason);
      resolve();
    };
    if (timeoutMs !== undefined) timer = setTimeout(() => abort(new Error(`collection deadline of ${timeoutMs}ms passed`)), timeoutMs);
    if (signal?.aborted) abort(signal.reason);
    else if (signal) signal.addEventListener('abort', (onAbort = () => abort(signal.reason)), { once: true });
  });
  return {
    promise,
    cancel: () => {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    },
  };
}

function reasonOf(signal: AbortSignal): string {
  return signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
}

/** What a reload swaps under a running exporter. */
export type PipelineParts = Pick<PipelineSourceOptions, 'pipelines' | 'resource' | 'self'>;

/**
 * An exporter keeps one source for its whole life: a reload swaps the pipelines behind it
 * (`update`), so an exporter whose own config did not change is never recreated.
 */
export class PipelineSource implements MetricSource {
  private inFlight?: Promise<ResourceMetrics[]>;
  private options: PipelineSourceOptions;

  constructor(options: PipelineSourceOptions) {
    this.options = options;
  }

  /** Takes effect from the next collection; one in flight finishes with what it started with. */
  update(parts: PipelineParts): void {
    this.options = { ...this.options, ...parts, self: parts.self };
  }

  parts(): PipelineParts {
    const { pipelines, resource, self } = this.options;
    return { pipelines, resource, self };
  }

  collect(options: CollectOptions): Promise<ResourceMetrics[]> {
    // Concurrent scrapes share one collection.
    this.inFlight ??= this.run(options).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async run(options: CollectOptions): Promise<ResourceMetrics[]> {
    const { pipelines, resource, self, logger, onError } = this.options;
    const receivers = new Map<string, ReceiverNode>();
    for (const pipeline of pipelines) for (const node of pipeline.receivers) receivers.set(node.id, node);

    const refreshing = [...receivers.values()].filter((node) => node.receiver.collect !== undefined);
    if (refreshing.length > 0) {
      const controller = new AbortController();
      const pending = new Set(refreshing.map((node) => node.id));
      const refreshes = refreshing.map(async (node) => {
        try {
          await node.receiver.collect!(controller.signal);
        } catch (error) {
          if (!controller.signal.aborted) onError?.(node.id, `refresh failed: ${(error as Error).message}`);
        } finally {
          pending.delete(node.id);
        }
      });
      const timer = deadline(options, controller);
      await Promise.race([Promise.all(refreshes), timer.promise]);
      timer.cancel();
      // What the late receivers hold is exported as it is: stale beats a hung scrape.
      const missed = options.timeoutMs !== undefined && !options.signal?.aborted ? `the ${options.timeoutMs}ms collection deadline` : `the collection deadline (${reasonOf(controller.signal)})`;
      for (const id of pending) onError?.(id, `refresh missed ${missed}`);
    }

    const scopes = new Map<string, ScopeMetrics>();
    for (const [id, node] of receivers) scopes.set(id, node.meter.collect());

    const result: ResourceMetrics[] = [];
    for (const pipeline of pipelines) {
      let metrics: ResourceMetrics = { resource, scopeMetrics: pipeline.receivers.map((node) => scopes.get(node.id)!) };
      try {
        for (const { processor } of pipeline.processors) metrics = processor.process(metrics);
        result.push(metrics);
      } catch (error) {
        logger.error({ pipeline: pipeline.name, err: (error as Error).message }, 'processor failed; pipeline output dropped from this collection');
        onError?.(pipeline.name, `processor failed: ${(error as Error).message}`);
      }
    }
    // The agent's own metrics describe the same target as its pipelines: they take the resource
    // the pipelines' processors made (the first pipeline's), so a resource processor does not
    // leave a second target_info behind with the resource as it was before processing.
    if (self) result.push({ resource: result[0]?.resource ?? resource, scopeMetrics: [self()] });
    return result;
  }
}
