// The agent's log: one JSON line per event on stderr. Under systemd (JOURNAL_STREAM set)
// each line starts with a syslog priority `<N>`, so journald files it at the right level.
import { pino } from 'pino';
import type { Logger } from '../component/types.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const SYSLOG_PRIORITY: Record<string, string> = { debug: '<7>', info: '<6>', warn: '<4>', error: '<3>', fatal: '<2>' };

/** Field names whose values never reach a log line. */
const SECRET_PATHS = ['password', 'token', 'secret', 'authorization', 'bearer_token', '*.password', '*.token', '*.secret', '*.authorization', '*.bearer_token'];

export interface AgentLogger extends Logger {
  level: string;
}

export function createLogger(level: LogLevel = 'info', env: NodeJS.ProcessEnv = process.env): AgentLogger {
  const journald = Boolean(env.JOURNAL_STREAM);
  return pino(
    {
      level,
      base: undefined,
      // journald stamps each line itself.
      timestamp: journald ? false : pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: SECRET_PATHS, censor: '<redacted>' },
      ...(journald && {
        hooks: {
          streamWrite: (line: string) => {
            const at = line.indexOf('"level":"') + 9;
            const level = line.slice(at, line.indexOf('"', at));
            return (SYSLOG_PRIORITY[level] ?? '<6>') + line;
          },
        },
      }),
    },
    pino.destination({ dest: 2, sync: true }),
  ) as unknown as AgentLogger;
}

export { silentLogger } from './silent-logger.js';
