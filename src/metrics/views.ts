// Views: how the config's `views:` list reshapes every receiver's instruments.
// Resolved once per instrument when a receiver creates it, so the hot path pays nothing.
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
