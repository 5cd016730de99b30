// The joblog receiver: follows job log files through rotation and truncation, parses each
// line (json, logfmt, regex) and maps records to metrics, with offsets checkpointed so that
// nothing is lost or counted twice across restarts.
import type { ReceiverFactory } from '../../component/types.js';
import { configSchema, type JoblogConfig } from './config.js';
import { JoblogReceiver } from './receiver.js';

export type { JoblogConfig } from './config.js';
export { JoblogReceiver } from './receiver.js';
export { checkpointFileIn } from './shared-checkpoints.js';

export const joblogFactory: ReceiverFactory<JoblogConfig> = {
  type: 'joblog',
  kind: 'receiver',
  stability: 'beta',
  description: 'Job events from log files (json, logfmt, regex) mapped to metrics; offsets checkpointed across rotation and restarts.',
  configSchema,
  create(settings, config) {
    return new JoblogReceiver(settings, config);
  },
};
