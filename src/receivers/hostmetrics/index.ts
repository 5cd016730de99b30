// The hostmetrics receiver: CPU, memory, load, filesystems, disks, network interfaces,
// uptime and processes of the host, read from /proc and /sys.
import type { ReceiverFactory } from '../../component/types.js';
import { configSchema, type HostmetricsConfig } from './config.js';
import { HostmetricsReceiver } from './receiver.js';

export type { HostmetricsConfig } from './config.js';
export { HostmetricsReceiver, type ScrapeResult } from './receiver.js';

export const hostmetricsFactory: ReceiverFactory<HostmetricsConfig> = {
  type: 'hostmetrics',
  kind: 'receiver',
  stability: 'beta',
  description: 'Host CPU, memory, load, filesystem, disk, network, uptime and process metrics from /proc and /sys.',
  configSchema,
  create(settings, config) {
    return new HostmetricsReceiver(settings, config);
  },
};
