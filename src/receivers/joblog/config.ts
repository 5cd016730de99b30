// The joblog receiver's config: which files, how lines become records (parse.ts), and how
// records become metrics (the shared mapping). YAML keys are snake_case; durations and sizes
// are parsed to milliseconds and bytes.
import { z } from 'zod';
import { durationBetween, size } from '../../component/schema.js';
import { checkEventHandling, eventMetricsSchema, eventParsingShape } from '../../events/index.js';

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


export const configSchema = z
  .strictObject({
    /** Files to follow: absolute globs (`*`, `?` within a segment, `**` for any depth). */
    paths: absoluteGlobs('*.log'),
    /** Paths never read, matched against the whole path: rotated archives (`/var/log/app/*.gz`). */
    exclude_paths: absoluteGlobs('*.gz').optional(),
    /** For files found at start-up without a checkpoint: read from their end or their beginning. */
    start_at: z.enum(['end', 'beginning']).default('end'),
    /** format, regex, include, exclude, timestamp: shared by every event receiver. */
    ...eventParsingShape,
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
    poll_interval: durationBetween('250ms', 10),
    /** A last line without its newline is handed on after the file has been quiet this long. */
    flush_timeout: durationBetween('5s', 1),
    /** How often read offsets are written to the state directory when they moved. */
    checkpoint_interval: durationBetween('1s', 10),
    /**
     * Keep metric values (counters, histograms, gauges, with their start times) across
     * restarts, written with the offsets: false restarts them from zero. Offsets are always kept.
     */
    persist: z.boolean().default(true),
    /** Records -> measurements: see the mapping's documentation. */
    metrics: eventMetricsSchema,
  })
  .superRefine(checkEventHandling, { when: ({ value }) => typeof value === 'object' && value !== null });

export type JoblogConfig = z.output<typeof configSchema>;
