// The implementations of the component types the agent's configs use, imported on first use
// and kept for the agent's life (a reload back to an earlier config, or a rollback, finds them
// loaded). The registry holds schemas only: a type no pipeline names is never imported, nor
// are its libraries (docs/adr/0013-lazy-implementations.md).
import type {
  ExporterImplementation,
  FactoryLookup,
  Kind,
  ProcessorImplementation,
  ReceiverImplementation,
} from '../component/types.js';
import type { AgentConfig } from '../config/load.js';

type Implementation = ReceiverImplementation | ProcessorImplementation | ExporterImplementation;

/** A type whose implementation could not be imported, with the first component that uses it. */
export class ImplementationLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImplementationLoadError';
  }
}

export class Implementations {
  private readonly loaded = new Map<string, Implementation>();

  constructor(private readonly factories: FactoryLookup) {}

  /**
   * Imports what `config`'s pipelines use and is not loaded yet, all at once. Throws one
   * error naming, for each type that failed, the first component of that type.
   */
  async loadFor(config: AgentConfig): Promise<void> {
    const wanted = new Map<string, { kind: Kind; type: string; id: string }>();
    const want = (kind: Kind, id: string) => {
      const section = kind === 'receiver' ? config.receivers : kind === 'processor' ? config.processors : config.exporters;
      const type = section.get(id)!.type;
      const key = keyOf(kind, type);
      if (!this.loaded.has(key) && !wanted.has(key)) wanted.set(key, { kind, type, id });
    };
    for (const pipeline of config.service.pipelines) {
      for (const id of pipeline.receivers) want('receiver', id);
      for (const id of pipeline.processors) want('processor', id);
      for (const id of pipeline.exporters) want('exporter', id);
    }
    const results = await Promise.allSettled(
      [...wanted].map(async ([key, { kind, type }]) => {
        const implementation = await this.factoryOf(kind, type).load();
        this.loaded.set(key, implementation);
      }),
    );
    const failures = [...wanted.values()].flatMap(({ kind, type, id }, index) => {
      const result = results[index];
      if (result.status === 'fulfilled') return [];
      return [{ message: `failed to load ${kind} "${id}" (type ${type}): ${(result.reason as Error)?.message ?? String(result.reason)}`, cause: result.reason }];
    });
    if (failures.length === 1) throw new ImplementationLoadError(failures[0].message, { cause: failures[0].cause });
    if (failures.length > 1) {
      const message = failures.map((failure) => failure.message).join('; ');
      throw new ImplementationLoadError(message, { cause: new AggregateError(failures.map((failure) => failure.cause), message) });
    }
  }

  /** The loaded implementation of a type; `loadFor` a config that uses it must have run. */
  of(kind: 'receiver', type: string): ReceiverImplementation;
  of(kind: 'processor', type: string): ProcessorImplementation;
  of(kind: 'exporter', type: string): ExporterImplementation;
  of(kind: Kind, type: string): Implementation;
  of(kind: Kind, type: string): Implementation {
    const implementation = this.loaded.get(keyOf(kind, type));
    if (!implementation) throw new Error(`the ${kind} type "${type}" was not loaded before use`);
    return implementation;
  }

  private factoryOf(kind: Kind, type: string) {
    const { receivers, processors, exporters } = this.factories;
    const factory = (kind === 'receiver' ? receivers : kind === 'processor' ? processors : exporters).get(type);
    // Config loading refused unknown types already; this guards a lookup handed another config.
    if (!factory) throw new Error(`no ${kind} type "${type}" in this build`);
    return factory;
  }
}

function keyOf(kind: Kind, type: string): string {
  return `${kind}:${type}`;
}
