// The netlink receiver: link events (new, changed, deleted) from the kernel's rtnetlink link
// group as they happen, through a supervised `ip -o monitor link`, with each interface's
// state and counters read from /sys/class/net so no flap is lost. This file is what the
// registry loads (the schema); the receiver is imported only when a pipeline uses it.
import type { ReceiverFactory } from '../../component/types.js';
import { configSchema, type NetlinkConfig } from './config.js';

export type { NetlinkConfig } from './config.js';

export const netlinkFactory: ReceiverFactory<NetlinkConfig> = {
  type: 'netlink',
  kind: 'receiver',
  stability: 'alpha',
  description: 'Network interface state, flaps and counters, updated on each kernel link event and reconciled from /sys/class/net.',
  configSchema,
  async load() {
    const { NetlinkReceiver } = await import('./receiver.js');
    return { create: (settings, config) => new NetlinkReceiver(settings, config) };
  },
};
