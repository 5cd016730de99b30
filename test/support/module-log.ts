// Runs the built agent, or a script against dist/, with every module it loads recorded
// (module-log.mjs), for tests of what a command or a config makes the process load.
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tempDir } from './agent-process.js';

const HOOK = pathToFileURL(resolve(import.meta.dirname, 'module-log.mjs')).href;
const ROOT = resolve(import.meta.dirname, '../..');

export interface ModuleLog {
  /** The environment that makes a child `node` record its modules. */
  env: NodeJS.ProcessEnv;
  /** What was loaded so far: paths under the repository (`dist/src/components.js`, `node_modules/yaml/...`), and `node:` builtins. */
  loaded(): string[];
}

export function moduleLog(): ModuleLog {
  const file = join(tempDir('otel-agent-modules-'), 'modules.txt');
  return {
    env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${HOOK}`.trim(), OTEL_AGENT_MODULE_LOG: file },
    loaded() {
      let text = '';
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        return [];
      }
      return [...new Set(text.split('\n').filter(Boolean))].map((url) => (url.startsWith('file:') ? relative(ROOT, fileURLToPath(url)) : url));
    },
  };
}

/** The modules that run a component type: those the registry must not load for a config that leaves it out. */
export const IMPLEMENTATIONS = {
  checksum: ['dist/src/receivers/checksum/receiver.js', 'dist/src/receivers/checksum/hash.js'],
  hostmetrics: ['dist/src/receivers/hostmetrics/receiver.js', 'dist/src/receivers/hostmetrics/cpu.js'],
  joblog: ['dist/src/receivers/joblog/receiver.js', 'dist/src/receivers/joblog/tailer.js', 'dist/src/receivers/joblog/shared-checkpoints.js'],
  mqtt: ['dist/src/receivers/mqtt/receiver.js'],
  netlink: ['dist/src/receivers/netlink/receiver.js', 'dist/src/receivers/netlink/monitor.js'],
  redis: ['dist/src/receivers/redis/receiver.js', 'dist/src/receivers/redis/keys.js'],
  prometheus: ['dist/src/exporters/prometheus/server.js', 'dist/src/exporters/prometheus/auth.js', 'dist/src/exporters/prometheus/tls.js'],
  attributes: ['dist/src/processors/attributes/processor.js'],
  filter: ['dist/src/processors/filter/processor.js'],
  resource: ['dist/src/processors/resource/processor.js'],
} as const;

/** Every implementation module, and the libraries only implementations use. */
export const EVERY_IMPLEMENTATION: string[] = [...Object.values(IMPLEMENTATIONS).flat()];
