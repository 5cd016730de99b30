// The running agent's components, kept as a graph keyed by id and identity (graph.ts) for
// the agent's whole life. The first config is started downstream first (exporters, then
// receivers); a reload changes only what the new config changes: unchanged components keep
// running with their state, replaced and removed ones are shut down, new ones started, and
// the exporters' sources are handed the new pipelines. A reload that cannot be created
// touches nothing; one that fails to start is rolled back (docs/adr/0011-reload-by-difference.md).
// Whatever was created is shut down, started or not: a receiver that never started still
// holds registrations (the joblog checkpoint store) that its successor needs. Before any of
// that, the implementations a config uses are imported (implementations.ts): the first by
// Service.create, each reload's by reload.
import type { Component, ComponentHealth, HealthSource, Kind, Logger, Processor } from '../component/types.js';
import type { AgentConfig, ComponentConfig, FactoryLookup } from '../config/load.js';
import { MetricStore } from '../metrics/store.js';
import { StateDirectory } from '../state/store.js';
import { isOwnMetricView, ownMetricsView, ViewSet } from '../metrics/views.js';
import { buildResource } from '../telemetry/resource.js';
import type { SelfTelemetry } from '../telemetry/self.js';
import { StatusBoard } from '../telemetry/status.js';
import { EMPTY_GRAPH, graphOf, planReload, type ComponentGraph, type ReloadPlan } from './graph.js';
import { Implementations } from './implementations.js';
import { PipelineSource, type PipelineParts, type Pipeline, type ReceiverNode } from './source.js';

export interface ServiceOptions {
  config: AgentConfig;
  factories: FactoryLookup;
  logger: Logger;
  telemetry: SelfTelemetry;
}

/** One running (or created) receiver or exporter. */
interface Instance {
  id: string;
  kind: 'receiver' | 'exporter';
  component: Component;
  /** Set once a reload replaced or removed it, or its start was rolled back: its status reports go nowhere. */
  retired: boolean;
}

interface ReceiverInstance extends Instance {
  kind: 'receiver';
  node: ReceiverNode;
}

interface ExporterInstance extends Instance {
  kind: 'exporter';
  /** Kept for the exporter's life; a reload swaps the pipelines behind it. */
  source: PipelineSource;
}

type AnyInstance = ReceiverInstance | ExporterInstance;

/** What the service runs for one config. */
interface Graph {
  config: AgentConfig;
  identities: ComponentGraph;
  receivers: Map<string, ReceiverInstance>;
  exporters: Map<string, ExporterInstance>;
  pipelines: Pipeline[];
}

/** A planned change, every new component created, nothing touched yet. */
interface Change {
  next: Graph;
  plan: ReloadPlan;
  /** Instances created for this change (added and replacing): exporters first, the start order. */
  created: AnyInstance[];
  /** Running instances this change replaces or removes: receivers first, the shutdown order. */
  retiring: AnyInstance[];
}

export class ServiceError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'ServiceError';
  }
}

const EMPTY_CONFIG_GRAPH = (config: AgentConfig): Graph => ({
  config,
  identities: EMPTY_GRAPH,
  receivers: new Map(),
  exporters: new Map(),
  pipelines: [],
});

function errorsOf(error: unknown): Error[] {
  return error instanceof AggregateError ? (error.errors as Error[]) : [error as Error];
}

export class Service implements HealthSource {
  private readonly board: StatusBoard;
  private readonly abort = new AbortController();
  private state: 'created' | 'starting' | 'running' | 'reloading' | 'stopping' | 'stopped' = 'created';
  private current: Graph;
  /** The first config's components, created by the constructor and started by start(). */
  private initial?: Change;
  /**
   * The first config's state directory, for the service's life: the agent holds its lock, and a
   * reload naming another directory is refused by the agent before it gets here.
   */
  private readonly stateDirectory: StateDirectory;

  /**
   * Imports the implementations `options.config` uses, then creates its components (started
   * by start()). A failed import throws AGT_ERR_COMPONENT_LOAD, naming the component, before
   * anything is created.
   */
  static async create(options: ServiceOptions): Promise<Service> {
    const implementations = new Implementations(options.factories);
    await loadFor(implementations, options.config);
    return new Service(options, implementations);
  }

  private constructor(
    private readonly options: ServiceOptions,
    private readonly implementations: Implementations,
  ) {
    this.board = new StatusBoard(options.logger);
    this.stateDirectory = new StateDirectory(options.config.service.stateDirectory, options.logger);
    this.current = EMPTY_CONFIG_GRAPH(options.config);
    try {
      this.initial = this.prepare(options.config);
    } catch (error) {
      // The caller gets no service to shut down: what was created let go of its resources in prepare.
      this.state = 'stopped';
      throw error;
    }
  }

  /**
   * Plans the change from what runs to `config` and creates every new component, touching
   * nothing that runs. When a creation fails, what was created is shut down and the error thrown.
   */
  private prepare(config: AgentConfig): Change {
    const identities = graphOf(config);
    const plan = planReload(this.current.identities, identities);
    const views = new ViewSet(
      config.views.filter((view) => !isOwnMetricView(view)),
      config.service.telemetry.metrics.seriesLimit,
    );
    const receivers = new Map<string, ReceiverInstance>();
    const exporters = new Map<string, ExporterInstance>();
    const createdReceivers: ReceiverInstance[] = [];
    const createdExporters: ExporterInstance[] = [];
    try {
      for (const id of identities.receivers.keys()) {
        const kept = plan.receivers.unchanged.includes(id) ? this.current.receivers.get(id) : undefined;
        if (kept) {
          receivers.set(id, kept);
          continue;
        }
        const meter = this.newMeter(id, views);
        const instance = this.createReceiver(id, config, meter);
        createdReceivers.push(instance);
        receivers.set(id, instance);
      }
      const pipelines: Pipeline[] = config.service.pipelines.map((pipeline) => ({
        name: pipeline.name,
        receivers: pipeline.receivers.map((id) => receivers.get(id)!.node),
        // Processors are pure and cheap: made anew with the pipelines, one per pipeline, so
        // one that keeps state never mixes two pipelines.
        processors: pipeline.processors.map((id) => {
          return { id, processor: this.construct('processor', id, config, () => true, {}) as Processor };
        }),
      }));
      const next: Graph = { config, identities, receivers, exporters, pipelines };
      for (const id of identities.exporters.keys()) {
        const kept = plan.exporters.unchanged.includes(id) ? this.current.exporters.get(id) : undefined;
        if (kept) {
          exporters.set(id, kept);
          continue;
        }
        const instance = this.createExporter(id, config, this.newSource(id, next));
        createdExporters.push(instance);
        exporters.set(id, instance);
      }
      const retiring: AnyInstance[] = [
        ...[...plan.receivers.replaced, ...plan.receivers.removed].map((id) => this.current.receivers.get(id)!),
        ...[...plan.exporters.replaced, ...plan.exporters.removed].map((id) => this.current.exporters.get(id)!),
      ];
      return { next, plan, created: [...createdExporters, ...createdReceivers], retiring };
    } catch (error) {
      const created = [...createdReceivers, ...createdExporters];
      this.discarding = this.shutDownAll(created).then(
        () => undefined,
        (shutdownError: unknown) =>
          this.options.logger.warn({ err: (shutdownError as Error).message }, 'components created before the failure shut down with errors'),
      );
      this.forgetStatusOfAllBut(this.current);
      throw error;
    }
  }

  /** The shutdown of what a failed prepare had created, for a reload to wait on. */
  private discarding: Promise<void> = Promise.resolve();

  /**
   * What a component is handed at creation, in one place for every kind. `live` is false once
   * the instance is retired, so a replaced instance never reports over its successor.
   */
  private settingsFor(id: string, kind: Kind, live: () => boolean) {
    const logger = this.options.logger.child({ component: id, kind });
    return {
      id,
      logger,
      status: this.board.reporter(id, kind, live),
      store: this.stateDirectory.storeFor(kind, id, logger),
      telemetry: this.options.telemetry.meter,
    };
  }

  /** Every component is created here: its factory, its settings, and the error that names it. */
  private construct(kind: Kind, id: string, config: AgentConfig, live: () => boolean, extra: object): Component | Processor {
    const section = kind === 'receiver' ? config.receivers : kind === 'processor' ? config.processors : config.exporters;
    const declared = section.get(id) as ComponentConfig;
    const settings = { ...this.settingsFor(id, kind, live), ...extra };
    try {
      return this.implementations.of(kind, declared.type).create(settings as never, declared.config as object);
    } catch (error) {
      throw new ServiceError('AGT_ERR_COMPONENT_CREATE', `failed to create ${kind} "${id}": ${(error as Error).message}`, { cause: error });
    }
  }

  private newMeter(id: string, views: ViewSet): MetricStore {
    return new MetricStore({ scope: id, views, onFold: this.options.telemetry.foldCounter(id) });
  }

  /** A receiver on `meter`: a new one, or on a rollback the meter of the instance it restores, so its counters go on. */
  private createReceiver(id: string, config: AgentConfig, meter: MetricStore): ReceiverInstance {
    const instance = { id, kind: 'receiver', retired: false } as ReceiverInstance;
    const receiver = this.construct('receiver', id, config, () => !instance.retired, { meter }) as ReceiverInstance['node']['receiver'];
    instance.component = receiver;
    instance.node = { id, receiver, meter };
    return instance;
  }

  private createExporter(id: string, config: AgentConfig, source: PipelineSource): ExporterInstance {
    const instance = { id, kind: 'exporter', retired: false, source } as ExporterInstance;
    instance.component = this.construct('exporter', id, config, () => !instance.retired, { source, health: this as HealthSource }) as Component;
    return instance;
  }

  private newSource(id: string, graph: Graph): PipelineSource {
    const { logger } = this.options;
    return new PipelineSource({
      ...this.partsFor(id, graph),
      logger,
      onError: (component, reason) => logger.warn({ component, exporter: id, reason }, 'collection incomplete'),
    });
  }

  /** The pipelines that name exporter `id`, the resource, and the agent's own metrics when enabled. */
  private partsFor(id: string, graph: Graph): PipelineParts {
    const { config, pipelines } = graph;
    const ownViews = ownMetricsView(config.views);
    const self = config.service.telemetry.metrics.enabled
      ? () =>
          ownViews(
            this.options.telemetry.collect({
              components: this.board.components(),
              stores: [...this.current.receivers.values()].map((instance) => instance.node.meter),
            }),
          )
      : undefined;
    return {
      pipelines: pipelines.filter((_, index) => config.service.pipelines[index].exporters.includes(id)),
      resource: buildResource(config.resource),
      self,
    };
  }

  ready(): boolean {
    return this.state === 'running' || this.state === 'reloading';
  }

  components(): ComponentHealth[] {
    return this.board.components();
  }

  /**
   * Starts every component in order. When one fails, every component created is shut down
   * (those not yet started too) and the error names the one that failed, with any errors
   * of that shutdown.
   */
  async start(): Promise<void> {
    if (this.state !== 'created' || !this.initial) throw new ServiceError('AGT_ERR_SERVICE_STATE', `cannot start a service that is ${this.state}`);
    const change = this.initial;
    this.initial = undefined;
    this.state = 'starting';
    try {
      await this.commit(change);
    } catch (error) {
      this.state = 'stopped';
      throw error;
    }
    this.state = 'running';
  }

  /**
   * Takes the running service to `config` by difference and says what changed. Throws, with
   * every running component as it was, when an implementation the config uses cannot be
   * imported or a new component cannot be created; throws after
   * rolling back when one cannot start (what the rollback can keep: the ADR).
   */
  async reload(config: AgentConfig): Promise<ReloadPlan> {
    if (this.state !== 'running') throw new ServiceError('AGT_ERR_SERVICE_STATE', `cannot reload a service that is ${this.state}`);
    this.state = 'reloading';
    try {
      await loadFor(this.implementations, config);
      let change: Change;
      try {
        change = this.prepare(config);
      } catch (error) {
        await this.discarding;
        throw error;
      }
      await this.commit(change);
      return change.plan;
    } finally {
      if (this.state === 'reloading') this.state = 'running';
    }
  }

  /**
   * Retires what the change replaces or removes (so ports and state are let go of before the
   * successors start), starts what it created, and hands every exporter its pipelines.
   * On a failed start, rolls back and throws.
   */
  private async commit(change: Change): Promise<void> {
    const previous = this.current;
    const retireErrors = await this.retire(change.retiring);
    for (const error of retireErrors) this.options.logger.warn({ err: error.message }, 'replaced component shut down with errors');
    this.current = change.next;
    for (const instance of change.created) {
      try {
        this.board.set(instance.id, instance.kind, 'starting');
        await instance.component.start(this.abort.signal);
      } catch (error) {
        const reason = (error as Error).message;
        this.board.set(instance.id, instance.kind, 'failed', reason);
        const rollbackErrors = await this.rollBack(change, previous);
        let message = `failed to start ${instance.kind} "${instance.id}": ${reason}`;
        if (rollbackErrors.length > 0) message += `; then ${rollbackErrors.map((e) => e.message).join('; ')}`;
        const cause = rollbackErrors.length > 0 ? new AggregateError([error, ...rollbackErrors], message) : error;
        throw new ServiceError(rollbackErrors.some((e) => e instanceof RestoreError) ? 'AGT_ERR_RELOAD_RESTORE' : 'AGT_ERR_COMPONENT_START', message, { cause });
      }
      if (this.statusOf(instance.id, instance.kind) === 'starting') this.board.set(instance.id, instance.kind, 'ok');
    }
    for (const [id, exporter] of change.next.exporters) exporter.source.update(this.partsFor(id, change.next));
    this.forgetStatusOfAllBut(change.next);
    // Processors have no start of their own: they are ready once their pipelines are.
    this.board.started('processor');
  }

  /**
   * After a failed start: shuts down every instance the change created, brings back the ones
   * it had retired (new instances of their old config; a receiver on its old meter, an
   * exporter on its old source) and the previous pipelines. Returns what went wrong on the way.
   */
  private async rollBack(change: Change, previous: Graph): Promise<Error[]> {
    const errors: Error[] = [];
    const created = change.created;
    await this.shutDownAll(created, true).catch((error: unknown) => errors.push(...errorsOf(error)));
    if (this.state === 'starting') {
      // Nothing to go back to: /health keeps showing what failed and what stopped.
      this.current = previous;
      return errors;
    }

    const receivers = new Map(previous.receivers);
    const exporters = new Map(previous.exporters);
    const restored: AnyInstance[] = [];
    try {
      for (const old of change.retiring) {
        if (old.kind === 'receiver') {
          const instance = this.createReceiver(old.id, previous.config, old.node.meter);
          receivers.set(old.id, instance);
          restored.push(instance);
        } else {
          const instance = this.createExporter(old.id, previous.config, old.source);
          exporters.set(old.id, instance);
          restored.push(instance);
        }
      }
    } catch (error) {
      errors.push(new RestoreError(`the previous ${(error as Error).message}`));
    }
    const pipelines = previous.pipelines.map((pipeline) => ({ ...pipeline, receivers: pipeline.receivers.map((node) => receivers.get(node.id)?.node ?? node) }));
    this.current = { ...previous, receivers, exporters, pipelines };
    // Downstream first, like every start.
    for (const instance of [...restored.filter((i) => i.kind === 'exporter'), ...restored.filter((i) => i.kind === 'receiver')]) {
      try {
        this.board.set(instance.id, instance.kind, 'starting');
        await instance.component.start(this.abort.signal);
        if (this.statusOf(instance.id, instance.kind) === 'starting') this.board.set(instance.id, instance.kind, 'ok');
      } catch (error) {
        this.board.set(instance.id, instance.kind, 'failed', (error as Error).message);
        errors.push(new RestoreError(`the previous ${instance.kind} "${instance.id}" did not start again: ${(error as Error).message}`));
      }
    }
    for (const [id, exporter] of exporters) exporter.source.update(this.partsFor(id, this.current));
    this.forgetStatusOfAllBut(this.current);
    this.board.started('processor');
    return errors;
  }

  /** Shuts down instances a change replaces or removes, in order; returns the errors. */
  private async retire(instances: AnyInstance[]): Promise<Error[]> {
    for (const instance of instances) instance.retired = true;
    return this.shutDownAll(instances).then(
      () => [],
      (error: unknown) => errorsOf(error),
    );
  }

  /**
   * Shuts instances down upstream first (receivers, then exporters, each in reverse order of
   * creation), going on past failures. With `report`, /health shows them stopping and stopped
   * (one whose start failed keeps that status and its reason).
   */
  private async shutDownAll(instances: AnyInstance[], report = false): Promise<void> {
    const errors: Error[] = [];
    const ordered = [...instances.filter((i) => i.kind === 'exporter'), ...instances.filter((i) => i.kind === 'receiver')].reverse();
    for (const instance of ordered) {
      const failed = report && this.statusOf(instance.id, instance.kind) === 'failed';
      if (report && !failed) this.board.set(instance.id, instance.kind, 'stopping');
      instance.retired = true;
      try {
        await instance.component.shutdown();
        if (report && !failed) this.board.set(instance.id, instance.kind, 'stopped');
      } catch (error) {
        errors.push(new Error(`failed to shut down ${instance.kind} "${instance.id}": ${(error as Error).message}`));
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
  }

  /** Drops from /health every component that `graph` does not run. */
  private forgetStatusOfAllBut(graph: Graph): void {
    const processors = new Set(graph.pipelines.flatMap((pipeline) => pipeline.processors.map((node) => node.id)));
    for (const { id, kind } of this.board.components()) {
      const kept = kind === 'receiver' ? graph.receivers.has(id) : kind === 'exporter' ? graph.exporters.has(id) : processors.has(id);
      if (!kept) this.board.remove(id, kind);
    }
  }

  /**
   * Shuts down every component created, started or not (the component contract makes that
   * safe): receivers first (upstream), so exporters can still serve what they drained. Idempotent.
   */
  async shutdown(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') {
      await this.discarding;
      return;
    }
    this.state = 'stopping';
    this.abort.abort();
    const instances: AnyInstance[] = this.initial
      ? this.initial.created
      : [...this.current.receivers.values(), ...this.current.exporters.values()];
    this.initial = undefined;
    try {
      await this.shutDownAll(instances, true);
    } finally {
      await this.discarding;
      this.state = 'stopped';
    }
  }

  private statusOf(id: string, kind: Kind) {
    return this.board.components().find((c) => c.id === id && c.kind === kind)?.status;
  }
}

/** Imports what `config` uses; a failure is a ServiceError naming the component. */
async function loadFor(implementations: Implementations, config: AgentConfig): Promise<void> {
  try {
    await implementations.loadFor(config);
  } catch (error) {
    throw new ServiceError('AGT_ERR_COMPONENT_LOAD', (error as Error).message, { cause: error });
  }
}

/** A retired component that a rollback could not bring back. */
export class RestoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreError';
  }
}
