// The joblog receiver's config: which files, how lines become records (parse.ts), and how
// records become metrics (the shared mapping). YAML keys are snake_case; durations and sizes
// are parsed to milliseconds and bytes.
import { z } from 'zod';
import { duration, size } from '../../component/schema.js';
import { conditionsSchema, fieldReferences, metricsSchema, type MetricMapping } from '../../events/mapping/index.js';
import { checkLineParser, lineParserShape, regexFields, type LineParserConfig } from '../../events/parse.js';

/** The only encoding read; anything else is refused when the config loads, not guessed at. */
export const ENCODINGS = ['utf-8'] as const;

/** A partial line held longer than this is refused: it bounds the memory one file can take. */
const MAX_LINE_BYTES_LIMIT = 16 * 1024 * 1024;

function absoluteGlobs(what: string) {
  return z
    .array(
      z.string().refine((pattern) => pattern.startsWith('/'), {
        error: (issue) => `expected an absolute path or glob, like /var/log/app/${what}, found ${JSON.stringify(issue.input)}`,
      }),
    )
    .min(1);
}

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
 * takes back; the receiver parses these keys again when it is created.
 */
function checkedAsWritten<S extends z.ZodType>(schema: S): z.ZodType<z.input<S>, z.input<S>> {
  return z.unknown().superRefine((value, ctx) => {
    const result = schema.safeParse(value, { error: () => ZOD_WORDING, reportInput: true });
    if (result.success) return;
    for (const issue of result.error.issues) ctx.addIssue(withoutZodWording(issue) as Parameters<typeof ctx.addIssue>[0]);
  }) as unknown as z.ZodType<z.input<S>, z.input<S>>;
}

/** A duration of whole milliseconds, at least `minimumMs`. */
function interval(fallback: string, minimumMs: number) {
  return duration()
    .refine((ms) => ms >= minimumMs, { message: `must be at least ${minimumMs}ms` })
    .transform((ms) => Math.round(ms))
    .prefault(fallback);
}

export const configSchema = z
  .strictObject({
    /** Files to follow: absolute globs (`*`, `?` within a segment, `**` for any depth). */
    paths: absoluteGlobs('*.log'),
    /** Paths never read, matched against the whole path: rotated archives (`/var/log/app/*.gz`). */
    exclude_paths: absoluteGlobs('*.gz').optional(),
    /** For files found at start-up without a checkpoint: read from their end or their beginning. */
    start_at: z.enum(['end', 'beginning']).default('end'),
    ...lineParserShape,
    include: checkedAsWritten(conditionsSchema).optional(),
    exclude: checkedAsWritten(conditionsSchema).optional(),
    /** Longer lines are refused (`line_too_long`) and skipped to their newline. */
    max_line_bytes: size()
      .refine((bytes) => bytes >= 1 && bytes <= MAX_LINE_BYTES_LIMIT, { message: 'must be between 1B and 16MiB' })
      .prefault('64KiB'),
    encoding: z
      .string()
      .refine((name) => (ENCODINGS as readonly string[]).includes(name.toLowerCase()), {
        error: (issue) =>
          `expected utf-8 (the only encoding read; convert other logs with iconv first), found ${JSON.stringify(issue.input)}`,
      })
      .transform((): (typeof ENCODINGS)[number] => 'utf-8')
      .default('utf-8'),
    /** How often the globs are expanded and files checked for growth. */
    poll_interval: interval('250ms', 10),
    /** A last line without its newline is handed on after the file has been quiet this long. */
    flush_timeout: interval('5s', 1),
    /** How often read offsets are written to the state directory when they moved. */
    checkpoint_interval: interval('1s', 10),
    /** Records -> measurements: see the mapping's documentation. */
    metrics: checkedAsWritten(metricsSchema),
  })
  .superRefine(checkLineParser, { when: ({ value }) => typeof value === 'object' && value !== null })
  .superRefine(checkRegexFields, { when: ({ value }) => typeof value === 'object' && value !== null });

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

export type JoblogConfig = z.output<typeof configSchema>;

/** The parser's and the mapping's parsed forms of a checked config. */
export function compiledParts(config: JoblogConfig): { lineParser: LineParserConfig; metrics: MetricMapping[] } {
  const lineParser: LineParserConfig = {
    format: config.format,
    ...(config.regex !== undefined && { regex: config.regex }),
    ...(config.include !== undefined && { include: conditionsSchema.parse(config.include) }),
    ...(config.exclude !== undefined && { exclude: conditionsSchema.parse(config.exclude) }),
    ...(config.timestamp !== undefined && { timestamp: config.timestamp }),
  };
  return { lineParser, metrics: metricsSchema.parse(config.metrics) };
}
