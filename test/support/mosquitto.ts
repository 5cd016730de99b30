// A mosquitto of the test's own, on a free loopback port, with its config, persistence file and
// log in a temp directory; stopped by PID. Persistence is on and the queues unbounded, so a
// clean_session: false session and its queued QoS 1 messages survive `restart()`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { freePort } from './ports.js';

export interface MosquittoOptions {
  /** Also a TLS listener requiring a client certificate signed by `caFile`. */
  tls?: { certFile: string; keyFile: string; caFile: string };
}

export interface Mosquitto {
  readonly port: number;
  readonly tlsPort?: number;
  readonly url: string;
  readonly pid: number | undefined;
  start(): Promise<void>;
  /** SIGKILL: what the broker had not written to its persistence file is lost with it. */
  kill(): Promise<void>;
  /** SIGTERM: mosquitto writes its persistence file, sessions and queues included, on the way out. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** A publisher connected to the plain port; the caller ends it. */
  publisher(): Promise<MqttClient>;
  remove(): Promise<void>;
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'otel-agent-mosquitto-'));
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : undefined;
  const lines = [
    'per_listener_settings false',
    'allow_anonymous true',
    // Started as root, mosquitto would switch to its own user, who cannot read the test's 0600 keys.
    'user root',
    'persistence true',
    `persistence_location ${dir}/`,
    'autosave_interval 1',
    // Unbounded: messages queued for an absent session are never dropped, and acknowledgements
    // held back for a save never stall delivery below the receiver's batch.
    'max_queued_messages 0',
    'max_inflight_messages 0',
    'log_dest stdout',
    'log_type error',
    'log_type warning',
    `listener ${port} 127.0.0.1`,
  ];
  if (options.tls) {
    lines.push(`listener ${tlsPort} 127.0.0.1`, `certfile ${options.tls.certFile}`, `keyfile ${options.tls.keyFile}`, `cafile ${options.tls.caFile}`, 'require_certificate true');
  }
  const configFile = join(dir, 'mosquitto.conf');
  await writeFile(configFile, `${lines.join('\n')}\n`);
  let child: ChildProcess | undefined;

  const waitExit = async (signal: NodeJS.Signals) => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(signal);
    await exited;
  };

  const broker: Mosquitto = {
    port,
    tlsPort,
    url: `mqtt://127.0.0.1:${port}`,
    get pid() {
      return child?.pid;
    },
    async start() {
      if (child) return;
      const started = spawn('mosquitto', ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = started;
      let output = '';
      started.stdout!.on('data', (data: Buffer) => (output = (output + data.toString()).slice(-2000)));
      started.stderr!.on('data', (data: Buffer) => (output = (output + data.toString()).slice(-2000)));
      const exited = new Promise<never>((_, reject) => started.once('exit', (code) => reject(new Error(`mosquitto exited with ${code}: ${output}`))));
      exited.catch(() => undefined);
      // Ready when a client can connect.
      for (let attempt = 0; ; attempt += 1) {
        const ok = await Promise.race([
          new Promise<boolean>((resolve) => {
            const probe = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 1000 });
            probe.once('connect', () => {
              resolve(true);
              probe.end(true);
            });
            probe.once('error', () => probe.end(true, {}, () => resolve(false)));
            probe.once('close', () => resolve(false));
          }),
          exited,
        ]);
        if (ok) break;
        if (attempt > 200) throw new Error(`mosquitto did not accept connections: ${output}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      started.once('exit', () => {
        if (child === started) child = undefined;
      });
    },
    kill: () => waitExit('SIGKILL'),
    stop: () => waitExit('SIGTERM'),
    async restart() {
      await broker.stop();
      await broker.start();
    },
    async publisher() {
      const client = mqtt.connect(broker.url, { reconnectPeriod: 100, clientId: `publisher-${Math.random().toString(16).slice(2)}` });
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
      });
      return client;
    },
    async remove() {
      await broker.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await broker.start();
  } catch (error) {
    await broker.remove();
    throw error;
  }
  return broker;
}
