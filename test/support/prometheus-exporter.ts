// What a Prometheus exporter test needs around the exporter: a hand-built metric source,
// health, a recording logger and meter, and a request helper for HTTP and HTTPS.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type {
  CollectOptions,
  ComponentHealth,
  ComponentStatus,
  Counter,
  ExporterSettings,
  Gauge,
  Histogram,
  Logger,
  Meter,
  MetricSource,
  UpDownCounter,
} from '../../src/component/types.js';
import { prometheusFactory, type PrometheusExporter } from '../../src/exporters/prometheus/index.js';
import { unusedStore } from './state.js';

/** One counter `test.requests` (unit `{requests}`) with `value`, under a resource naming the test. */
export function sampleMetrics(value = 42): ResourceMetrics[] {
  const now: [number, number] = [Math.floor(Date.now() / 1000), 0];
  return [
    {
      resource: resourceFromAttributes({ 'service.name': 'otel-agent-test', 'host.name': 'test-host' }),
      scopeMetrics: [
        {
          scope: { name: 'test/source' },
          metrics: [
            {
              descriptor: { name: 'test.requests', description: 'Requests seen by the test.', unit: '{requests}', valueType: ValueType.INT },
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              dataPointType: DataPointType.SUM,
              isMonotonic: true,
              dataPoints: [{ startTime: [now[0] - 60, 0], endTime: now, attributes: { route: '/a' }, value }],
            },
            {
              descriptor: { name: 'test.queue.depth', description: 'Jobs waiting.', unit: '{jobs}', valueType: ValueType.INT },
              aggregationTemporality: AggregationTemporality.CUMULATIVE,
              dataPointType: DataPointType.GAUGE,
              dataPoints: [{ startTime: now, endTime: now, attributes: { queue: 'main' }, value: 7 }],
            },
          ],
        },
      ],
    },
  ];
}

/** A source that counts its calls; `behaviour` decides what each collection does. */
export class TestSource implements MetricSource {
  calls = 0;
  lastOptions?: CollectOptions;
  constructor(public behaviour: (call: number) => Promise<ResourceMetrics[]> = async () => sampleMetrics()) {}
  collect(options: CollectOptions): Promise<ResourceMetrics[]> {
    this.calls += 1;
    this.lastOptions = options;
    return this.behaviour(this.calls);
  }
}

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: object;
  msg?: string;
}

export function recordingLogger(entries: LogEntry[] = []): Logger & { entries: LogEntry[] } {
  const at = (level: LogEntry['level']) => (fields: object, msg?: string) => void entries.push({ level, fields, msg });
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => recordingLogger(entries) };
}

export interface Recorded {
  instrument: string;
  op: string;
  value: number;
  attributes: Record<string, unknown>;
}

export function recordingMeter(records: Recorded[] = []): Meter & { records: Recorded[] } {
  const instrument = (name: string) => {
    const op = (kind: string) => (value: number, attributes: Record<string, unknown> = {}) => void records.push({ instrument: name, op: kind, value, attributes });
    return { add: op('add'), set: op('set'), record: op('record'), remove: () => undefined };
  };
  return {
    records,
    counter: (name) => instrument(name) as Counter,
    upDownCounter: (name) => instrument(name) as UpDownCounter,
    gauge: (name) => instrument(name) as Gauge,
    histogram: (name) => instrument(name) as Histogram,
    mark: () => 0,
    sweep: () => undefined,
  };
}

export interface TestHarness {
  settings: ExporterSettings;
  source: TestSource;
  logger: ReturnType<typeof recordingLogger>;
  telemetry: ReturnType<typeof recordingMeter>;
  statuses: Array<{ status: ComponentStatus; reason?: string }>;
  health: { ready: boolean; components: ComponentHealth[] };
}

export function testHarness(source = new TestSource()): TestHarness {
  const health = { ready: true, components: [] as ComponentHealth[] };
  const statuses: TestHarness['statuses'] = [];
  const logger = recordingLogger();
  const telemetry = recordingMeter();
  const settings: ExporterSettings = {
    id: 'prometheus/test',
    logger,
    status: { report: (status, reason) => void statuses.push({ status, reason }) },
    store: unusedStore('prometheus/test', 'exporter'),
    telemetry,
    source,
    health: { ready: () => health.ready, components: () => health.components },
  };
  return { settings, source, logger, telemetry, statuses, health };
}

/** Validates `yamlConfig` (as the YAML would read) through the factory's schema, creates and starts the exporter. */
export async function startExporter(
  yamlConfig: Record<string, unknown>,
  harness = testHarness(),
): Promise<{ exporter: PrometheusExporter; port: number; harness: TestHarness }> {
  const config = prometheusFactory.configSchema.parse({ endpoint: '127.0.0.1:0', ...yamlConfig });
  const exporter = prometheusFactory.create(harness.settings, config) as PrometheusExporter;
  await exporter.start(new AbortController().signal);
  const address = exporter.address();
  if (!address) throw new Error('exporter is not listening after start()');
  return { exporter, port: address.port, harness };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Over HTTPS: the certificate the server presented. */
  peerCertificate?: PeerCertificate;
}

export interface RequestOptions {
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  /** HTTPS when set: trust `ca`, present `cert`/`key` when given. */
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer; maxVersion?: 'TLSv1.2' | 'TLSv1.3' };
}

/** One request on a fresh connection (no agent, no session reuse). */
export function fetchFrom(port: number, options: RequestOptions = {}): Promise<Reply> {
  const { path = '/metrics', method = 'GET', headers = {}, tls } = options;
  return new Promise((resolve, reject) => {
    const common = { host: '127.0.0.1', port, path, method, headers, agent: false as const };
    const req = tls
      ? httpsRequest({ ...common, ca: tls.ca, cert: tls.cert, key: tls.key, maxVersion: tls.maxVersion })
      : httpRequest(common);
    req.setTimeout(15_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.on('response', (res) => {
      const peerCertificate = tls ? (res.socket as TLSSocket).getPeerCertificate() : undefined;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), peerCertificate }));
    });
    req.end();
  });
}
