// State stores for tests that build component settings by hand. Stores of one directory
// share what the service would have them share (joblog's checkpoint table), as in one agent.
import type { Kind, Logger, StateStore } from '../../src/component/types.js';
import { StateDirectory } from '../../src/state/store.js';
import { silentLogger } from '../../src/telemetry/logger.js';

const directories = new Map<string, StateDirectory>();

/** The store of component `id` in state directory `directory` (nothing is made on disk until written). */
export function storeIn(directory: string, id: string, kind: Kind = 'receiver', logger?: Logger): StateStore {
  let root = directories.get(directory);
  if (root === undefined) {
    root = new StateDirectory(directory, silentLogger());
    directories.set(directory, root);
  }
  return root.storeFor(kind, id, logger);
}

/** A store for components that keep no state: its directory does not exist. */
export function unusedStore(id: string, kind: Kind = 'receiver'): StateStore {
  return storeIn('/nonexistent', id, kind);
}
