// A real Prometheus server (Debian package `prometheus`) scraping the exporter over mutual
// TLS, and `promtool check metrics` on a real scrape body.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrometheusExporter } from '../../src/exporters/prometheus/index.js';
import { createTestPki, type TestPki } from '../support/certs.js';
import { eventually } from '../support/eventually.js';
import { PROMTOOL_BIN, requireTool, startPrometheus, type PrometheusServer } from '../support/prometheus.js';
import { fetchFrom, startExporter } from '../support/prometheus-exporter.js';

interface Target {
  labels: Record<string, string>;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

let pki: TestPki;
let exporter: PrometheusExporter;
let port: number;
let prometheus: PrometheusServer | undefined;

beforeAll(async () => {
  pki = await createTestPki();
  ({ exporter, port } = await startExporter({
    tls: { cert_file: pki.server.certFile, key_file: pki.server.keyFile, client_ca_file: pki.ca.certFile },
  }));
});

afterAll(async () => {
  await prometheus?.stop();
  await exporter?.shutdown();
  await pki?.remove();
});

async function targets(server: PrometheusServer): Promise<Target[]> {
  return (await server.api<{ activeTargets: Target[] }>('/api/v1/targets')).activeTargets;
}

function promtoolCheckMetrics(body: Buffer): Promise<{ code: number | null; output: string }> {
  requireTool(PROMTOOL_BIN, 'prometheus');
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL_BIN, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(body);
  });
}

describe('Prometheus scraping over mTLS', () => {
  it('shows the target up, refuses a job without a client certificate, and answers a query', async () => {
    const target = `127.0.0.1:${port}`;
    prometheus = await startPrometheus({
      scrapeConfigs: [
        {
          job_name: 'otel-agent',
          scheme: 'https',
          tls_config: { ca_file: pki.ca.certFile, cert_file: pki.client.certFile, key_file: pki.client.keyFile },
          static_configs: [{ targets: [target] }],
        },
        {
          job_name: 'no-client-cert',
          scheme: 'https',
          tls_config: { ca_file: pki.ca.certFile },
          static_configs: [{ targets: [target] }],
        },
      ],
    });
    const server = prometheus;

    const byJob = await eventually(async () => {
      const found = new Map((await targets(server)).map((t) => [t.labels.job, t]));
      expect(found.get('otel-agent')?.health).toBe('up');
      expect(found.get('no-client-cert')?.health).toBe('down');
      return found;
    }, 30_000, 250);
    expect(byJob.get('otel-agent')?.lastError).toBe('');
    expect(byJob.get('no-client-cert')?.lastError).toMatch(/tls|certificate/i);

    const samples = await eventually(async () => {
      const result = await server.api<{ result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent('test_requests_total{job="otel-agent"}')}`);
      expect(result.result).toHaveLength(1);
      return result.result;
    }, 30_000, 250);
    expect(samples[0].metric).toMatchObject({ route: '/a', instance: target });
    expect(samples[0].value[1]).toBe('42');

    const info = await server.api<{ result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent('target_info{job="otel-agent"}')}`);
    expect(info.result[0]?.metric).toMatchObject({ service_name: 'otel-agent-test', host_name: 'test-host' });

    // Prometheus asks for OpenMetrics first: an `info` family only exists in that format.
    const metadata = await server.api<Array<{ metric: string; type: string }>>(
      `/api/v1/targets/metadata?match_target=${encodeURIComponent('{job="otel-agent"}')}`,
    );
    expect(metadata).toContainEqual(expect.objectContaining({ metric: 'target', type: 'info' }));
  });
});

describe('promtool check metrics', () => {
  it('passes a real scrape body in the text format', async () => {
    const ca = await readFile(pki.ca.certFile);
    const cert = await readFile(pki.client.certFile);
    const key = await readFile(pki.client.keyFile);
    const reply = await fetchFrom(port, { tls: { ca, cert, key } });
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toContain('test_requests_total');
    const { code, output } = await promtoolCheckMetrics(reply.body);
    expect(output).toBe('');
    expect(code).toBe(0);
  });
});
