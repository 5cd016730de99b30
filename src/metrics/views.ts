// Views: how the config's `views:` list reshapes every receiver's instruments.
// Resolved once per instrument when a receiver creates it, so the hot path pays nothing.
// A view whose instrument begins with `otel_agent.` is about the agent's own metrics instead:
// those live in the self-telemetry's stores for the process's life, across reloads, so such a
// view renames, redescribes or drops them as they are collected (ownMetricsView), and can do
// nothing that needs the store (buckets, attribute filters, series limits).
import type { MetricData, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type { Attributes } from '../component/types.js';
import { nameMatcher } from '../component/glob.js';

export interface ViewRule {
  /** Glob (`*`, `?`, `[0-9]`, `{a,b}`: src/component/glob.ts) on the instrument name as the receiver wrote it. */
  instrument: string;
  /** Glob on the receiver id (`joblog/*`); all receivers when absent. */
  receiver?: string;
  name?: string;
  description?: string;
  buckets?: number[];
  attributes?: { allow?: string[]; deny?: string[] };
  drop?: boolean;
  seriesLimit?: number;
}

/** How the agent's own instrument names begin (the self-telemetry and every component's `telemetry` meter). */
export const OWN_METRIC_PREFIX = 'otel_agent.';

/** True for a view of the agent's own metrics; it applies to no receiver's. */
export function isOwnMetricView(rule: Pick<ViewRule, 'instrument'>): boolean {
  return rule.instrument.startsWith(OWN_METRIC_PREFIX);
}

export type AttributeFilter = (attributes: Attributes) => Attributes;

/** What a view decided for one instrument of one receiver. */
export interface StreamSettings {
  name: string;
  description?: string;
  buckets?: readonly number[];
  /** Present only when a view keeps a subset of attribute keys. */
  filter?: AttributeFilter;
  drop: boolean;
  seriesLimit: number;
}

/** Names answered before a matcher starts its memory afresh: names are few, but not bounded by the matcher. */
const MAX_REMEMBERED_NAMES = 4096;

/**
 * True for a name matching any of `globs`. Processors ask it for every metric of every
 * collection, and metric names repeat: each name's answer is remembered.
 */
export function globsMatcher(globs: readonly string[]): (name: string) => boolean {
  const patterns = globs.map(nameMatcher);
  const answers = new Map<string, boolean>();
  return (name) => {
    let answer = answers.get(name);
    if (answer === undefined) {
      answer = patterns.some((matches) => matches(name));
      if (answers.size >= MAX_REMEMBERED_NAMES) answers.clear();
      answers.set(name, answer);
    }
    return answer;
  };
}

function allowFilter(keys: readonly string[]): AttributeFilter {
  return (attributes) => {
    const kept: Attributes = {};
    for (const key of keys) if (attributes[key] !== undefined) kept[key] = attributes[key];
    return kept;
  };
}

function denyFilter(keys: readonly string[]): AttributeFilter {
  const denied = new Set(keys);
  return (attributes) => {
    const kept: Attributes = {};
    for (const key in attributes) if (!denied.has(key)) kept[key] = attributes[key];
    return kept;
  };
}

interface CompiledRule {
  rule: ViewRule;
  instrument: (name: string) => boolean;
  receiver?: (id: string) => boolean;
}

export class ViewSet {
  private readonly rules: CompiledRule[];

  constructor(rules: readonly ViewRule[] = [], private readonly defaultSeriesLimit = 2000) {
    this.rules = rules.map((rule) => ({
      rule,
      instrument: nameMatcher(rule.instrument),
      receiver: rule.receiver === undefined ? undefined : nameMatcher(rule.receiver),
    }));
  }

  /** Every matching view applies, in config order; a later view's keys win. */
  resolve(receiverId: string, instrumentName: string): StreamSettings {
    const settings: StreamSettings = { name: instrumentName, drop: false, seriesLimit: this.defaultSeriesLimit };
    for (const { rule, instrument, receiver } of this.rules) {
      if (!instrument(instrumentName)) continue;
      if (receiver && !receiver(receiverId)) continue;
      if (rule.name !== undefined) settings.name = rule.name;
      if (rule.description !== undefined) settings.description = rule.description;
      if (rule.buckets !== undefined) settings.buckets = rule.buckets;
      if (rule.drop !== undefined) settings.drop = rule.drop;
      if (rule.seriesLimit !== undefined) settings.seriesLimit = rule.seriesLimit;
      if (rule.attributes?.allow) settings.filter = allowFilter(rule.attributes.allow);
      else if (rule.attributes?.deny) settings.filter = denyFilter(rule.attributes.deny);
    }
    return settings;
  }
}

/**
 * The views of the agent's own metrics (`rules` filtered by isOwnMetricView), applied to each
 * collection of them: every matching view in config order, a later one's keys winning, as
 * for receivers. Metrics no view names pass as they are, the same objects.
 */
export function ownMetricsView(rules: readonly ViewRule[]): (scope: ScopeMetrics) => ScopeMetrics {
  const own = rules.filter(isOwnMetricView);
  if (own.length === 0) return (scope) => scope;
  const views = new ViewSet(own);
  // Own metric names are a few dozen, fixed by the code: each is resolved once.
  const resolved = new Map<string, StreamSettings>();
  const settingsOf = (name: string) => {
    let settings = resolved.get(name);
    if (settings === undefined) {
      settings = views.resolve('', name);
      resolved.set(name, settings);
    }
    return settings;
  };
  return (scope) => {
    const metrics: MetricData[] = [];
    for (const metric of scope.metrics) {
      const { descriptor } = metric;
      const settings = settingsOf(descriptor.name);
      if (settings.drop) continue;
      if (settings.name === descriptor.name && settings.description === undefined) metrics.push(metric);
      else metrics.push({ ...metric, descriptor: { ...descriptor, name: settings.name, description: settings.description ?? descriptor.description } });
    }
    return { ...scope, metrics };
  };
}
