// `${env:NAME}`, `${env:NAME:-default}`, `${file:/path}` and `$$` in scalar string values.
// Substitution runs on the parsed document, never on the text: a value read from the
// environment or a file is never parsed as YAML, and keys are never touched.
import { resolve } from 'node:path';
import { isMap, isScalar, isSeq, type Document, type Node } from 'yaml';
import { withoutTrailingLineBreaks } from '../component/credentials.js';
import { quote, shorten, type ConfigPath } from './errors.js';
import { FileRefused, readRegularFile } from '../component/regular-file.js';
import { isSecretPath } from './redact.js';

/** A secret or a certificate fits many times over; a log or an image does not belong here. */
export const MAX_SUBSTITUTED_FILE_BYTES = 1024 * 1024;

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
 * taken from `baseDir` (the config file's directory). The line breaks at the end of a file
 * are removed, since editors add them; only a regular file of at most
 * MAX_SUBSTITUTED_FILE_BYTES is read. In a `secret` value, text that is no reference is
 * likely part of the secret (`p@${ss}w0rd`), so a problem never quotes it.
 */
export function substitute(text: string, env: NodeJS.ProcessEnv, baseDir: string, secret = false): Substituted {
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
        value += withoutTrailingLineBreaks(readRegularFile(path, MAX_SUBSTITUTED_FILE_BYTES));
        fromFile = true;
      } catch (err) {
        const reason = err instanceof FileRefused ? err.reason : String(err);
        problems.push(`cannot read ${shorten(path)} for ${shorten(`\${file:${fileMatch[1]}}`)} (${reason})`);
      }
      continue;
    }
    const found = secret ? 'a "${" that starts no reference (not shown: secret)' : quote(`\${${reference}}`);
    problems.push(`expected \${env:NAME}, \${env:NAME:-default} or \${file:/path} (or $$ for a literal $), found ${found}`);
  }
  return { value, fromFile, problems };
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
      const substituted = substitute(node.value, env, baseDir, isSecretPath(path));
      node.value = substituted.value;
      for (const message of substituted.problems) result.problems.push({ path, node, message });
      if (substituted.fromFile) result.fromFile.push({ path, value: substituted.value });
    }
  };
  visit(doc.contents, []);
  return result;
}
