// `${env:NAME}`, `${env:NAME:-default}`, `${file:/path}` and `$$` in scalar string values.
// Substitution runs on the parsed document, never on the text: a value read from the
// environment or a file is never parsed as YAML, and keys are never touched.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { isMap, isScalar, isSeq, type Document, type Node } from 'yaml';
import type { ConfigPath } from './errors.js';

export interface Substituted {
  value: string;
  /** True when some of the value came from `${file:...}`: such values are secrets. */
  fromFile: boolean;
  /** One sentence per reference that could not be resolved. */
  problems: string[];
}

const ENV_REFERENCE = /^env:([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;
const FILE_REFERENCE = /^file:(.+)$/s;

/**
 * Expands the references in one string. A `$` that does not start `$$` or `${` stays as
 * written (a password like `pa$word`); `$$` is a literal `$`. `${env:NAME:-default}` takes
 * the default when NAME is unset or empty, as in the shell. A relative `${file:...}` path is
 * taken from `baseDir` (the config file's directory). One trailing newline of a file is
 * removed, since editors add one.
 */
export function substitute(text: string, env: NodeJS.ProcessEnv, baseDir: string): Substituted {
  const problems: string[] = [];
  let value = '';
  let fromFile = false;
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf('$', i);
    if (dollar === -1 || dollar === text.length - 1) {
      value += text.slice(i);
      break;
    }
    value += text.slice(i, dollar);
    const next = text[dollar + 1];
    if (next === '$') {
      value += '$';
      i = dollar + 2;
      continue;
    }
    if (next !== '{') {
      value += '$';
      i = dollar + 1;
      continue;
    }
    const close = text.indexOf('}', dollar + 2);
    if (close === -1) {
      problems.push(`unterminated "\${" (write $$ for a literal $)`);
      value += text.slice(dollar);
      break;
    }
    const reference = text.slice(dollar + 2, close);
    i = close + 1;
    const envMatch = ENV_REFERENCE.exec(reference);
    if (envMatch) {
      const [, name, fallback] = envMatch;
      const set = env[name];
      if (fallback !== undefined) value += set === undefined || set === '' ? fallback : set;
      else if (set !== undefined) value += set;
      else problems.push(`environment variable ${name} is not set (write \${env:${name}:-value} to give a default)`);
      continue;
    }
    const fileMatch = FILE_REFERENCE.exec(reference);
    if (fileMatch) {
      const path = resolve(baseDir, fileMatch[1]);
      try {
        value += readFileSync(path, 'utf8').replace(/\r?\n$/, '');
        fromFile = true;
      } catch (err) {
        problems.push(`cannot read ${path} for \${file:${fileMatch[1]}} (${readFailure(err)})`);
      }
      continue;
    }
    problems.push(
      `expected \${env:NAME}, \${env:NAME:-default} or \${file:/path} (or $$ for a literal $), found "\${${reference}}"`,
    );
  }
  return { value, fromFile, problems };
}

function readFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return code ?? String(err);
}

export interface DocumentSubstitution {
  problems: Array<{ path: ConfigPath; node: Node; message: string }>;
  /** Where `${file:...}` produced a value, and the values produced: printed as secrets. */
  fromFile: Array<{ path: ConfigPath; value: string }>;
}

/** Substitutes every string scalar value of the document in place (keys and aliases skipped). */
export function substituteDocument(doc: Document, env: NodeJS.ProcessEnv, baseDir: string): DocumentSubstitution {
  const result: DocumentSubstitution = { problems: [], fromFile: [] };
  const visit = (node: unknown, path: ConfigPath): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        visit(pair.value, [...path, String(key)]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => visit(item, [...path, index]));
    } else if (isScalar(node) && typeof node.value === 'string') {
      const substituted = substitute(node.value, env, baseDir);
      node.value = substituted.value;
      for (const message of substituted.problems) result.problems.push({ path, node, message });
      if (substituted.fromFile) result.fromFile.push({ path, value: substituted.value });
    }
  };
  visit(doc.contents, []);
  return result;
}
