// The `prometheus` exporter: serves the pipelines' metrics for Prometheus to scrape.
import type { ExporterFactory } from '../../component/types.js';
import { configSchema, type PrometheusExporterConfig } from './config.js';
import { PrometheusExporter } from './server.js';

export type { PrometheusExporterConfig } from './config.js';
export { PrometheusExporter, type BoundAddress, type PrometheusExporterOptions } from './server.js';

export const prometheusFactory: ExporterFactory<PrometheusExporterConfig> = {
  type: 'prometheus',
  kind: 'exporter',
  stability: 'alpha',
  description: 'Serves /metrics (Prometheus text or OpenMetrics), /health and /ready over HTTP or HTTPS with optional mutual TLS',
  configSchema,
  create(settings, config) {
    return new PrometheusExporter(settings, config);
  },
};
