import { describe, expect, it } from 'vitest';
import { builtinFactories } from '../../../../src/components.js';
import { ConfigError, formatProblem, loadConfigText, printConfig } from '../../../../src/config/load.js';
import { configSchema, parseEndpoint } from '../../../../src/receivers/redis/config.js';
import { infoNumber, parseInfo, parseNested } from '../../../../src/receivers/redis/info.js';

const PIPELINE = 'exporters: { prometheus: }\nservice: { pipelines: { metrics: { receivers: [redis], exporters: [prometheus] } } }\n';

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfigText(text, 'agent.yaml', builtinFactories(), env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map(formatProblem);
  }
  return [];
}

describe('redis endpoint', () => {
  it.each([
    ['127.0.0.1:6380', { transport: 'tcp', host: '127.0.0.1', port: 6380, db: 0, text: 'redis://127.0.0.1:6380' }],
    ['redis://cache.internal', { transport: 'tcp', host: 'cache.internal', port: 6379, db: 0, text: 'redis://cache.internal' }],
    ['redis://10.0.0.5:6379/3', { transport: 'tcp', host: '10.0.0.5', port: 6379, db: 3, text: 'redis://10.0.0.5:6379/3' }],
    ['rediss://[::1]:6380', { transport: 'tls', host: '::1', port: 6380, db: 0, text: 'rediss://[::1]:6380' }],
    ['unix:///run/redis/redis.sock', { transport: 'unix', path: '/run/redis/redis.sock', db: 0, text: 'unix:///run/redis/redis.sock' }],
    ['unix:///run/redis/redis.sock?db=2', { transport: 'unix', path: '/run/redis/redis.sock', db: 2, text: 'unix:///run/redis/redis.sock?db=2' }],
  ])('%s', (text, expected) => {
    expect(parseEndpoint(text)).toEqual(expected);
  });

  it.each([
    ['redis://user:secret@host:6379', /no credentials in the endpoint URL/],
    ['http://host:6379', /scheme redis:\/\/, rediss:\/\/ or unix:\/\//],
    ['just words', /expected a URL like redis:\/\/127\.0\.0\.1:6379/],
    ['redis://host:6379/cache', /database number/],
    ['unix://relative.sock', /absolute socket path/],
  ])('refuses %s', (text, message) => {
    const parsed = parseEndpoint(text);
    expect(typeof parsed).toBe('string');
    expect(parsed).toMatch(message);
    // A refusal never repeats a password written into the URL.
    expect(parsed).not.toContain('secret');
  });
});

describe('redis config', () => {
  it('fills the defaults', () => {
    const config = configSchema.parse({});
    expect(config).toMatchObject({ endpoint: 'redis://127.0.0.1:6379', collection_interval: 10_000, connect_timeout: 5000, command_timeout: 2000, keys: [], key_patterns: [] });
    expect(configSchema.parse({ key_patterns: [{ pattern: 'q:*' }] }).key_patterns[0]).toEqual({ pattern: 'q:*', max_keys: 1000, max_series: 100, scan_count: 100 });
  });

  it('names file:line, the YAML path, what was expected and what was found', () => {
    expect(problems(`receivers:\n  redis:\n    endpoint: http://cache:6379\n${PIPELINE}`)).toEqual([
      'agent.yaml:3:15: receivers::redis::endpoint: expected the scheme redis://, rediss:// or unix://, found "http"',
    ]);
    const [tooBig] = problems(`receivers:\n  redis:\n    key_patterns:\n      - pattern: "q:*"\n        max_keys: 0\n${PIPELINE}`);
    expect(tooBig).toBe('agent.yaml:5:19: receivers::redis::key_patterns[0]::max_keys: expected a number of at least 1, found 0');
    const [tls] = problems(`receivers:\n  redis:\n    endpoint: redis://cache:6379\n    tls: { ca_file: /etc/ca.pem }\n${PIPELINE}`);
    expect(tls).toMatch(/^agent\.yaml:4:\d+: receivers::redis::tls: expected a rediss:\/\/ endpoint with tls settings, found redis:\/\/cache:6379/);
    // A short interval with the default command_timeout is accepted: the timeout is capped at the interval.
    expect(problems(`receivers:\n  redis:\n    collection_interval: 1s\n${PIPELINE}`)).toEqual([]);
  });

  it('takes the password from the environment and never prints it', () => {
    const config = loadConfigText(`receivers:\n  redis:\n    password: \${env:REDIS_PASSWORD}\n${PIPELINE}`, 'agent.yaml', builtinFactories(), { REDIS_PASSWORD: 'hunter2-redis' });
    expect((config.receivers.get('redis')!.config as { password: string }).password).toBe('hunter2-redis');
    const printed = printConfig(config);
    expect(printed).not.toContain('hunter2-redis');
    expect(printed).toMatch(/password: <redacted>/);
    expect(printed).toContain('endpoint: redis://127.0.0.1:6379');
  });
});

describe('INFO parsing', () => {
  it('reads fields, nested values and numbers', () => {
    const fields = parseInfo('# Server\r\nredis_version:7.0.15\r\nuptime_in_seconds:42\r\n\r\n# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=999\r\n');
    parseInfo('# Commandstats\r\ncmdstat_get:calls=2,usec=5,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\n', fields);
    expect(fields.get('redis_version')).toBe('7.0.15');
    expect(infoNumber(fields, 'uptime_in_seconds')).toBe(42);
    expect(infoNumber(fields, 'redis_version')).toBeUndefined();
    expect(infoNumber(fields, 'absent')).toBeUndefined();
    expect(parseNested(fields.get('db0')!)).toEqual({ keys: '3', expires: '1', avg_ttl: '999' });
    expect(parseNested(fields.get('cmdstat_get')!)).toMatchObject({ calls: '2', usec: '5' });
    expect(parseNested('p50=1.003,p99=2.007,p99.9=3.001')).toEqual({ p50: '1.003', p99: '2.007', 'p99.9': '3.001' });
  });
});
