// The one list of built-in component factories.
import type { ExporterFactory, Factory, FactoryLookup, ProcessorFactory, ReceiverFactory } from './component/types.js';
import { prometheusFactory } from './exporters/prometheus/index.js';
import { attributesProcessorFactory } from './processors/attributes/index.js';
import { filterProcessorFactory } from './processors/filter/index.js';
import { resourceProcessorFactory } from './processors/resource/index.js';
import { checksumFactory } from './receivers/checksum/index.js';
import { hostmetricsFactory } from './receivers/hostmetrics/index.js';
import { joblogFactory } from './receivers/joblog/index.js';
import { mqttFactory } from './receivers/mqtt/index.js';
import { netlinkFactory } from './receivers/netlink/index.js';
import { redisFactory } from './receivers/redis/index.js';

export const RECEIVERS: readonly ReceiverFactory[] = [hostmetricsFactory, joblogFactory, mqttFactory, netlinkFactory, redisFactory, checksumFactory];
export const PROCESSORS: readonly ProcessorFactory[] = [attributesProcessorFactory, filterProcessorFactory, resourceProcessorFactory];
export const EXPORTERS: readonly ExporterFactory[] = [prometheusFactory];

function byType<F extends Factory>(factories: readonly F[]): ReadonlyMap<string, F> {
  return new Map(factories.map((factory) => [factory.type, factory]));
}

export function builtinFactories(): FactoryLookup {
  return { receivers: byType(RECEIVERS), processors: byType(PROCESSORS), exporters: byType(EXPORTERS) };
}
