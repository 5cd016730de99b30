// Poll instead of sleeping: retry an assertion until it passes or the time is up. The default
// wait is long enough for a tailer under a loaded full run; a passing check returns at once.
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 15_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      return await check();
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw lastError instanceof Error ? lastError : new Error(`condition not met within ${timeoutMs}ms`);
}
