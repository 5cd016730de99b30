// The config keys every event receiver shares: how a message becomes a record (`format`,
// `regex`, `include`, `exclude`, `timestamp`) and how records become metrics (`metrics`).
// A receiver spreads `eventParsingShape` into its strict object, adds `metrics:
// eventMetricsSchema`, and refines the whole with `checkEventHandling`.
import { z } from 'zod';
import { conditionsSchema, fieldReferences, metricsSchema, type MetricMapping } from './mapping/index.js';
import { checkLineParser, lineParserShape, regexFields, type LineParserConfig } from './parse.js';

/** Marks the messages zod would word by itself, so that the loader's own wording replaces them. */
const ZOD_WORDING = '\u0000zod';

function withoutZodWording(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  const { message, ...rest } = issue as z.core.$ZodIssue & { errors?: z.core.$ZodIssue[][] };
  if (rest.errors) rest.errors = rest.errors.map((branch) => branch.map(withoutZodWording));
  return (message === ZOD_WORDING ? rest : { ...rest, message }) as z.core.$ZodIssue;
}

/**
 * Checked by `schema`, kept as written. The mapping's parsed form (shorthands expanded,
 * camelCase) is not YAML an operator writes, and print-config must print a config the loader
 * takes back; `compiledEventHandling` parses these keys again when the receiver is created.
 */
export function checkedAsWritten<S extends z.ZodType>(schema: S): z.ZodType<z.input<S>, z.input<S>> {
  return z.unknown().superRefine((value, ctx) => {
    const result = schema.safeParse(value, { error: () => ZOD_WORDING, reportInput: true });
    if (result.success) return;
    for (const issue of result.error.issues) ctx.addIssue(withoutZodWording(issue) as Parameters<typeof ctx.addIssue>[0]);
  }) as unknown as z.ZodType<z.input<S>, z.input<S>>;
}

/** The parsing keys, to spread into a receiver's strict object. */
export const eventParsingShape = {
  ...lineParserShape,
  include: checkedAsWritten(conditionsSchema).optional(),
  exclude: checkedAsWritten(conditionsSchema).optional(),
};

/** Records -> measurements: see the mapping's documentation. */
export const eventMetricsSchema = checkedAsWritten(metricsSchema);

/** The shared keys as a receiver's schema gives them back. */
export interface EventHandlingConfig {
  format: LineParserConfig['format'];
  regex?: string;
  include?: z.input<typeof conditionsSchema>;
  exclude?: z.input<typeof conditionsSchema>;
  timestamp?: LineParserConfig['timestamp'];
  metrics: z.input<typeof metricsSchema>;
}

/** The refinements of the shared keys: a `regex` with `format: regex` only, and only the fields it gives read. */
export function checkEventHandling(config: Record<string, unknown>, ctx: z.RefinementCtx): void {
  checkLineParser(config, ctx);
  checkRegexFields(config, ctx);
}

/**
 * With `format: regex`, records hold the regex's named groups and nothing else: a field read
 * anywhere else (a typo, a group renamed) would only ever be missing, so it is refused when
 * the config loads instead of counted as `missing_field` on every line.
 */
function checkRegexFields(config: Record<string, unknown>, ctx: z.RefinementCtx): void {
  if (config.format !== 'regex' || typeof config.regex !== 'string') return;
  const groups = regexFields(config.regex);
  if (groups === undefined) return;
  const given = new Set(groups);
  const references: Array<{ field: string; path: Array<string | number> }> = [];
  for (const side of ['include', 'exclude'] as const) {
    const conditions = conditionsSchema.safeParse(config[side]);
    if (conditions.success) for (const field of Object.keys(conditions.data)) references.push({ field, path: [side, field] });
  }
  const timestamp = config.timestamp as { field?: unknown } | undefined;
  if (typeof timestamp?.field === 'string') references.push({ field: timestamp.field, path: ['timestamp', 'field'] });
  const metrics = metricsSchema.safeParse(config.metrics);
  if (metrics.success) for (const { field, path } of fieldReferences(metrics.data)) references.push({ field, path: ['metrics', ...path] });
  for (const { field, path } of references) {
    if (given.has(field)) continue;
    ctx.addIssue({ code: 'custom', path, message: `expected a field the regex gives (${groups.join(', ')}), found "${field}"` });
  }
}

/** The parser's and the mapping's parsed forms of a checked config. */
export function compiledEventHandling(config: EventHandlingConfig): { lineParser: LineParserConfig; metrics: MetricMapping[] } {
  const lineParser: LineParserConfig = {
    format: config.format,
    ...(config.regex !== undefined && { regex: config.regex }),
    ...(config.include !== undefined && { include: conditionsSchema.parse(config.include) }),
    ...(config.exclude !== undefined && { exclude: conditionsSchema.parse(config.exclude) }),
    ...(config.timestamp !== undefined && { timestamp: config.timestamp }),
  };
  return { lineParser, metrics: metricsSchema.parse(config.metrics) };
}
