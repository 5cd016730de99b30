// The mqtt receiver against mosquitto processes the tests start on free ports: events to
// metrics across wildcard topics, malformed payloads among good ones, the broker restarted
// mid-stream, and the receiver stopped while QoS 1 events are published: each counted once.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REFUSED_METRIC } from '../../src/events/index.js';
import { configSchema } from '../../src/receivers/mqtt/config.js';
import { MqttReceiver } from '../../src/receivers/mqtt/receiver.js';
import { eventually } from '../support/eventually.js';
import { valueOf } from '../support/metric-sink.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { testSettings, type TestSettings } from '../support/settings.js';

const running: MqttReceiver[] = [];
const clients: MqttClient[] = [];
let broker: Mosquitto;
let stateDir: string;

beforeAll(async () => {
  broker = await startMosquitto();
  stateDir = await mkdtemp(join(tmpdir(), 'otel-agent-mqtt-state-'));
});
afterAll(async () => {
  await broker?.remove();
  await rm(stateDir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((receiver) => receiver.shutdown()));
  await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
});

const JOBS = {
  topic: 'guestkit/{worker}/jobs',
  qos: 1,
  format: 'json',
  metrics: [{ name: 'jobs', type: 'counter', attributes: { worker: 'worker', status: 'status' } }],
};

async function started(id: string, config: Record<string, unknown>, dir = stateDir): Promise<{ receiver: MqttReceiver; settings: TestSettings }> {
  const settings = testSettings({ id, stateDir: dir });
  const receiver = new MqttReceiver(settings, configSchema.parse({ broker: broker.url, ...config }));
  running.push(receiver);
  await receiver.start(new AbortController().signal);
  await eventually(() => expect(valueOf(settings.telemetry, 'otel_agent.mqtt.connected', { receiver: id })).toBe(1));
  return { receiver, settings };
}

async function publisher(): Promise<MqttClient> {
  const client = await broker.publisher();
  clients.push(client);
  return client;
}

async function publishJobs(client: MqttClient, count: number, worker: (i: number) => string, from = 0): Promise<void> {
  const sent: Promise<unknown>[] = [];
  for (let i = from; i < from + count; i += 1) {
    sent.push(client.publishAsync(`guestkit/${worker(i)}/jobs`, JSON.stringify({ event: 'job.finished', status: i % 3 === 0 ? 'failed' : 'ok', n: i }), { qos: 1 }));
  }
  await Promise.all(sent);
}

const total = (settings: TestSettings, workers: string[]) =>
  workers.reduce((sum, worker) => sum + (valueOf(settings.meter, 'jobs', { worker, status: 'ok' }) ?? 0) + (valueOf(settings.meter, 'jobs', { worker, status: 'failed' }) ?? 0), 0);

describe('mqtt receiver', () => {
  it('maps events across wildcard topics, with the topic level as an attribute, and counts malformed payloads by reason', async () => {
    const { settings } = await started('mqtt/wild', {
      subscriptions: [
        JOBS,
        { topic: 'guestkit/{worker}/queue', qos: 0, format: 'number', metrics: [{ name: 'queue', type: 'gauge', value: 'value', attributes: { worker: 'worker' } }] },
      ],
    });
    const client = await publisher();
    const sent: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i += 1) {
      sent.push(client.publishAsync(`guestkit/w${i % 3}/jobs`, JSON.stringify({ event: 'job.finished', status: 'ok' }), { qos: 1 }));
      // Malformed among the good ones: not JSON, and JSON that is not an object.
      if (i % 10 === 0) sent.push(client.publishAsync('guestkit/w0/jobs', '{"event": ', { qos: 1 }));
      if (i % 20 === 0) sent.push(client.publishAsync('guestkit/w1/jobs', '[1,2]', { qos: 1 }));
    }
    sent.push(client.publishAsync('guestkit/w2/queue', '17', { qos: 1 }));
    sent.push(client.publishAsync('guestkit/w2/queue', 'many', { qos: 1 }));
    // Not under the subscriptions: never seen.
    sent.push(client.publishAsync('other/w9/jobs', JSON.stringify({ event: 'job.finished', status: 'ok' }), { qos: 1 }));
    await Promise.all(sent);
    await eventually(() => expect(valueOf(settings.meter, 'queue', { worker: 'w2' })).toBe(17));
    await eventually(() => {
      expect(valueOf(settings.meter, 'jobs', { worker: 'w0', status: 'ok' })).toBe(100);
      expect(valueOf(settings.meter, 'jobs', { worker: 'w1', status: 'ok' })).toBe(100);
      expect(valueOf(settings.meter, 'jobs', { worker: 'w2', status: 'ok' })).toBe(100);
      expect(valueOf(settings.telemetry, REFUSED_METRIC, { receiver: 'mqtt/wild', reason: 'invalid_json' })).toBe(30);
      expect(valueOf(settings.telemetry, REFUSED_METRIC, { receiver: 'mqtt/wild', reason: 'not_an_object' })).toBe(15);
      expect(valueOf(settings.telemetry, REFUSED_METRIC, { receiver: 'mqtt/wild', reason: 'not_a_number' })).toBe(1);
    });
    expect(valueOf(settings.meter, 'jobs', { worker: 'w9', status: 'ok' })).toBeUndefined();
    expect(settings.statuses.at(-1)?.status).toBe('ok');
  });

  it('counts every QoS 1 event once when the receiver is stopped, events are published, and a new one starts on the same state', async () => {
    const config = { client_id: 'agent-restart', clean_session: false, subscriptions: [JOBS] };
    const workers = ['a', 'b'];
    const first = await started('mqtt/restart', config);
    const client = await publisher();
    await publishJobs(client, 2000, (i) => workers[i % 2]);
    await eventually(() => expect(total(first.settings, workers)).toBe(2000));
    await first.receiver.shutdown();
    // Published while no agent is connected: queued in the session.
    await publishJobs(client, 3000, (i) => workers[i % 2], 2000);
    const second = await started('mqtt/restart', config);
    await eventually(() => expect(total(second.settings, workers)).toBe(5000));
    // Nothing more arrives later: no message was counted twice.
    await publishJobs(client, 1, () => 'a', 5000);
    await eventually(() => expect(total(second.settings, workers)).toBe(5001));
  });

  it('reports the broker gone as degraded, reconnects, and loses nothing published before and after', async () => {
    const config = { client_id: 'agent-broker-restart', clean_session: false, max_reconnect_interval: '500ms', subscriptions: [JOBS] };
    const { settings } = await started('mqtt/broker', config);
    let client = await publisher();
    await publishJobs(client, 1000, () => 'x');
    await broker.restart();
    await eventually(() => expect(settings.statuses.some((s) => s.status === 'degraded' && /disconnected/.test(s.reason ?? ''))).toBe(true));
    await eventually(() => expect(valueOf(settings.telemetry, 'otel_agent.mqtt.connected', { receiver: 'mqtt/broker' })).toBe(1));
    client = await publisher();
    await publishJobs(client, 1000, () => 'x', 1000);
    await eventually(() => expect(total(settings, ['x'])).toBe(2000));
    expect(valueOf(settings.telemetry, 'otel_agent.mqtt.reconnects', { receiver: 'mqtt/broker' })).toBeGreaterThanOrEqual(1);
    expect(settings.statuses.at(-1)?.status).toBe('ok');
  });
});
