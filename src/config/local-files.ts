// What `validate` can check beyond the file's shape without binding or connecting: that the
// files a config names (`cert_file`, `key_file`, `client_ca_file`, `bearer_token_file`, any
// `*_file`) can be opened, and that the state directory `run` would use (named, or the
// default) can be made and written. So a unit's `ExecStartPre=otel-agent validate` refuses
// what `run` would fail on. A state directory locked by a running agent is not a problem here:
// `validate` is run beside the agent it checks a config for (cli/main.ts says so instead).
import { accessSync, closeSync, constants, existsSync, fstatSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { systemReason } from '../component/regular-file.js';
import type { ConfigPath } from './errors.js';

export interface LocalFileProblem {
  path: ConfigPath;
  message: string;
}

const FILE_KEY = /_file$/;

/**
 * Problems with the local files and directories named in `data` (the substituted config).
 * `defaultStateDirectory` is where state goes when the file names no `service.state_directory`.
 */
export function localFileProblems(data: Record<string, unknown>, defaultStateDirectory?: string): LocalFileProblem[] {
  const problems: LocalFileProblem[] = [];
  const visit = (value: unknown, path: ConfigPath): void => {
    if (Array.isArray(value)) {
      value.forEach((item, index) => visit(item, [...path, index]));
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    for (const [key, item] of Object.entries(value)) {
      if (FILE_KEY.test(key) && typeof item === 'string' && item !== '') {
        const reason = unreadable(item);
        if (reason) problems.push({ path: [...path, key], message: `cannot read ${JSON.stringify(item)}: ${reason}` });
      } else {
        visit(item, [...path, key]);
      }
    }
  };
  for (const section of ['receivers', 'processors', 'exporters']) visit(data[section], [section]);
  const service = data.service as Record<string, unknown> | undefined;
  const named = service?.state_directory;
  if (typeof named === 'string' && named !== '') {
    const reason = unwritableDirectory(named);
    if (reason) problems.push({ path: ['service', 'state_directory'], message: `cannot write state to ${JSON.stringify(named)}: ${reason}` });
  } else if (named === undefined && defaultStateDirectory !== undefined) {
    const reason = unwritableDirectory(defaultStateDirectory);
    if (reason) {
      problems.push({
        path: ['service', 'state_directory'],
        message: `cannot write state to ${JSON.stringify(defaultStateDirectory)} (the default; set service.state_directory, or run under systemd's StateDirectory=): ${reason}`,
      });
    }
  }
  return problems;
}

/** Why `path` cannot be opened for reading as a regular file, or undefined. */
function unreadable(path: string): string | undefined {
  let fd: number | undefined;
  try {
    // O_NONBLOCK: a FIFO is refused below, never waited on.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    if (!fstatSync(fd).isFile()) return 'it is not a regular file';
    return undefined;
  } catch (error) {
    return systemReason(error);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Why state cannot be kept in `directory` (made if missing, as the agent does), or undefined. */
function unwritableDirectory(directory: string): string | undefined {
  let existing = directory;
  while (!existsSync(existing)) {
    const parent = dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  try {
    if (!statSync(existing).isDirectory()) return `${JSON.stringify(existing)} is not a directory`;
    accessSync(existing, constants.W_OK);
    return undefined;
  } catch (error) {
    return systemReason(error);
  }
}
