// MQTT messages per second through the mqtt receiver to collected metrics, against a bare
// mqtt.js subscriber that only parses (JSON.parse), same broker (a mosquitto started here on
// a free port), same run, QoS 0 and QoS 1. Each contender's session is made first, then the
// messages are published and queued at the broker, then the contender connects and drains
// them: the rate is messages / time to drain, not the publisher's. The receiver saves its
// values and counted ids (an fsync) before each batch of QoS 1 acknowledgements (ADR 0017).
// Run alone: `npx tsc -p tsconfig.build.json && node dist/bench/mqtt.js`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import type { ReceiverSettings } from '../src/component/types.js';
import { MetricStore } from '../src/metrics/store.js';
import { configSchema } from '../src/receivers/mqtt/config.js';
import { MqttReceiver } from '../src/receivers/mqtt/receiver.js';
import { benchSettings, formatTable, freePort, mib, sleep } from './support.js';

export interface MqttBenchRow {
  qos: 0 | 1;
  contender: string;
  messages: number;
  seconds: number;
  perSecond: number;
  rssGrowthMiB: number;
}

const PAYLOAD = (i: number) => JSON.stringify({ event: 'job.finished', operation: i % 2 === 0 ? 'inspect' : 'convert', status: i % 5 === 0 ? 'failed' : 'completed', job_id: `j${i}` });

async function startBroker(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const config = join(dir, 'mosquitto.conf');
  await writeFile(config, ['allow_anonymous true', 'persistence false', 'max_queued_messages 0', 'max_inflight_messages 0', 'queue_qos0_messages true', `listener ${port} 127.0.0.1`, ''].join('\n'));
  const child = spawn('mosquitto', ['-c', config], { stdio: 'ignore' });
  const url = `mqtt://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const ok = await new Promise<boolean>((resolve) => {
      const probe = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 500 });
      probe.once('connect', () => {
        resolve(true);
        probe.end(true);
      });
      probe.once('error', () => resolve(false));
      probe.once('close', () => resolve(false));
    });
    if (ok) return { url, child };
    await sleep(25);
  }
  child.kill('SIGKILL');
  throw new Error('mosquitto did not start');
}

async function connected(url: string, options: mqtt.IClientOptions): Promise<MqttClient> {
  const client = mqtt.connect(url, options);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

/** Makes the session of `clientId` with its subscription, then leaves: what is published next waits in it. */
async function makeSession(url: string, clientId: string, qos: 0 | 1): Promise<void> {
  const client = await connected(url, { clientId, clean: false });
  await client.subscribeAsync('bench/+/jobs', { qos });
  await client.endAsync();
}

async function publish(url: string, count: number, qos: 0 | 1): Promise<void> {
  const client = await connected(url, { clientId: `bench-publisher-${process.pid}` });
  const WINDOW = 2000;
  for (let from = 0; from < count; from += WINDOW) {
    const sent: Promise<unknown>[] = [];
    // QoS 1 to the broker even for the QoS 0 run: the broker must hold every message before the drain starts.
    for (let i = from; i < Math.min(count, from + WINDOW); i += 1) sent.push(client.publishAsync(`bench/w${i % 4}/jobs`, PAYLOAD(i), { qos: 1 }));
    await Promise.all(sent);
  }
  await client.endAsync();
  void qos;
}

async function drainBare(url: string, clientId: string, count: number): Promise<number> {
  let received = 0;
  let parsed = 0;
  const started = performance.now();
  const client = mqtt.connect(url, { clientId, clean: false });
  await new Promise<void>((resolve) => {
    client.on('message', (_topic, payload) => {
      if (typeof JSON.parse(payload.toString('utf8')).event === 'string') parsed += 1;
      received += 1;
      if (received === count) resolve();
    });
  });
  const seconds = (performance.now() - started) / 1000;
  await client.endAsync(true);
  if (parsed !== count) throw new Error(`bare subscriber parsed ${parsed} of ${count}`);
  return seconds;
}

async function drainReceiver(url: string, clientId: string, count: number, qos: 0 | 1, stateDir: string): Promise<number> {
  const meter = new MetricStore({ scope: 'mqtt' });
  const settings: ReceiverSettings = { ...benchSettings('mqtt', 'receiver', stateDir), meter };
  const config = configSchema.parse({
    broker: url,
    client_id: clientId,
    clean_session: false,
    subscriptions: [
      {
        topic: 'bench/{worker}/jobs',
        qos,
        format: 'json',
        metrics: [{ name: 'jobs', type: 'counter', attributes: { worker: 'worker', operation: 'operation', status: 'status' } }],
      },
    ],
  });
  const receiver = new MqttReceiver(settings, config);
  const started = performance.now();
  await receiver.start(new AbortController().signal);
  const total = () => {
    let sum = 0;
    for (const metric of meter.collect().metrics) {
      if (metric.descriptor.name === 'jobs') for (const point of metric.dataPoints) sum += point.value as number;
    }
    return sum;
  };
  while (total() < count) await sleep(20);
  const seconds = (performance.now() - started) / 1000;
  await receiver.shutdown();
  return seconds;
}

export async function runMqttBench(options: { qos0Messages?: number; qos1Messages?: number } = {}): Promise<MqttBenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'otel-agent-bench-mqtt-'));
  const broker = await startBroker(dir);
  const rows: MqttBenchRow[] = [];
  try {
    for (const qos of [0, 1] as const) {
      const count = qos === 0 ? (options.qos0Messages ?? 200_000) : (options.qos1Messages ?? 100_000);
      for (const contender of ['bare mqtt.js (JSON.parse only)', 'mqtt receiver -> metrics']) {
        const clientId = `bench-${qos}-${rows.length}`;
        await makeSession(broker.url, clientId, qos);
        await publish(broker.url, count, qos);
        global.gc?.();
        const rssBefore = process.memoryUsage().rss;
        const seconds = contender.startsWith('bare')
          ? await drainBare(broker.url, clientId, count)
          : await drainReceiver(broker.url, clientId, count, qos, join(dir, `state-${rows.length}`));
        global.gc?.();
        rows.push({ qos, contender, messages: count, seconds, perSecond: count / seconds, rssGrowthMiB: mib(process.memoryUsage().rss - rssBefore) });
      }
    }
  } finally {
    broker.child.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}

export function formatMqttTable(rows: MqttBenchRow[]): string {
  const bare = new Map(rows.filter((row) => row.contender.startsWith('bare')).map((row) => [row.qos, row.perSecond]));
  return formatTable(
    'MQTT: queued messages drained per second, through the mqtt receiver to collected metrics vs a bare mqtt.js subscriber (same broker, same run)',
    ['qos', 'contender', 'messages', 'seconds', 'msgs/s', 'vs bare', 'RSS growth MiB'],
    rows.map((row) => [
      row.qos,
      row.contender,
      row.messages,
      row.seconds.toFixed(2),
      Math.round(row.perSecond),
      `${(row.perSecond / bare.get(row.qos)!).toFixed(2)}x`,
      row.rssGrowthMiB.toFixed(1),
    ]),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatMqttTable(await runMqttBench()));
}
