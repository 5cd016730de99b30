// From a receiver's config section to what handles its events: the line parser, the mapping
// it feeds, and the refusal counter both report to; with the mapping's state and the metric
// values saved and brought back through whatever store the receiver keeps (joblog: its
// checkpoints), in the same write as the receiver's positions.
import type { Logger, Meter, ReceiverSettings } from '../component/types.js';
import { compiledEventHandling, type EventHandlingConfig } from './config.js';
import { compileMapping, fieldsRead, type EventMapper, type EventRecord, type MappingRefusal, type SavedState } from './mapping/index.js';
import { compileLineParser, type LineParser, type ParseRefusal } from './parse.js';
import { RefusalCounter } from './refusals.js';

/** A receiver's saved state: a plain object written as JSON with its positions, or nothing yet. */
export type SavedReceiverState = Record<string, unknown>;

/**
 * Where a receiver keeps its state: what was saved last (read once at start), and a provider
 * asked for the state anew at each write.
 */
export interface ReceiverStateSlot {
  state(): SavedReceiverState | undefined;
  provideState(provider: () => SavedReceiverState | undefined): void;
}

/** The refusals parsing can produce with this config, before any mapping. */
export function parseRefusals(config: Pick<EventHandlingConfig, 'format' | 'timestamp'>): ParseRefusal[] {
  const reasons: ParseRefusal[] = ['empty_line'];
  if (config.format === 'json') reasons.push('invalid_json', 'not_an_object', 'too_deep');
  if (config.format === 'logfmt') reasons.push('invalid_logfmt');
  if (config.format === 'regex') reasons.push('no_match');
  if (config.timestamp !== undefined) reasons.push('missing_timestamp', 'invalid_timestamp');
  return reasons;
}

export interface EventPipelineOptions {
  /** Refusals the receiver itself reports (`line_too_long`, say), started at 0 with the parser's. */
  receiverRefusals?: readonly string[];
  /** Where the event being handled came from (a file, a topic), named in refusal logs. */
  source?: () => string | undefined;
  /**
   * Save the meter's values (counters, histograms, gauges, start times) with the mapping's
   * state and bring them back at start: the receiver's `persist`. Default false.
   */
  persistValues?: boolean;
  /** Fields added to every record before it is mapped (an MQTT topic's segments); the record's own win. */
  recordFields?: () => EventRecord | undefined;
}

export class EventPipeline {
  /** Parses one message and hands its record, if any, to the mapping. */
  readonly parse: LineParser;
  readonly mapper: EventMapper;
  readonly refusals: RefusalCounter;
  /** True when a record's time comes from one of its fields: `parse` then ignores its `receivedMs`. */
  readonly recordTimeFromField: boolean;
  private readonly receiverId: string;
  private readonly logger: Logger;
  private readonly meter: Meter;
  private readonly persistValues: boolean;
  /** Instruments the mapping rebuilds from its own state (open-pair counts): never saved as values. */
  private readonly derived: ReadonlySet<string>;

  constructor(
    settings: Pick<ReceiverSettings, 'id' | 'logger' | 'meter' | 'telemetry'>,
    config: EventHandlingConfig,
    options: EventPipelineOptions = {},
  ) {
    const { id, logger, telemetry } = settings;
    this.receiverId = id;
    this.logger = logger;
    this.meter = settings.meter;
    this.persistValues = options.persistValues === true;
    const source = options.source ?? (() => undefined);
    this.refusals = new RefusalCounter(telemetry, id, logger);
    this.refusals.expect([...(options.receiverRefusals ?? []), ...parseRefusals(config)]);
    const { lineParser, metrics } = compiledEventHandling(config);
    this.derived = new Set(metrics.flatMap((metric) => (metric.pair?.active === undefined ? [] : [metric.pair.active])));
    this.mapper = compileMapping(metrics, {
      meter: settings.meter,
      onRefused: (reason: MappingRefusal) => this.refusals.refuse(reason, source()),
    });
    const recordFields = options.recordFields;
    const sink = {
      onRecord:
        recordFields === undefined
          ? (record: EventRecord, timeMs: number) => this.mapper.map(record, timeMs)
          : (record: EventRecord, timeMs: number) => this.mapper.map({ ...recordFields(), ...record }, timeMs),
      onRefused: (reason: ParseRefusal) => this.refusals.refuse(reason, source()),
    };
    // Parsers make strings of these fields only.
    this.parse = compileLineParser(lineParser, sink, fieldsRead(metrics));
    this.recordTimeFromField = config.timestamp !== undefined;
  }

  /**
   * What the mapping keeps (open pairs, elapsed clocks, gauges' last values) and, with
   * `persistValues`, the meter's values; undefined when nothing. Synchronous: taken in one
   * run with the positions it is written beside.
   */
  saveState(): SavedReceiverState | undefined {
    const mapping = this.mapper.saveState();
    const metrics = this.persistValues ? this.meter.snapshot?.({ exclude: this.derived }) : undefined;
    const state: SavedReceiverState = {};
    if (Object.keys(mapping).length > 0) state.mapping = mapping;
    if (metrics !== undefined && metrics.instruments.length > 0) state.metrics = metrics;
    return Object.keys(state).length === 0 ? undefined : state;
  }

  /**
   * Brings back what `saveState` gave, before any event comes. `savedAt` (ISO text), when the
   * store adds it, lets elapsed clocks count the time the agent was down.
   */
  restoreState(saved: SavedReceiverState | undefined): void {
    // Values first: the mapping's restore then sets gauges and counts open pairs over them.
    if (this.persistValues && saved?.metrics !== undefined && this.meter.restore !== undefined) {
      const { series, dropped } = this.meter.restore(saved.metrics);
      if (series > 0 || dropped > 0) {
        this.logger.info({ receiver: this.receiverId, series, dropped }, 'metric values restored: counters continue from where they were');
      }
    }
    if (typeof saved?.mapping !== 'object' || saved.mapping === null) return;
    const savedAt = typeof saved.savedAt === 'string' ? Date.parse(saved.savedAt) : NaN;
    const now = Date.now();
    const restored = this.mapper.restoreState(saved.mapping as SavedState, now, Number.isFinite(savedAt) ? savedAt : now);
    if (restored > 0) this.logger.info({ receiver: this.receiverId, restored }, 'mapping state restored: open pairs, clocks and gauges');
  }

  /** Restores from `slot` what it holds, then has each of its writes save the mapping anew. */
  keepStateIn(slot: ReceiverStateSlot): void {
    this.restoreState(slot.state());
    slot.provideState(() => this.saveState());
  }
}
