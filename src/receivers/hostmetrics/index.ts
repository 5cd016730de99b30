// The hostmetrics receiver: CPU, memory, load, filesystems, disks, network interfaces,
// uptime and processes of the host, read from /proc and /sys. This file is what the registry
// loads (the schema); the receiver itself is imported only when a pipeline uses it.
import type { ReceiverFactory } from '../../component/types.js';
import { configSchema, type HostmetricsConfig } from './config.js';

export type { HostmetricsConfig } from './config.js';

export const hostmetricsFactory: ReceiverFactory<HostmetricsConfig> = {
  type: 'hostmetrics',
  kind: 'receiver',
  stability: 'beta',
  description: 'Host CPU, memory, load, filesystem, disk, network, uptime and process metrics from /proc and /sys.',
  configSchema,
  async load() {
    const { HostmetricsReceiver } = await import('./receiver.js');
    return { create: (settings, config) => new HostmetricsReceiver(settings, config) };
  },
};
