// Key sizes: the type of each key, then its length by type, each step one pipeline; and key
// patterns walked with SCAN in small steps (COUNT bounds the work of one call, so the server
// is never held for long), stopping at the pattern's max_keys.
import type { Redis } from 'ioredis';
import type { RedisKeyPattern } from './config.js';

/** `promise`, or a rejection as soon as `signal` aborts (the command itself is left to its command_timeout). */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Commands per pipeline: keeps one reply batch, and the client's buffers, bounded. */
const PIPELINE_CHUNK = 1000;

/** The command that gives the length of a key of each type Redis has built in. */
const SIZE_COMMANDS: Record<string, string> = {
  string: 'strlen',
  list: 'llen',
  set: 'scard',
  zset: 'zcard',
  hash: 'hlen',
  stream: 'xlen',
};

/** A key's size; `size` is undefined for a key that is gone or of a type without a length (a module's). */
export type KeySize = { key: string; type: string; size?: number } | { key: string; error: string };

async function inChunks<T>(client: Redis, items: readonly T[], add: (pipeline: ReturnType<Redis['pipeline']>, item: T) => void, signal: AbortSignal): Promise<Array<[Error | null, unknown]>> {
  const results: Array<[Error | null, unknown]> = [];
  for (let i = 0; i < items.length; i += PIPELINE_CHUNK) {
    const pipeline = client.pipeline();
    for (const item of items.slice(i, i + PIPELINE_CHUNK)) add(pipeline, item);
    const replies = (await abortable(pipeline.exec(), signal)) ?? [];
    for (const reply of replies) results.push(reply as [Error | null, unknown]);
  }
  return results;
}

/** The size of each key; a key that vanished between the two steps comes back without a size. */
export async function sizeKeys(client: Redis, keys: readonly string[], signal: AbortSignal): Promise<KeySize[]> {
  const types = await inChunks(client, keys, (pipeline, key) => pipeline.type(key), signal);
  const sized: Array<{ key: string; type: string; command: string }> = [];
  const out: KeySize[] = [];
  keys.forEach((key, i) => {
    const [error, type] = types[i] ?? [new Error('no reply'), undefined];
    if (error) out.push({ key, error: error.message });
    else if (typeof type === 'string' && SIZE_COMMANDS[type] !== undefined) sized.push({ key, type, command: SIZE_COMMANDS[type] });
    else out.push({ key, type: String(type) });
  });
  const sizes = await inChunks(client, sized, (pipeline, { key, command }) => pipeline.call(command, key), signal);
  sized.forEach(({ key, type }, i) => {
    const [error, size] = sizes[i] ?? [new Error('no reply'), undefined];
    if (error) out.push({ key, error: error.message });
    // Deleted between TYPE and the length (a length of 0 for a key that no longer exists): not shown.
    else if (typeof size === 'number') out.push({ key, type, size });
  });
  return out;
}

export interface SizedKey {
  key: string;
  type: string;
  size: number;
}

export interface PatternResult {
  /** Distinct keys SCAN returned for the pattern, at most max_keys. */
  matched: number;
  /** True when the SCAN went round the whole keyspace. */
  complete: boolean;
  /** The largest keys, at most max_series, each with a size. */
  sizes: SizedKey[];
  problems: string[];
}

export async function scanPattern(client: Redis, pattern: RedisKeyPattern, signal: AbortSignal): Promise<PatternResult> {
  const found = new Set<string>();
  let cursor = '0';
  let complete = false;
  do {
    const [next, keys] = await abortable(client.scan(cursor, 'MATCH', pattern.pattern, 'COUNT', pattern.scan_count), signal);
    // SCAN may return a key twice while the table is rehashed: the set counts it once.
    for (const key of keys) {
      if (found.size >= pattern.max_keys) break;
      found.add(key);
    }
    cursor = next;
    complete = cursor === '0';
  } while (!complete && found.size < pattern.max_keys);
  const sizes = await sizeKeys(client, [...found], signal);
  const problems: string[] = [];
  const withSize: SizedKey[] = [];
  for (const size of sizes) {
    if ('error' in size) {
      if (problems.length < 3) problems.push(`key ${JSON.stringify(size.key)}: ${size.error}`);
    } else if (size.size !== undefined) withSize.push(size as SizedKey);
  }
  // The largest keys are the ones worth a series; ties go by name so the set is stable.
  withSize.sort((a, b) => b.size - a.size || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { matched: found.size, complete, sizes: withSize.slice(0, pattern.max_series), problems };
}
