// A new config checked on a worker thread before the running agent takes it: parsing and
// validating a large or hostile file costs the worker's time, not the event loop's, so a
// refused SIGHUP never holds up a scrape or /health.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { builtinFactories } from '../components.js';
import { ConfigError, loadConfig } from '../config/load.js';

/** Why the file would be refused, one line per problem; empty when it loads. */
export type ConfigProblems = string[];

/** Longest a check may take; past it the check is dropped and the agent loads the file itself. */
const CHECK_TIMEOUT_MS = 30_000;

/** Loads `file` as `otel-agent run` would, with the built-in components, on a worker thread. */
export function checkConfigOffThread(file: string): Promise<ConfigProblems | undefined> {
  return new Promise((resolve) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { file }, execArgv: [] });
    const timer = setTimeout(() => void worker.terminate(), CHECK_TIMEOUT_MS);
    let answer: ConfigProblems | undefined;
    worker.once('message', (problems: ConfigProblems) => (answer = problems));
    // No answer (the worker failed to start, or timed out): undefined, and the caller checks itself.
    worker.once('error', () => undefined);
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}

function problemsOf(file: string): ConfigProblems {
  try {
    loadConfig(file, builtinFactories());
    return [];
  } catch (error) {
    return error instanceof ConfigError ? error.message.split('\n') : [(error as Error).message];
  }
}

if (!isMainThread && parentPort && (workerData as { file?: unknown })?.file !== undefined) {
  parentPort.postMessage(problemsOf((workerData as { file: string }).file));
}
