// A metric store served by the real `prometheus` exporter, in this process: the agent's own
// path from store to scrape (MetricStore -> PipelineSource -> exporter), without a CLI.
import type { ExporterSettings, Receiver } from '../src/component/types.js';
import { prometheusFactory, type PrometheusExporter } from '../src/exporters/prometheus/index.js';
import { resourceFromAttributes } from '../src/metrics/otel.js';
import { MetricStore } from '../src/metrics/store.js';
import { PipelineSource } from '../src/pipeline/source.js';
import { silentLogger } from '../src/telemetry/silent-logger.js';
import { benchSettings } from './support.js';

export interface ServedStore {
  port: number;
  close(): Promise<void>;
}

/** Serves `store` on a free loopback port; `exporterConfig` is the exporter's YAML config beyond its endpoint. */
export async function serveStore(
  store: MetricStore,
  resource: Record<string, string>,
  exporterConfig: Record<string, unknown> = {},
): Promise<ServedStore> {
  const receiver: Receiver = { start: async () => {}, shutdown: async () => {} };
  const source = new PipelineSource({
    pipelines: [{ name: 'metrics', receivers: [{ id: 'bench', receiver, meter: store }], processors: [] }],
    resource: resourceFromAttributes(resource),
    logger: silentLogger(),
  });
  const settings: ExporterSettings = {
    ...benchSettings('prometheus', 'exporter'),
    source,
    health: { ready: () => true, components: () => [] },
  };
  const config = prometheusFactory.configSchema.parse({ endpoint: '127.0.0.1:0', ...exporterConfig });
  const exporter = (await prometheusFactory.load()).create(settings, config) as PrometheusExporter;
  await exporter.start(new AbortController().signal);
  const address = exporter.address();
  if (!address) throw new Error('prometheus exporter is not listening after start()');
  return { port: address.port, close: () => exporter.shutdown() };
}
