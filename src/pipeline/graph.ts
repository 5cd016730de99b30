// The agent's components as a graph keyed by id and identity, and the plan that takes one
// config's graph to the next's. A component's identity is everything that shapes the running
// instance: its type and config, and for a receiver the views and series limit its meter
// applies and the state directory. Two configs with the same identity for an id describe the
// same instance, so a reload keeps that instance running.
import type { AgentConfig, ComponentConfig } from '../config/load.js';
import { nameMatcher } from '../component/glob.js';
import { isOwnMetricView } from '../metrics/views.js';

export type GraphKind = 'receiver' | 'exporter';

/** Each component the pipelines use, by kind, id to identity. Processors are rebuilt with the pipelines. */
export interface ComponentGraph {
  receivers: Map<string, string>;
  exporters: Map<string, string>;
}

export interface KindPlan {
  /** Same identity in both: left running, state and all. */
  unchanged: string[];
  /** Same id, another identity: the old instance goes, a new one takes its place. */
  replaced: string[];
  added: string[];
  removed: string[];
}

export interface ReloadPlan {
  receivers: KindPlan;
  exporters: KindPlan;
}

/**
 * A text equal for equal values whatever the order of object keys. Configs hold what their
 * schemas produced: numbers, strings, lists, and possibly compiled patterns, maps and sets.
 */
export function identityOf(value: unknown): string {
  return JSON.stringify(canonical(value));
}

function canonical(value: unknown): unknown {
  if (value === undefined) return { $undefined: true };
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint') return { $bigint: value.toString() };
    if (typeof value === 'function') return { $function: value.toString() };
    return value;
  }
  if (Array.isArray(value)) return value.map(canonical);
  if (value instanceof RegExp) return { $regexp: value.source, flags: value.flags };
  if (value instanceof Date) return { $date: value.toISOString() };
  if (value instanceof Map) return { $map: [...value].map(([key, item]) => [canonical(key), canonical(item)]).sort(byText) };
  if (value instanceof Set) return { $set: [...value].map(canonical).sort(byText) };
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  const object = value as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(object)
      .sort()
      .map((key) => [key, canonical(object[key])]),
  );
}

function byText(a: unknown, b: unknown): number {
  const [x, y] = [JSON.stringify(a), JSON.stringify(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

function declared(config: AgentConfig, kind: GraphKind, id: string): ComponentConfig {
  return (kind === 'receiver' ? config.receivers : config.exporters).get(id)!;
}

/**
 * The views of the config that may apply to the receiver `id`: those without a receiver, or
 * whose receiver glob matches it; not those of the agent's own metrics, which a reload
 * changes without touching any receiver.
 */
function viewsFor(config: AgentConfig, id: string): unknown[] {
  return config.views.filter((view) => !isOwnMetricView(view) && (view.receiver === undefined || nameMatcher(view.receiver)(id)));
}

export function receiverIdentity(config: AgentConfig, id: string): string {
  const { type, config: own } = declared(config, 'receiver', id);
  return identityOf({
    type,
    config: own,
    views: viewsFor(config, id),
    seriesLimit: config.service.telemetry.metrics.seriesLimit,
    stateDirectory: config.service.stateDirectory,
  });
}

export function exporterIdentity(config: AgentConfig, id: string): string {
  const { type, config: own } = declared(config, 'exporter', id);
  return identityOf({ type, config: own, stateDirectory: config.service.stateDirectory });
}

export function graphOf(config: AgentConfig): ComponentGraph {
  const receivers = new Map<string, string>();
  const exporters = new Map<string, string>();
  for (const pipeline of config.service.pipelines) {
    for (const id of pipeline.receivers) if (!receivers.has(id)) receivers.set(id, receiverIdentity(config, id));
    for (const id of pipeline.exporters) if (!exporters.has(id)) exporters.set(id, exporterIdentity(config, id));
  }
  return { receivers, exporters };
}

export const EMPTY_GRAPH: ComponentGraph = { receivers: new Map(), exporters: new Map() };

function planKind(current: Map<string, string>, next: Map<string, string>): KindPlan {
  const plan: KindPlan = { unchanged: [], replaced: [], added: [], removed: [] };
  for (const [id, identity] of next) {
    const running = current.get(id);
    if (running === undefined) plan.added.push(id);
    else if (running === identity) plan.unchanged.push(id);
    else plan.replaced.push(id);
  }
  for (const id of current.keys()) if (!next.has(id)) plan.removed.push(id);
  return plan;
}

export function planReload(current: ComponentGraph, next: ComponentGraph): ReloadPlan {
  return { receivers: planKind(current.receivers, next.receivers), exporters: planKind(current.exporters, next.exporters) };
}
