// The checksum receiver: files verified against sha256sum/sha512sum/b2sum/md5sum manifests
// (GNU and BSD tag formats), and results of `sha256sum -c` produced elsewhere, as metrics.
// This file is what the registry loads (the schema); the receiver is imported only when a
// pipeline uses it.
import type { ReceiverFactory } from '../../component/types.js';
import { configSchema, type ChecksumConfig } from './config.js';

export type { ChecksumConfig } from './config.js';

export const checksumFactory: ReceiverFactory<ChecksumConfig> = {
  type: 'checksum',
  kind: 'receiver',
  stability: 'alpha',
  description: 'Files verified against checksum manifests (sha256sum, sha512sum, b2sum, md5sum; GNU and BSD formats) and sha256sum -c results.',
  configSchema,
  async load() {
    const { ChecksumReceiver } = await import('./receiver.js');
    return { create: (settings, config) => new ChecksumReceiver(settings, config) };
  },
};
