// Starts a real Prometheus server (Debian package `prometheus`) on a free loopback port,
// with a generated config and throwaway storage, and stops it by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { eventually } from './eventually.js';
import { freePort } from './ports.js';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const PROMTOOL_BIN = '/usr/bin/promtool';

export function requireTool(path: string, debianPackage: string): void {
  if (!existsSync(path)) throw new Error(`${path} not found: apt-get install ${debianPackage}`);
}

export interface PrometheusServer {
  url: string;
  pid: number;
  /** GET a path of the HTTP API and return its `data`, or throw with Prometheus' error. */
  api<T = unknown>(path: string): Promise<T>;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** Entries of `scrape_configs`, as objects (turned into YAML). */
  scrapeConfigs: object[];
  scrapeInterval?: string;
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  requireTool(PROMETHEUS_BIN, 'prometheus');
  const dir = await mkdtemp(join(tmpdir(), 'otel-agent-prometheus-'));
  const interval = options.scrapeInterval ?? '1s';
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(
    configFile,
    stringify({
      global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
      scrape_configs: options.scrapeConfigs,
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let running = true;
  void exited.then(() => (running = false));

  const stop = async () => {
    if (running && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      const killer = setTimeout(() => child.pid !== undefined && running && process.kill(child.pid, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await eventually(async () => {
      if (!running) throw new Error(`prometheus exited: ${stderr}`);
      const response = await fetch(`${url}/-/ready`);
      if (!response.ok) throw new Error(`prometheus not ready: HTTP ${response.status}`);
    }, 30_000, 200);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    url,
    pid: child.pid as number,
    async api<T>(path: string): Promise<T> {
      const response = await fetch(`${url}${path}`);
      const payload = (await response.json()) as { status: string; data: T; error?: string };
      if (payload.status !== 'success') throw new Error(`prometheus ${path}: ${payload.error}`);
      return payload.data;
    },
    stop,
  };
}
