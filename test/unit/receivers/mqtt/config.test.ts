// The mqtt receiver's config: topic patterns with named levels, broker URLs, and the keys that
// only make sense together.
import { describe, expect, it } from 'vitest';
import { configSchema, parseBroker, parseTopicPattern } from '../../../../src/receivers/mqtt/config.js';

const subscription = { topic: 'a/{b}/c', format: 'json', metrics: [{ name: 'n', type: 'counter' }] };

describe('mqtt config', () => {
  it('turns named levels into + and remembers which level each name takes', () => {
    expect(parseTopicPattern('guestkit/{worker}/jobs')).toEqual({ filter: 'guestkit/+/jobs', fields: [{ name: 'worker', level: 1 }] });
    expect(parseTopicPattern('site/{site}/+/{host}/#')).toEqual({ filter: 'site/+/+/+/#', fields: [{ name: 'site', level: 1 }, { name: 'host', level: 3 }] });
  });

  it('refuses # before the last level, a name used twice, and a level mixing text and wildcards', () => {
    expect(parseTopicPattern('a/#/b')).toMatch(/# only as the last level/);
    expect(parseTopicPattern('{x}/{x}')).toMatch(/\{x\} twice/);
    expect(parseTopicPattern('a/b+/c')).toMatch(/expected a level to be text/);
  });

  it('refuses credentials in the broker URL and unknown schemes', () => {
    expect(parseBroker('mqtt://user:secret@host:1883')).toMatch(/no credentials/);
    expect(parseBroker('http://host')).toMatch(/mqtt:\/\/, mqtts:\/\//);
    expect(parseBroker('ws://127.0.0.1:9001/mqtt')).toBeInstanceOf(URL);
  });

  it('asks for a client_id with clean_session false, and for an mqtts:// broker with tls', () => {
    const noId = configSchema.safeParse({ clean_session: false, subscriptions: [subscription] });
    expect(noId.success).toBe(false);
    expect(noId.error?.issues[0]).toMatchObject({ path: ['clean_session'] });
    const plainTls = configSchema.safeParse({ broker: 'mqtt://h:1883', tls: { ca_file: '/ca.pem' }, subscriptions: [subscription] });
    expect(plainTls.error?.issues[0]).toMatchObject({ path: ['tls'] });
  });

  it('refuses regex, include, exclude and timestamp with format number', () => {
    const result = configSchema.safeParse({ subscriptions: [{ topic: 'q', format: 'number', include: { a: 'b' }, metrics: [{ name: 'n', type: 'gauge', value: 'value' }] }] });
    expect(result.error?.issues.map((issue) => issue.path.join('.'))).toEqual(['subscriptions.0.include']);
  });

  it('defaults: QoS 1, keepalive 30s, values persisted', () => {
    const config = configSchema.parse({ client_id: 'a', subscriptions: [subscription] });
    expect(config).toMatchObject({ broker: 'mqtt://127.0.0.1:1883', protocol_version: 4, keepalive: 30_000, persist: true });
    expect(config.subscriptions[0].qos).toBe(1);
  });
});
