// The joblog receiver: follows job log files through rotation and truncation, parses each
// line (json, logfmt, regex) and maps records to metrics, with offsets checkpointed so that
// nothing is lost or counted twice across restarts. This file is what the registry loads
// (the schema); the receiver, its tailer and checkpoints are imported only when a pipeline uses it.
import type { ReceiverFactory } from '../../component/types.js';
import { configSchema, type JoblogConfig } from './config.js';

export type { JoblogConfig } from './config.js';

export const joblogFactory: ReceiverFactory<JoblogConfig> = {
  type: 'joblog',
  kind: 'receiver',
  stability: 'beta',
  description: 'Job events from log files (json, logfmt, regex) mapped to metrics; offsets checkpointed across rotation and restarts.',
  configSchema,
  async load() {
    const { JoblogReceiver } = await import('./receiver.js');
    return { create: (settings, config) => new JoblogReceiver(settings, config) };
  },
};
