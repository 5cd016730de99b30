// The mqtt receiver in the real agent process: 50,000 QoS 1 events published while the agent
// is killed with kill -9 five times at seeded random moments; with the session kept by the
// broker and the values and counted ids saved before each acknowledgement, the totals are exact.
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, tempDir, waitForLog, writeConfig, type AgentProcess } from '../support/agent-process.js';
import { eventually } from '../support/eventually.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { freePort } from '../support/ports.js';
import { seededRandom } from '../support/seeded-random.js';
import { scrape, valueIn } from './fixtures/joblog/harness.js';

const STATUSES = ['ok', 'failed', 'cancelled'];
let broker: Mosquitto;
let publisher: MqttClient | undefined;
const running: AgentProcess[] = [];

beforeAll(async () => {
  broker = await startMosquitto();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((agent) => agent.stop()));
  await publisher?.endAsync(true);
  publisher = undefined;
});
afterAll(async () => {
  await broker?.remove();
});

function config(port: number, stateDir: string): string {
  return `receivers:
  mqtt:
    broker: ${broker.url}
    client_id: agent-kill-test
    clean_session: false
    max_reconnect_interval: 200ms
    subscriptions:
      - topic: "jobs/{worker}/done"
        qos: 1
        format: logfmt
        metrics:
          - name: test.jobs
            type: counter
            attributes: { status: status }
exporters:
  prometheus:
    endpoint: 127.0.0.1:${port}
service:
  state_directory: ${stateDir}
  pipelines:
    metrics:
      receivers: [mqtt]
      exporters: [prometheus]
`;
}

describe('mqtt receiver across kill -9', () => {
  it('50,000 QoS 1 events, five kill -9 at seeded random moments: every event counted once', async () => {
    const seed = Number(process.env.MQTT_TEST_SEED ?? 20261203);
    const random = seededRandom(seed);
    const TOTAL = 50_000;
    const BATCH = 500;
    const KILLS = 5;
    const killAfter = new Set<number>();
    while (killAfter.size < KILLS) killAfter.add(1 + Math.floor(random() * (TOTAL / BATCH - 2)));
    const directory = tempDir('otel-agent-mqtt-kill-');
    const port = await freePort();
    const file = writeConfig(directory, config(port, join(directory, 'state')));
    const start = async () => {
      const agent = startAgent(['run', '--config', file]);
      running.push(agent);
      await waitForLog(agent, 'connected to the mqtt broker');
      return agent;
    };
    let agent = await start();
    publisher = await broker.publisher();
    const expected = new Map(STATUSES.map((status) => [status, 0]));
    let kills = 0;
    let published = 0;
    for (let batch = 0; published < TOTAL; batch += 1) {
      const sent: Promise<unknown>[] = [];
      for (let i = 0; i < BATCH; i += 1, published += 1) {
        const status = STATUSES[Math.floor(random() * STATUSES.length)];
        expected.set(status, expected.get(status)! + 1);
        sent.push(publisher.publishAsync(`jobs/w${published % 4}/done`, `n=${published} status=${status}`, { qos: 1 }));
      }
      // The broker has every event of the batch (PUBACK to the publisher) before the next.
      await Promise.all(sent);
      if (killAfter.has(batch)) {
        await delay(Math.floor(random() * 50));
        agent.child.kill('SIGKILL');
        expect(await agent.exited).toBe('SIGKILL');
        running.splice(running.indexOf(agent), 1);
        kills += 1;
        agent = await start();
      }
    }
    expect(kills).toBe(KILLS);
    await eventually(
      async () => {
        const exposition = await scrape(port);
        for (const status of STATUSES) expect(valueIn(exposition, 'test_jobs_total', { status }), `status ${status}, seed ${seed}`).toBe(expected.get(status));
      },
      60_000,
      200,
    );
    // Settled: no redelivery comes later and counts again.
    await delay(500);
    const exposition = await scrape(port);
    for (const status of STATUSES) expect(valueIn(exposition, 'test_jobs_total', { status })).toBe(expected.get(status));
    console.log(
      `mqtt kill -9 test: seed ${seed}, ${TOTAL} events, ${kills} kills after batches ${[...killAfter].sort((a, b) => a - b).join(', ')} of ${BATCH}; totals ${JSON.stringify(Object.fromEntries(expected))}; duplicates recognised ${valueIn(exposition, 'otel_agent_mqtt_duplicates_total', { receiver: 'mqtt' }) ?? 'n/a'}`,
    );
  }, 240_000);
});
