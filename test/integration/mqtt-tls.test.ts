// The mqtt receiver over mqtts:// to a mosquitto that requires a client certificate: with the
// CA and the client certificate it connects and counts; without the certificate it stays
// degraded and says why.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/receivers/mqtt/config.js';
import { MqttReceiver } from '../../src/receivers/mqtt/receiver.js';
import { createTestPki, type TestPki } from '../support/certs.js';
import { eventually } from '../support/eventually.js';
import { valueOf } from '../support/metric-sink.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { testSettings } from '../support/settings.js';

let pki: TestPki;
let broker: Mosquitto;
let stateDir: string;
const running: MqttReceiver[] = [];

beforeAll(async () => {
  pki = await createTestPki();
  broker = await startMosquitto({ tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, caFile: pki.ca.certFile } });
  stateDir = await mkdtemp(join(tmpdir(), 'otel-agent-mqtt-tls-'));
});
afterAll(async () => {
  await broker?.remove();
  await pki?.remove();
  await rm(stateDir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((receiver) => receiver.shutdown()));
});

function receiver(id: string, tls: Record<string, unknown>) {
  const settings = testSettings({ id, stateDir });
  const config = configSchema.parse({
    broker: `mqtts://localhost:${broker.tlsPort}`,
    tls,
    max_reconnect_interval: '200ms',
    subscriptions: [{ topic: 'secure/{worker}', qos: 1, format: 'logfmt', metrics: [{ name: 'events', type: 'counter', attributes: { worker: 'worker' } }] }],
  });
  const made = new MqttReceiver(settings, config);
  running.push(made);
  return { receiver: made, settings };
}

describe('mqtt receiver over TLS with a client certificate', () => {
  it('connects with the CA and the client certificate and counts what is published', async () => {
    const { receiver: made, settings } = receiver('mqtt/tls', { ca_file: pki.ca.certFile, cert_file: pki.client.certFile, key_file: pki.client.keyFile });
    await made.start(new AbortController().signal);
    await eventually(() => expect(valueOf(settings.telemetry, 'otel_agent.mqtt.connected', { receiver: 'mqtt/tls' })).toBe(1));
    const client = await broker.publisher();
    await Promise.all([1, 2, 3].map((n) => client.publishAsync('secure/w1', `n=${n}`, { qos: 1 })));
    await client.endAsync();
    await eventually(() => expect(valueOf(settings.meter, 'events', { worker: 'w1' })).toBe(3));
  });

  it('without a client certificate stays disconnected and degraded', async () => {
    const { receiver: made, settings } = receiver('mqtt/nocert', { ca_file: pki.ca.certFile });
    await made.start(new AbortController().signal);
    await eventually(() => expect(settings.statuses.some((s) => s.status === 'degraded' && /disconnected/.test(s.reason ?? ''))).toBe(true));
    expect(valueOf(settings.telemetry, 'otel_agent.mqtt.connected', { receiver: 'mqtt/nocert' })).toBe(0);
  });
});
