// `print-config`: the effective config as YAML, with every secret replaced by "<redacted>".
// A secret is a value under a key named like one (password, token, ...) or a value that
// came from `${file:...}`, the way operators hand secrets to the agent.
import { stringify } from 'yaml';
import { pathText, type ConfigPath } from './errors.js';
import type { AgentConfig } from './schema.js';

export const REDACTED = '<redacted>';

const SECRET_WORDS = new Set([
  'password', 'passphrase', 'token', 'secret', 'secrets', 'authorization', 'credentials', 'apikey',
]);
/** `api_key`, `private_key`, `access_key`: a key is a secret only after one of these words. */
const SECRET_KEY_QUALIFIERS = new Set(['api', 'private', 'access']);
/** `basic_auth`: the values inside are credentials (`user:password` written where a mapping belongs). */
const CREDENTIAL_HOLDER_WORDS = new Set(['auth', 'authentication']);
/** `token_file`, `password_path`: where a secret lives is not the secret. */
const LOCATION_WORDS = new Set(['file', 'path', 'dir', 'directory']);

/** `redisPassword` -> `['redis', 'password']`; split at `_`, `-`, `.` and camelCase. */
function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 0);
}

function isLocation(words: string[]): boolean {
  return words.length === 0 || LOCATION_WORDS.has(words[words.length - 1]);
}

/**
 * True for keys naming a secret: one of their words is password, passphrase, token, secret,
 * authorization, credentials or apikey, or `key` after api, private or access; and the last
 * word is not a location (`file`, `path`). So `bearer_token`, `redisPassword`, `X-Api-Key`
 * and `client_secret` are secrets; `token_file`, `key_file`, `key` and `max_tokens` are not.
 */
export function isSecretKey(key: string): boolean {
  const words = keyWords(key);
  if (isLocation(words)) return false;
  return words.some((word, i) => SECRET_WORDS.has(word) || (word === 'key' && i > 0 && SECRET_KEY_QUALIFIERS.has(words[i - 1])));
}

/**
 * True for paths whose value a problem must not quote: under a secret key, or under a key
 * that holds credentials (`basic_auth`), whatever the value's type.
 */
export function isSecretPath(path: ConfigPath): boolean {
  return path.some((segment) => {
    if (typeof segment !== 'string') return false;
    if (isSecretKey(segment)) return true;
    const words = keyWords(segment);
    return !isLocation(words) && words.some((word) => CREDENTIAL_HOLDER_WORDS.has(word));
  });
}

interface FileSecrets {
  /** YAML paths (`receivers::redis::password`) whose value came from `${file:...}`. */
  paths: Set<string>;
  /** The values themselves: an alias or a schema may carry them to another place. */
  values: Set<string>;
}

const fileSecretsByConfig = new WeakMap<AgentConfig, FileSecrets>();

/** Called by the loader: which values of `config` were read from files. */
export function rememberFileSecrets(config: AgentConfig, fromFile: ReadonlyArray<{ path: ConfigPath; value: string }>): void {
  fileSecretsByConfig.set(config, {
    paths: new Set(fromFile.map((entry) => pathText(entry.path))),
    values: new Set(fromFile.map((entry) => entry.value).filter((value) => value.length > 0)),
  });
}

/** The effective config (defaults filled in, as the agent uses it) as YAML text, secrets redacted. */
export function printConfig(config: AgentConfig): string {
  const fileSecrets = fileSecretsByConfig.get(config) ?? { paths: new Set<string>(), values: new Set<string>() };
  const components = (section: Map<string, { config: unknown }>) =>
    Object.fromEntries([...section].map(([id, component]) => [id, component.config]));
  const { service } = config;
  const document = {
    receivers: components(config.receivers),
    processors: components(config.processors),
    exporters: components(config.exporters),
    views: config.views.map(({ seriesLimit, ...view }) => ({ ...view, series_limit: seriesLimit })),
    resource: config.resource,
    service: {
      state_directory: service.stateDirectory,
      pipelines: Object.fromEntries(
        service.pipelines.map((p) => [p.name, { receivers: p.receivers, processors: p.processors, exporters: p.exporters }]),
      ),
      telemetry: {
        logs: service.telemetry.logs,
        metrics: { enabled: service.telemetry.metrics.enabled, series_limit: service.telemetry.metrics.seriesLimit },
        ...(service.telemetry.health ? { health: { endpoint: service.telemetry.health.endpoint } } : {}),
      },
    },
  };
  return stringify(printable(document, [], fileSecrets), { aliasDuplicateObjects: false });
}

/**
 * Keys whose values are durations: the schemas turn `30s` into 30000 (ms), and print-config
 * must print something the loader takes back. Every duration key ends in one of these words
 * (a round-trip test over the shipped configs holds the convention).
 */
const DURATION_KEY = /(^|_)(interval|timeout|grace|delay|expiry|ttl|age|keepalive|every)$/;

/** 30000 -> `30s`, 1500 -> `1500ms`, 5400000 -> `1h30m`. */
export function formatDuration(ms: number): string {
  if (ms % 1000 !== 0 || ms === 0) return `${ms}ms`;
  let seconds = ms / 1000;
  let text = '';
  for (const [unit, size] of [['h', 3600], ['m', 60]] as const) {
    if (seconds >= size) {
      text += `${Math.floor(seconds / size)}${unit}`;
      seconds %= size;
    }
  }
  return seconds > 0 ? `${text}${seconds}s` : text;
}

/** Plain data for YAML: secrets redacted, Maps as mappings, absent values left out. */
function printable(value: unknown, path: ConfigPath, fileSecrets: FileSecrets): unknown {
  const last = path[path.length - 1];
  if (value !== null && value !== undefined && typeof last === 'string' && isSecretKey(last)) return REDACTED;
  if (typeof value === 'number' && typeof last === 'string' && DURATION_KEY.test(last)) return formatDuration(value);
  if (typeof value === 'string') {
    return fileSecrets.paths.has(pathText(path)) || fileSecrets.values.has(value) ? REDACTED : value;
  }
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? String(value) : value;
  if (Array.isArray(value)) return value.map((item, index) => printable(item, [...path, index], fileSecrets));
  if (value instanceof Date) return value.toISOString();
  if (value instanceof RegExp) return value.source;
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  const entries = value instanceof Map ? [...value] : Object.entries(value);
  const result: Record<string, unknown> = {};
  for (const [key, item] of entries) {
    if (item !== undefined) result[String(key)] = printable(item, [...path, String(key)], fileSecrets);
  }
  return result;
}
