// The running agent for one config: builds every component the pipelines name, starts them
// downstream first (exporters, then receivers) and shuts them down upstream first.
import type {
  Component,
  ComponentHealth,
  ExporterFactory,
  HealthSource,
  Kind,
  Logger,
  ProcessorFactory,
  ReceiverFactory,
} from '../component/types.js';
import type { AgentConfig, FactoryLookup } from '../config/load.js';
import { MetricStore } from '../metrics/store.js';
import { ViewSet } from '../metrics/views.js';
import { buildResource } from '../telemetry/resource.js';
import type { SelfTelemetry } from '../telemetry/self.js';
import { StatusBoard } from '../telemetry/status.js';
import { PipelineSource, type Pipeline, type ReceiverNode } from './source.js';

export interface ServiceOptions {
  config: AgentConfig;
  factories: FactoryLookup;
  logger: Logger;
  telemetry: SelfTelemetry;
}

interface Started {
  id: string;
  kind: Kind;
  component: Component;
}

export class ServiceError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'ServiceError';
  }
}

export class Service implements HealthSource {
  private readonly board: StatusBoard;
  private readonly receivers = new Map<string, ReceiverNode>();
  private readonly exporters = new Map<string, Component>();
  private readonly running: Started[] = [];
  private readonly abort = new AbortController();
  private state: 'created' | 'starting' | 'running' | 'stopping' | 'stopped' = 'created';

  constructor(private readonly options: ServiceOptions) {
    const { config, factories, logger, telemetry } = options;
    this.board = new StatusBoard(logger);
    const views = new ViewSet(config.views, config.service.telemetry.metrics.seriesLimit);
    const resource = buildResource(config.resource);

    const pipelines: Pipeline[] = config.service.pipelines.map((pipeline) => ({
      name: pipeline.name,
      receivers: pipeline.receivers.map((id) => this.receiverNode(id, views)),
      // Processors are created per pipeline: one that keeps state never mixes two pipelines.
      processors: pipeline.processors.map((id) => {
        const declared = config.processors.get(id)!;
        const factory = factories.processors.get(declared.type) as ProcessorFactory;
        return { id, processor: this.create('processor', id, () => factory.create(this.settingsFor(id, 'processor'), declared.config as object)) };
      }),
    }));

    const self = config.service.telemetry.metrics.enabled
      ? () => telemetry.collect({ components: this.board.components(), stores: [...this.receivers.values()].map((node) => node.meter) })
      : undefined;
    const exporterIds = new Set(config.service.pipelines.flatMap((pipeline) => pipeline.exporters));
    for (const id of exporterIds) {
      const declared = config.exporters.get(id)!;
      const factory = factories.exporters.get(declared.type) as ExporterFactory;
      const source = new PipelineSource({
        pipelines: pipelines.filter((_, index) => config.service.pipelines[index].exporters.includes(id)),
        resource,
        self,
        logger,
        onError: (component, reason) => logger.warn({ component, exporter: id, reason }, 'collection incomplete'),
      });
      const settings = { ...this.settingsFor(id, 'exporter'), source, health: this as HealthSource };
      this.exporters.set(id, this.create('exporter', id, () => factory.create(settings, declared.config as object)));
    }
  }

  private settingsFor(id: string, kind: Kind) {
    return {
      id,
      logger: this.options.logger.child({ component: id, kind }),
      status: this.board.reporter(id, kind),
      stateDir: this.options.config.service.stateDirectory,
      telemetry: this.options.telemetry.meter,
    };
  }

  private create<T>(kind: Kind, id: string, create: () => T): T {
    try {
      return create();
    } catch (error) {
      throw new ServiceError('AGT_ERR_COMPONENT_CREATE', `failed to create ${kind} "${id}": ${(error as Error).message}`, { cause: error });
    }
  }

  /** One receiver instance however many pipelines name it. */
  private receiverNode(id: string, views: ViewSet): ReceiverNode {
    const existing = this.receivers.get(id);
    if (existing) return existing;
    const { config, factories, telemetry } = this.options;
    const declared = config.receivers.get(id)!;
    const factory = factories.receivers.get(declared.type) as ReceiverFactory;
    const meter = new MetricStore({ scope: id, views, onFold: telemetry.foldCounter(id) });
    const receiver = this.create('receiver', id, () => factory.create({ ...this.settingsFor(id, 'receiver'), meter }, declared.config as object));
    const node = { id, receiver, meter };
    this.receivers.set(id, node);
    return node;
  }

  ready(): boolean {
    return this.state === 'running';
  }

  components(): ComponentHealth[] {
    return this.board.components();
  }

  /** Exporters first, so nothing a receiver produces has nowhere to go; rolls back on failure. */
  async start(): Promise<void> {
    if (this.state !== 'created') throw new ServiceError('AGT_ERR_SERVICE_STATE', `cannot start a service that is ${this.state}`);
    this.state = 'starting';
    const order: Started[] = [
      ...[...this.exporters].map(([id, component]) => ({ id, kind: 'exporter' as const, component })),
      ...[...this.receivers.values()].map((node) => ({ id: node.id, kind: 'receiver' as const, component: node.receiver })),
    ];
    for (const entry of order) {
      try {
        await entry.component.start(this.abort.signal);
      } catch (error) {
        const reason = (error as Error).message;
        this.board.set(entry.id, entry.kind, 'failed', reason);
        await this.shutdown().catch(() => undefined);
        throw new ServiceError('AGT_ERR_COMPONENT_START', `failed to start ${entry.kind} "${entry.id}": ${reason}`, { cause: error });
      }
      this.running.push(entry);
      if (this.statusOf(entry.id, entry.kind) === 'starting') this.board.set(entry.id, entry.kind, 'ok');
    }
    // Processors have no start of their own: they are ready once their pipelines are.
    this.board.started('processor');
    this.state = 'running';
  }

  /** Receivers first (upstream), so exporters can still serve what they drained. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.state = 'stopping';
    this.abort.abort();
    const errors: Error[] = [];
    for (const entry of this.running.reverse()) {
      this.board.set(entry.id, entry.kind, 'stopping');
      try {
        await entry.component.shutdown();
        this.board.set(entry.id, entry.kind, 'stopped');
      } catch (error) {
        errors.push(new Error(`failed to shut down ${entry.kind} "${entry.id}": ${(error as Error).message}`));
      }
    }
    this.state = 'stopped';
    if (errors.length > 0) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
  }

  private statusOf(id: string, kind: Kind) {
    return this.board.components().find((c) => c.id === id && c.kind === kind)?.status;
  }
}
