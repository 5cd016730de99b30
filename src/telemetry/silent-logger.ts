// A logger that prints nothing, for `validate`, tests and benchmarks. It loads no logging
// library, so a benchmark that measures memory measures the code under test.
import type { Logger } from '../component/types.js';

const ignore = (): void => undefined;

export function silentLogger(): Logger & { level: string } {
  const logger: Logger & { level: string } = { level: 'silent', debug: ignore, info: ignore, warn: ignore, error: ignore, child: () => logger };
  return logger;
}
