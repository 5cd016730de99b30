// Given to a child `node` with --import: appends the URL of every ES module the process loads,
// one a line, to the file named by OTEL_AGENT_MODULE_LOG. A loader hook sees dynamic imports
// too, whenever they happen, so the file says exactly what a command or a run loaded.
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

export async function load(url, context, nextLoad) {
  appendFileSync(process.env.OTEL_AGENT_MODULE_LOG, `${url}\n`);
  return nextLoad(url, context);
}

// Imported twice: by --import on the main thread, which registers it, and as the hooks
// module on the loader's own thread, which must not register again.
if (isMainThread) register(import.meta.url);
