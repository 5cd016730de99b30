// Starts a real Prometheus server (Debian package `prometheus`) on a free loopback port,
// with a generated config and throwaway storage, and stops it by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const PROMTOOL_BIN = '/usr/bin/promtool';

export function requireTool(path: string, debianPackage: string): void {
  if (!existsSync(path)) throw new Error(`${path} not found: apt-get install ${debianPackage}`);
}

/** A port free on 127.0.0.1 right now (for programs that cannot bind port 0 and report it). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('could not probe a free port');
  return address.port;
}

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
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
    await eventually('prometheus to be ready', async () => {
      if (!running) throw new Error(`prometheus exited: ${stderr}`);
      const response = await fetch(`${url}/-/ready`);
      return response.ok ? true : undefined;
    });
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
