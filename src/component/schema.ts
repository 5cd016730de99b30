// Schema pieces every component config uses: durations, sizes, endpoints.
import { z } from 'zod';

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = {
  B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3,
};

/** `500ms`, `15s`, `1.5m`, `1h` (several parts allowed: `1m30s`) -> milliseconds, or undefined. */
export function parseDuration(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * DURATION_UNITS_MS[m[2]];
    matched = re.lastIndex;
  }
  return matched === text.length && text.length > 0 ? total : undefined;
}

/** `512B`, `64KiB`, `64MiB`, `1GB` -> bytes, or undefined. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)$/.exec(text);
  return m ? Math.round(Number(m[1]) * SIZE_UNITS[m[2]]) : undefined;
}

/**
 * The longest wait a Node.js timer holds (2^31-1 ms, about 24.8 days). A longer one fires
 * after 1 ms instead, with a warning, so a longer duration would turn an hourly poll into a
 * busy loop.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;
/** MAX_DURATION_MS as it is written, rounded down to whole seconds: 596h31m23s. */
const MAX_DURATION_TEXT = '596h31m23s';

/** A YAML duration string, parsed to milliseconds, at most MAX_DURATION_MS. */
export function duration() {
  return z.string().transform((text, ctx) => {
    const ms = parseDuration(text.trim());
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration like 500ms, 15s or 1h, found "${text}"` });
      return z.NEVER;
    }
    if (ms > MAX_DURATION_MS) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration of at most ${MAX_DURATION_TEXT} (about 24.8 days, the longest a timer can wait), found "${text}"`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

/** A YAML size string (`64MiB`) or a plain number of bytes, parsed to bytes. */
/**
 * A duration of whole milliseconds between `minimumMs` and `maximumMs`, `fallback` when
 * absent: the shape of every interval and timeout key.
 */
export function durationBetween(fallback: string, minimumMs: number, maximumMs = Number.MAX_SAFE_INTEGER) {
  return duration()
    .refine((ms) => ms >= minimumMs && ms <= maximumMs, {
      message: maximumMs === Number.MAX_SAFE_INTEGER ? `must be at least ${minimumMs}ms` : `must be between ${minimumMs}ms and ${maximumMs}ms`,
    })
    .transform((ms) => Math.round(ms))
    .prefault(fallback);
}

export function size() {
  return z.union([z.number().int().nonnegative(), z.string()]).transform((value, ctx) => {
    if (typeof value === 'number') return value;
    const bytes = parseSize(value.trim());
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a size like 512B, 64KiB or 64MiB, found "${value}"` });
      return z.NEVER;
    }
    return bytes;
  });
}

/** `host:port` or `[v6]:port`. */
export function hostPort() {
  return z.string().refine((text) => /^(\[[0-9a-fA-F:.]+\]|[^:\s\[\]]+):\d{1,5}$/.test(text), {
    message: 'expected host:port, like 127.0.0.1:9464',
  });
}
