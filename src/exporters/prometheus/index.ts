// The `prometheus` exporter: serves the pipelines' metrics for Prometheus to scrape. This file
// is what the registry loads (the schema); the server, TLS and authentication are imported
// only when a pipeline uses it.
import type { ExporterFactory } from '../../component/types.js';
import { configSchema, type PrometheusExporterConfig } from './config.js';

export type { PrometheusExporterConfig } from './config.js';
export type { PrometheusExporter, BoundAddress, PrometheusExporterOptions } from './server.js';

export const prometheusFactory: ExporterFactory<PrometheusExporterConfig> = {
  type: 'prometheus',
  kind: 'exporter',
  stability: 'alpha',
  description: 'Serves /metrics (Prometheus text or OpenMetrics), /health and /ready over HTTP or HTTPS with optional mutual TLS',
  configSchema,
  async load() {
    const { PrometheusExporter } = await import('./server.js');
    return { create: (settings, config) => new PrometheusExporter(settings, config) };
  },
};
