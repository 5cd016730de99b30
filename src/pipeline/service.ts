// The running agent for one config: builds every component the pipelines name, starts them
// downstream first (exporters, then receivers) and shuts them down upstream first. Whatever
// was created is shut down, started or not: a receiver that never started still holds
// registrations (the joblog checkpoint store) that the next service of the process needs.
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

interface Entry {
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
  private readonly abort = new AbortController();
  private state: 'created' | 'starting' | 'running' | 'stopping' | 'stopped' = 'created';

  constructor(private readonly options: ServiceOptions) {
    this.board = new StatusBoard(options.logger);
    try {
      this.build();
    } catch (error) {
      // The caller gets no service to shut down: what was created lets go of its resources here.
      this.shutdown().catch((shutdownError: unknown) =>
        options.logger.warn({ err: (shutdownError as Error).message }, 'components created before the failure shut down with errors'),
      );
      throw error;
    }
  }

  private build(): void {
    const { config, factories, logger, telemetry } = this.options;
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

  /** Start order: exporters first, so nothing a receiver produces has nowhere to go. */
  private entries(): Entry[] {
    return [
      ...[...this.exporters].map(([id, component]) => ({ id, kind: 'exporter' as const, component })),
      ...[...this.receivers.values()].map((node) => ({ id: node.id, kind: 'receiver' as const, component: node.receiver })),
    ];
  }

  /**
   * Starts every component in order. When one fails, every component created is shut down
   * (those not yet started too) and the error names the one that failed, with any errors
   * of that shutdown.
   */
  async start(): Promise<void> {
    if (this.state !== 'created') throw new ServiceError('AGT_ERR_SERVICE_STATE', `cannot start a service that is ${this.state}`);
    this.state = 'starting';
    for (const entry of this.entries()) {
      try {
        await entry.component.start(this.abort.signal);
      } catch (error) {
        const reason = (error as Error).message;
        this.board.set(entry.id, entry.kind, 'failed', reason);
        const shutdownErrors = await this.shutdown().then(
          (): Error[] => [],
          (shutdownError: unknown) => (shutdownError instanceof AggregateError ? (shutdownError.errors as Error[]) : [shutdownError as Error]),
        );
        let message = `failed to start ${entry.kind} "${entry.id}": ${reason}`;
        if (shutdownErrors.length > 0) message += `; then ${shutdownErrors.map((e) => e.message).join('; ')}`;
        const cause = shutdownErrors.length > 0 ? new AggregateError([error, ...shutdownErrors], message) : error;
        throw new ServiceError('AGT_ERR_COMPONENT_START', message, { cause });
      }
      if (this.statusOf(entry.id, entry.kind) === 'starting') this.board.set(entry.id, entry.kind, 'ok');
    }
    // Processors have no start of their own: they are ready once their pipelines are.
    this.board.started('processor');
    this.state = 'running';
  }

  /**
   * Shuts down every component created, started or not (the component contract makes that
   * safe): receivers first (upstream), so exporters can still serve what they drained. Idempotent.
   */
  async shutdown(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.state = 'stopping';
    this.abort.abort();
    const errors: Error[] = [];
    for (const entry of this.entries().reverse()) {
      // A component whose start failed keeps that status and its reason in /health.
      const failed = this.statusOf(entry.id, entry.kind) === 'failed';
      if (!failed) this.board.set(entry.id, entry.kind, 'stopping');
      try {
        await entry.component.shutdown();
        if (!failed) this.board.set(entry.id, entry.kind, 'stopped');
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
