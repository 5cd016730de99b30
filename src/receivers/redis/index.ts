// The redis receiver: INFO statistics, PING round-trip and key sizes of one Redis server.
// This file is what the registry loads (the schema); the receiver and its client library
// are imported only when a pipeline uses it.
import type { ReceiverFactory } from '../../component/types.js';
import { configSchema, type RedisConfig } from './config.js';

export type { RedisConfig } from './config.js';

export const redisFactory: ReceiverFactory<RedisConfig> = {
  type: 'redis',
  kind: 'receiver',
  stability: 'alpha',
  description: 'Redis INFO statistics, PING round-trip time and the sizes of chosen keys and key patterns.',
  configSchema,
  async load() {
    const { RedisReceiver } = await import('./receiver.js');
    return { create: (settings, config) => new RedisReceiver(settings, config) };
  },
};
