// The redis receiver's config. The endpoint is a URL (`redis://`, `rediss://`, `unix://`);
// credentials are separate keys so they never sit in a URL that gets logged or shown in /health.
import { z } from 'zod';
import { clientTlsSchema } from '../../component/client-tls.js';
import { durationBetween } from '../../component/schema.js';

/** A key pattern may never ask for more than this per collection: it bounds the work on the server. */
export const MAX_KEYS_LIMIT = 1_000_000;


export interface RedisEndpoint {
  /** `tcp`, `tls` (rediss://) or `unix`. */
  transport: 'tcp' | 'tls' | 'unix';
  host?: string;
  port?: number;
  path?: string;
  db: number;
  /** The endpoint as shown in logs and /health. */
  text: string;
}

/** The endpoint's parts, or why it is not one. */
export function parseEndpoint(text: string): RedisEndpoint | string {
  // `host:port`, as the Collector's receiver writes it, is a plain redis:// endpoint.
  if (/^(\[[0-9a-fA-F:.]+\]|[^:/\s\[\]]+):\d{1,5}$/.test(text)) return parseEndpoint(`redis://${text}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `expected a URL like redis://127.0.0.1:6379, rediss://redis.example:6380 or unix:///run/redis/redis.sock, found ${JSON.stringify(text)}`;
  }
  if (url.username !== '' || url.password !== '') {
    return 'expected no credentials in the endpoint URL (use the username and password keys, which are kept out of logs)';
  }
  if (url.protocol === 'unix:') {
    const path = decodeURIComponent(url.pathname);
    if (url.host !== '' || !path.startsWith('/')) return `expected unix:// and an absolute socket path, like unix:///run/redis/redis.sock, found ${JSON.stringify(text)}`;
    const db = url.searchParams.get('db');
    if (db !== null && !/^\d{1,5}$/.test(db)) return `expected ?db=<number> after the socket path, found ${JSON.stringify(text)}`;
    return { transport: 'unix', path, db: db === null ? 0 : Number(db), text };
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    return `expected the scheme redis://, rediss:// or unix://, found ${JSON.stringify(url.protocol.slice(0, -1))}`;
  }
  if (url.hostname === '') return `expected a host, like redis://127.0.0.1:6379, found ${JSON.stringify(text)}`;
  const dbText = url.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d{1,5}$/.test(dbText)) return `expected a database number after the host (redis://host:6379/0), found ${JSON.stringify(url.pathname)}`;
  if (url.search !== '' || url.hash !== '') return `expected no query or fragment in a redis:// URL, found ${JSON.stringify(url.search + url.hash)}`;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return {
    transport: url.protocol === 'rediss:' ? 'tls' : 'tcp',
    host,
    port: url.port === '' ? 6379 : Number(url.port),
    db: dbText === '' ? 0 : Number(dbText),
    text: url.origin === 'null' ? `${url.protocol}//${url.host}${url.pathname}` : url.origin + url.pathname,
  };
}

/** Kept as text (print-config shows it as written, normalised); the receiver takes it apart with redisEndpoint(). */
function endpoint() {
  return z.string().transform((text, ctx): string => {
    const parsed = parseEndpoint(text.trim());
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return parsed.text;
  });
}

/** The parts of an endpoint the schema accepted. */
export function redisEndpoint(text: string): RedisEndpoint {
  const parsed = parseEndpoint(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}


const keySchema = z.strictObject({
  key: z.string().min(1),
});

const keyPatternSchema = z.strictObject({
  /** A SCAN MATCH glob: `queue:*`. */
  pattern: z.string().min(1),
  /** Keys examined (SCAN returns) per collection, at most; the scan stops there. */
  max_keys: z.number().int().min(1).max(MAX_KEYS_LIMIT).default(1000),
  /** Key-size series emitted for this pattern, at most; the largest keys are kept. */
  max_series: z.number().int().min(1).max(100_000).default(100),
  /** SCAN's COUNT hint: how much of the keyspace one SCAN call walks. Small keeps each call short. */
  scan_count: z.number().int().min(1).max(10_000).default(100),
});

export const configSchema = z
  .strictObject({
    endpoint: endpoint().prefault('redis://127.0.0.1:6379'),
    /** An ACL user (Redis 6+); the default user when absent. */
    username: z.string().min(1).optional(),
    /** `requirepass` or the user's password; write `${env:REDIS_PASSWORD}` or `${file:/path}`. */
    password: z.string().optional(),
    tls: clientTlsSchema.optional(),
    collection_interval: durationBetween('10s', 100),
    /** Time to open a connection (TCP, TLS, AUTH) before the attempt counts as failed. */
    connect_timeout: durationBetween('5s', 10),
    /** Time one command (INFO, PING, the key pipeline, one SCAN) may take; at most collection_interval. */
    command_timeout: durationBetween('2s', 10),
    /** Longest wait between two reconnect attempts; they start at 100ms and double. */
    max_reconnect_interval: durationBetween('30s', 100),
    keys: z.array(keySchema).default([]),
    key_patterns: z.array(keyPatternSchema).default([]),
    /** Upper bounds, in seconds, of the PING round-trip histogram's buckets. */
    ping_buckets: z
      .array(z.number().positive())
      .min(1)
      .refine((bounds) => bounds.every((bound, i) => i === 0 || bound > bounds[i - 1]), { message: 'expected ascending bucket bounds' })
      .default([0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]),
  })
  .superRefine((config, ctx) => {
    if (config.tls !== undefined && !config.endpoint.startsWith('rediss://')) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: `expected a rediss:// endpoint with tls settings, found ${config.endpoint}` });
    }
    if (config.tls !== undefined && (config.tls.cert_file === undefined) !== (config.tls.key_file === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tls', config.tls.cert_file === undefined ? 'cert_file' : 'key_file'], message: 'expected cert_file and key_file together' });
    }
  });

export type RedisConfig = z.output<typeof configSchema>;
export type RedisKeyPattern = RedisConfig['key_patterns'][number];
