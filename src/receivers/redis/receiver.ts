// The redis receiver: every collection_interval, one PING (timed into a histogram), INFO
// (server stats, commandstats, latencystats) and the sizes of configured keys and of keys
// matching bounded SCAN patterns. The connection is kept open between collections and
// reopened with capped backoff; while it is down `redis.connected` is 0, the status says why
// and the server's series leave the scrape.
import { Redis, type RedisOptions } from 'ioredis';
import { clientTlsOptions } from '../../component/client-tls.js';
import { Lifecycle } from '../../component/lifecycle.js';
import { ScrapeController } from '../../component/scrape-controller.js';
import type { Counter, Gauge, Histogram, Receiver, ReceiverSettings, UpDownCounter } from '../../component/types.js';
import { redisEndpoint, type RedisConfig, type RedisEndpoint } from './config.js';
import { infoNumber, parseInfo, parseNested, type InfoFields } from './info.js';
import { abortable, scanPattern, sizeKeys } from './keys.js';

/** A degraded status's reason stays short enough for /health. */
const MAX_REASON_LENGTH = 300;
/** The first reconnect waits this long; each next one twice as long, up to max_reconnect_interval. */
const FIRST_RECONNECT_MS = 100;

export interface RedisScrapeResult {
  /** What had to be left out (a key that could not be read, a pattern cut short by its cap). */
  problems: string[];
  durationMs: number;
}

/** Sums read with `set` from INFO, with the server's start as their start time. */
interface InfoCounter {
  field: string;
  counter: Counter;
  attributes?: Record<string, string>;
}

interface InfoGauge {
  field: string;
  gauge: Gauge | UpDownCounter;
}

const CPU_FIELDS: ReadonlyArray<[field: string, state: string]> = [
  ['used_cpu_sys', 'sys'],
  ['used_cpu_sys_children', 'sys_children'],
  ['used_cpu_sys_main_thread', 'sys_main_thread'],
  ['used_cpu_user', 'user'],
  ['used_cpu_user_children', 'user_children'],
  ['used_cpu_user_main_thread', 'user_main_thread'],
];

export class RedisReceiver implements Receiver {
  private readonly lifecycle: Lifecycle;
  private readonly controller: ScrapeController<RedisScrapeResult>;
  private client?: Redis;
  /** Why the connection is not ready: the last error ioredis reported, free of secrets. */
  private lastError?: string;
  private wasReady = false;
  /** The server's run (run_id) and when it started, epoch ms: the start time of every INFO sum. */
  private serverRun?: { runId: string; uptimeS: number; startMs: number };
  private knownTrouble = new Set<string>();
  private readonly endpoint: RedisEndpoint;

  private readonly connected: Gauge;
  private readonly ping: Histogram;
  private readonly infoCounters: InfoCounter[];
  private readonly infoGauges: InfoGauge[];
  private readonly cpuTime: Counter;
  private readonly role: UpDownCounter;
  private readonly dbKeys: Gauge;
  private readonly dbExpires: Gauge;
  private readonly dbAvgTtl: Gauge;
  private readonly cmdCalls: Counter;
  private readonly cmdUsec: Counter;
  private readonly cmdLatency: Gauge;
  private readonly keySize: Gauge;
  private readonly patternKeys: Gauge;
  private readonly patternComplete: Gauge;
  /** Instruments a sweep leaves alone: the agent's own measurements, not the server's. */
  private readonly ownInstruments = new Set(['redis.ping.duration', 'redis.connected']);

  constructor(
    private readonly settings: ReceiverSettings,
    private readonly config: RedisConfig,
  ) {
    this.endpoint = redisEndpoint(config.endpoint);
    const meter = settings.meter;
    this.connected = meter.gauge('redis.connected', { valueType: 'int', description: 'Whether the receiver holds a ready connection to Redis (1) or not (0).' });
    this.ping = meter.histogram('redis.ping.duration', { unit: 's', buckets: config.ping_buckets, description: 'PING round-trip time, as the agent measures it.' });
    const counter = (name: string, unit: string, description: string) => meter.counter(name, { unit, valueType: 'int', description });
    const gauge = (name: string, unit: string, description: string, valueType: 'int' | 'double' = 'int') => meter.gauge(name, { unit, valueType, description });
    const updown = (name: string, unit: string, description: string) => meter.upDownCounter(name, { unit, valueType: 'int', description });
    this.infoCounters = [
      { field: 'total_commands_processed', counter: counter('redis.commands.processed', '{command}', 'Total number of commands processed by the server.') },
      { field: 'total_connections_received', counter: counter('redis.connections.received', '{connection}', 'Total number of connections accepted by the server.') },
      { field: 'rejected_connections', counter: counter('redis.connections.rejected', '{connection}', 'Number of connections rejected because of maxclients limit.') },
      { field: 'evicted_keys', counter: counter('redis.keys.evicted', '{key}', 'Number of evicted keys due to maxmemory limit.') },
      { field: 'expired_keys', counter: counter('redis.keys.expired', '{event}', 'Total number of key expiration events.') },
      { field: 'keyspace_hits', counter: counter('redis.keyspace.hits', '{hit}', 'Number of successful lookup of keys in the main dictionary.') },
      { field: 'keyspace_misses', counter: counter('redis.keyspace.misses', '{miss}', 'Number of failed lookup of keys in the main dictionary.') },
      { field: 'total_net_input_bytes', counter: counter('redis.net.input', 'By', 'The total number of bytes read from the network.') },
      { field: 'total_net_output_bytes', counter: counter('redis.net.output', 'By', 'The total number of bytes written to the network.') },
      { field: 'uptime_in_seconds', counter: counter('redis.uptime', 's', 'Number of seconds since Redis server start.') },
    ];
    this.infoGauges = [
      { field: 'connected_clients', gauge: updown('redis.clients.connected', '{client}', 'Number of client connections (excluding connections from replicas).') },
      { field: 'blocked_clients', gauge: updown('redis.clients.blocked', '{client}', 'Number of clients pending on a blocking call.') },
      { field: 'client_recent_max_input_buffer', gauge: gauge('redis.clients.max_input_buffer', 'By', 'Biggest input buffer among current client connections.') },
      { field: 'client_recent_max_output_buffer', gauge: gauge('redis.clients.max_output_buffer', 'By', 'Longest output list among current client connections.') },
      { field: 'instantaneous_ops_per_sec', gauge: gauge('redis.commands', '{ops}/s', 'Number of commands processed per second.') },
      { field: 'latest_fork_usec', gauge: gauge('redis.latest_fork', 'us', 'Duration of the latest fork operation in microseconds.') },
      { field: 'mem_fragmentation_ratio', gauge: gauge('redis.memory.fragmentation_ratio', '1', 'Ratio between used_memory_rss and used_memory.', 'double') },
      { field: 'used_memory_lua', gauge: gauge('redis.memory.lua', 'By', 'Number of bytes used by the Lua engine.') },
      { field: 'used_memory_peak', gauge: gauge('redis.memory.peak', 'By', 'Peak memory consumed by Redis (in bytes).') },
      { field: 'used_memory_rss', gauge: gauge('redis.memory.rss', 'By', 'Number of bytes that Redis allocated as seen by the operating system.') },
      { field: 'used_memory', gauge: gauge('redis.memory.used', 'By', 'Total number of bytes allocated by Redis using its allocator.') },
      { field: 'maxmemory', gauge: gauge('redis.maxmemory', 'By', 'The value of the maxmemory configuration directive.') },
      { field: 'rdb_changes_since_last_save', gauge: updown('redis.rdb.changes_since_last_save', '{change}', 'Number of changes since the last dump.') },
      { field: 'repl_backlog_first_byte_offset', gauge: gauge('redis.replication.backlog_first_byte_offset', 'By', 'The master offset of the replication backlog buffer.') },
      { field: 'master_repl_offset', gauge: gauge('redis.replication.offset', 'By', "The server's current replication offset.") },
      { field: 'connected_slaves', gauge: updown('redis.slaves.connected', '{replica}', 'Number of connected replicas.') },
    ];
    this.cpuTime = meter.counter('redis.cpu.time', { unit: 's', description: 'CPU consumed by the Redis server in seconds since server start.' });
    this.role = updown('redis.role', '{role}', "Redis node's role.");
    this.dbKeys = gauge('redis.db.keys', '{key}', 'Number of keyspace keys.');
    this.dbExpires = gauge('redis.db.expires', '{key}', 'Number of keyspace keys with an expiration.');
    this.dbAvgTtl = gauge('redis.db.avg_ttl', 'ms', 'Average keyspace keys TTL.');
    this.cmdCalls = counter('redis.cmd.calls', '{call}', 'Total number of calls for a command.');
    this.cmdUsec = counter('redis.cmd.usec', 'us', 'Total time for all executions of this command.');
    this.cmdLatency = meter.gauge('redis.cmd.latency', { unit: 's', description: 'Command latency percentiles, as the server measures them (INFO latencystats).' });
    this.keySize = gauge('redis.key.size', '{item}', 'Length of a key: elements of a list, set, sorted set, hash or stream; bytes of a string.');
    this.patternKeys = gauge('redis.key_pattern.keys', '{key}', 'Keys a pattern matched in the last collection, up to its max_keys.');
    this.patternComplete = gauge('redis.key_pattern.complete', '', "Whether the pattern's SCAN walked the whole keyspace (1) or stopped at max_keys or the deadline (0).");

    this.controller = new ScrapeController({
      name: `receiver "${settings.id}"`,
      intervalMs: config.collection_interval,
      onCollect: 'join',
      scrape: (signal) => this.scrapeOnce(signal),
      problem: (result) => this.reportTrouble(result.problems),
      status: settings.status,
    });
    this.lifecycle = new Lifecycle(`receiver "${settings.id}"`, { start: (signal) => this.begin(signal), stop: () => this.end() });
  }

  start(signal: AbortSignal): Promise<void> {
    return this.lifecycle.start(signal);
  }

  /** One collection now (joining the one in progress); for tests and benchmarks. Never rejects. */
  async scrape(): Promise<RedisScrapeResult | undefined> {
    if (this.lifecycle.phase === 'stopped') return undefined;
    return this.controller.run();
  }

  collect(signal: AbortSignal): Promise<void> {
    return this.controller.collect(signal);
  }

  shutdown(): Promise<void> {
    return this.lifecycle.shutdown();
  }

  private async begin(signal: AbortSignal): Promise<void> {
    this.connected.set(0);
    this.controller.start(signal);
  }

  private async end(): Promise<void> {
    await this.controller.stop();
    const client = this.client;
    this.client = undefined;
    client?.disconnect(false);
    const meter = this.settings.meter;
    meter.sweep(meter.mark());
  }

  /** The client, made on first use (reading the TLS files then, so a fixed file is picked up at the next collection). */
  private async connection(): Promise<Redis> {
    if (this.client) return this.client;
    const config = this.config;
    const endpoint = this.endpoint;
    const options: RedisOptions = {
      username: config.username,
      // An empty password (an unset ${env:...:-}) means none: no AUTH is sent.
      password: config.password === '' ? undefined : config.password,
      db: endpoint.db,
      connectTimeout: config.connect_timeout,
      // A command never outlasts the collection it belongs to.
      commandTimeout: Math.min(config.command_timeout, config.collection_interval),
      lazyConnect: true,
      // Commands fail at once while disconnected, and those in flight when the link drops are
      // not sent again: a collection reports what it could read now, never a stale queue.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectionName: 'otel-agent',
      retryStrategy: (attempt) => Math.min(FIRST_RECONNECT_MS * 2 ** Math.min(attempt - 1, 20), config.max_reconnect_interval),
      // A password refused is not fixed by reconnecting at once; the backoff applies to it too.
      reconnectOnError: () => false,
    };
    if (endpoint.transport === 'unix') options.path = endpoint.path;
    else {
      options.host = endpoint.host;
      options.port = endpoint.port;
    }
    if (endpoint.transport === 'tls') {
      options.tls = await clientTlsOptions(config.tls);
    }
    const client = new Redis(options);
    const logger = this.settings.logger;
    const fields = { receiver: this.settings.id, endpoint: endpoint.text };
    client.on('error', (error: Error) => {
      this.lastError = describeError(error);
    });
    client.on('ready', () => {
      this.lastError = undefined;
      if (!this.wasReady) logger.info(fields, 'connected to redis');
      this.wasReady = true;
    });
    client.on('close', () => {
      this.lastError ??= 'the connection was closed';
      if (this.wasReady) logger.warn({ ...fields, error: this.lastError }, 'connection to redis lost; reconnecting');
      this.wasReady = false;
    });
    this.client = client;
    // Errors come through the 'error' event and the status; the retry strategy keeps trying.
    client.connect().catch(() => undefined);
    return client;
  }

  private async scrapeOnce(signal: AbortSignal): Promise<RedisScrapeResult> {
    const started = performance.now();
    const meter = this.settings.meter;
    const mark = meter.mark();
    try {
      const client = await this.connection();
      if (client.status !== 'ready') {
        await this.waitReady(client, signal);
      }
      const problems: string[] = [];
      const pingStarted = performance.now();
      await abortable(client.ping(), signal);
      this.ping.record((performance.now() - pingStarted) / 1000);

      const pipeline = client.pipeline();
      pipeline.info();
      pipeline.info('commandstats');
      pipeline.info('latencystats');
      const replies = await abortable(pipeline.exec(), signal);
      const [main, commandstats, latencystats] = replies ?? [];
      if (main?.[0]) throw main[0];
      const fields = parseInfo(String(main?.[1] ?? ''));
      if (!commandstats?.[0]) parseInfo(String(commandstats?.[1] ?? ''), fields);
      // latencystats came with Redis 7: older servers refuse the section name, which is fine.
      if (!latencystats?.[0]) parseInfo(String(latencystats?.[1] ?? ''), fields);
      this.recordInfo(fields);

      const db = String(this.endpoint.db);
      if (this.config.keys.length > 0) {
        const sizes = await sizeKeys(client, this.config.keys.map((k) => k.key), signal);
        for (const size of sizes) {
          if ('error' in size) problems.push(`key ${JSON.stringify(size.key)}: ${size.error}`);
          else if (size.size !== undefined) this.keySize.set(size.size, { db, key: size.key, type: size.type });
        }
      }
      for (const pattern of this.config.key_patterns) {
        const found = await scanPattern(client, pattern, signal);
        const attributes = { db, pattern: pattern.pattern };
        this.patternKeys.set(found.matched, attributes);
        this.patternComplete.set(found.complete ? 1 : 0, attributes);
        for (const size of found.sizes) this.keySize.set(size.size, { db, key: size.key, type: size.type, pattern: pattern.pattern });
        problems.push(...found.problems.map((problem) => `pattern ${JSON.stringify(pattern.pattern)}: ${problem}`));
      }
      this.connected.set(1);
      return { problems, durationMs: performance.now() - started };
    } catch (error) {
      // ioredis refuses a write to a socket that just closed before it marks the client not ready.
      const ready = this.client?.status === 'ready' && !(error instanceof Error && error.message.startsWith("Stream isn't writeable"));
      this.connected.set(ready ? 1 : 0);
      // A command refused because the link dropped under it says less than why the link dropped.
      throw new Error(this.failureReason(ready || error instanceof NotConnected || this.client === undefined ? error : new NotConnected(this.lastError ?? 'the connection was closed')));
    } finally {
      meter.sweep(mark, this.ownInstruments);
    }
  }

  /** Waits for a connection in progress to become ready, within the scrape's deadline; else throws why it is not. */
  private async waitReady(client: Redis, signal: AbortSignal): Promise<void> {
    if (client.status === 'connecting' || client.status === 'connect') {
      await new Promise<void>((resolve) => {
        const done = () => {
          client.off('ready', done);
          client.off('error', done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        client.once('ready', done);
        client.once('error', done);
        signal.addEventListener('abort', done, { once: true });
        setTimeout(done, this.config.connect_timeout).unref();
      });
    }
    if (client.status !== 'ready') throw new NotConnected(this.lastError ?? `connection ${client.status}`);
  }

  private failureReason(error: unknown): string {
    const endpoint = this.endpoint.text;
    if (error instanceof NotConnected) return `not connected to ${endpoint}: ${error.message}`;
    return `${endpoint}: ${describeError(error)}`;
  }

  private recordInfo(fields: InfoFields): void {
    const uptimeS = infoNumber(fields, 'uptime_in_seconds') ?? 0;
    const runId = fields.get('run_id') ?? '';
    const run = this.serverRun;
    // A new run id, or uptime going back, is a restart: the server's totals begin anew.
    if (run === undefined || run.runId !== runId || uptimeS < run.uptimeS) {
      if (run !== undefined) this.settings.logger.info({ receiver: this.settings.id, endpoint: this.endpoint.text }, 'redis restarted; its counters start anew');
      this.serverRun = { runId, uptimeS, startMs: Date.now() - uptimeS * 1000 };
    } else {
      run.uptimeS = uptimeS;
    }
    const startMs = this.serverRun!.startMs;
    for (const { field, counter } of this.infoCounters) {
      const value = infoNumber(fields, field);
      if (value !== undefined) counter.set(value, {}, startMs);
    }
    for (const { field, gauge } of this.infoGauges) {
      const value = infoNumber(fields, field);
      if (value !== undefined) gauge.set(value);
    }
    for (const [field, state] of CPU_FIELDS) {
      const value = infoNumber(fields, field);
      if (value !== undefined) this.cpuTime.set(value, { state }, startMs);
    }
    const role = fields.get('role');
    if (role !== undefined) this.role.set(1, { role: role === 'master' ? 'primary' : 'replica' });
    for (const [name, value] of fields) {
      if (/^db\d+$/.test(name)) {
        const db = parseNested(value);
        const attributes = { db: name.slice(2) };
        if (db.keys !== undefined) this.dbKeys.set(Number(db.keys), attributes);
        if (db.expires !== undefined) this.dbExpires.set(Number(db.expires), attributes);
        if (db.avg_ttl !== undefined) this.dbAvgTtl.set(Number(db.avg_ttl), attributes);
      } else if (name.startsWith('cmdstat_')) {
        const stat = parseNested(value);
        const attributes = { cmd: name.slice('cmdstat_'.length) };
        if (stat.calls !== undefined) this.cmdCalls.set(Number(stat.calls), attributes, startMs);
        if (stat.usec !== undefined) this.cmdUsec.set(Number(stat.usec), attributes, startMs);
      } else if (name.startsWith('latency_percentiles_usec_')) {
        const cmd = name.slice('latency_percentiles_usec_'.length);
        for (const [percentile, usec] of Object.entries(parseNested(value))) {
          const microseconds = Number(usec);
          if (Number.isFinite(microseconds)) this.cmdLatency.set(microseconds / 1e6, { cmd, percentile });
        }
      }
    }
  }

  /** Logs each new kind of trouble once; the reason the status is degraded, if any. */
  private reportTrouble(problems: string[]): string | undefined {
    const trouble = new Set(problems);
    const logger = this.settings.logger;
    for (const entry of trouble) {
      if (!this.knownTrouble.has(entry)) logger.warn({ receiver: this.settings.id, trouble: entry }, 'redis collection incomplete');
    }
    this.knownTrouble = trouble;
    return trouble.size === 0 ? undefined : truncate([...trouble].join('; '));
  }
}

class NotConnected extends Error {}

/** An error's message on one line, with what ioredis adds for a refused or timed-out connection. */
function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return truncate(message.split(/\r?\n/, 1)[0]);
}

export function truncate(text: string): string {
  return text.length <= MAX_REASON_LENGTH ? text : `${text.slice(0, MAX_REASON_LENGTH - 1)}…`;
}

