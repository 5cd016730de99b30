// The example config kept beside each component (`src/<kind>s/<type>/example.yaml`), found by
// folder, and made runnable on the machine running the tests. Examples are written for an
// operator, with the paths and ports of a real host; a test runs them after these rewrites,
// so an example never has to name a temp directory or a free port:
//
// - every `endpoint` becomes `127.0.0.1:0` (loopback, a free port);
// - absolute paths under `paths`, `exclude_paths` and any `*_file` key are moved under the
//   test's own directory (`/var/log/worker/jobs.log*` -> `<dir>/var/log/worker/jobs.log*`),
//   whose parent directories are made, so globs match nothing real and nothing outside it
//   is read or written;
// - a file named by a `*_file` key is made there: certificates and keys from a test PKI for
//   `cert_file`, `key_file`, `client_ca_file` and `ca_file`, one line of text for any other
//   (a token);
// - `service.state_directory` is the test's own.
//
// `${env:NAME:-default}` values are substituted from an empty environment, so an example
// that uses one must give it a default; a path built from one is not moved.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Kind } from '../../src/component/types.js';
import { createTestPki, type TestPki } from './certs.js';

export const repositoryRoot = join(import.meta.dirname, '../..');

export interface ComponentFolder {
  kind: Kind;
  type: string;
  /** Relative to the repository root: `src/receivers/joblog`. */
  folder: string;
  /** Absolute path of its example.yaml, whether it exists or not. */
  example: string;
}

export const KIND_FOLDERS: ReadonlyArray<{ kind: Kind; folder: string }> = [
  { kind: 'receiver', folder: 'receivers' },
  { kind: 'processor', folder: 'processors' },
  { kind: 'exporter', folder: 'exporters' },
];

/** Every folder of `src/<kind>s/` with an index.ts: one component type each, named as its folder. */
export function componentFolders(): ComponentFolder[] {
  return KIND_FOLDERS.flatMap(({ kind, folder }) =>
    readdirSync(join(repositoryRoot, 'src', folder), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(repositoryRoot, 'src', folder, entry.name, 'index.ts')))
      .map((entry) => ({
        kind,
        type: entry.name,
        folder: `src/${folder}/${entry.name}`,
        example: join(repositoryRoot, 'src', folder, entry.name, 'example.yaml'),
      })),
  );
}

const SECTIONS = ['receivers', 'processors', 'exporters'] as const;
const PATH_LIST_KEYS = new Set(['paths', 'exclude_paths']);
const FILE_KEY = /_file$/;

type TlsFile = 'cert_file' | 'key_file' | 'client_ca_file' | 'ca_file';
const TLS_SOURCE: Record<TlsFile, (pki: TestPki) => string> = {
  cert_file: (pki) => pki.server.certFile,
  key_file: (pki) => pki.server.keyFile,
  client_ca_file: (pki) => pki.ca.certFile,
  ca_file: (pki) => pki.ca.certFile,
};

const moved = (dir: string, path: string) => (isAbsolute(path) ? join(dir, path) : path);

/**
 * The example's text with the rewrites above applied, and the files it names made under
 * `dir`. `pki` is created on first need and returned, for the caller to remove.
 */
export async function runnableExample(file: string, dir: string, pki?: TestPki): Promise<{ text: string; pki?: TestPki }> {
  const document = parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  const files: Array<{ key: string; path: string }> = [];
  const globs: string[] = [];

  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (typeof value !== 'object' || value === null) return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => {
        if (key === 'endpoint' && typeof item === 'string') return [key, '127.0.0.1:0'];
        // A broker nobody listens at: the receiver keeps reconnecting, never reaching one of the machine's.
        if (key === 'broker' && typeof item === 'string') return [key, 'mqtt://127.0.0.1:9'];
        if (PATH_LIST_KEYS.has(key) && Array.isArray(item)) {
          const paths = item.map((path) => (typeof path === 'string' ? moved(dir, path) : path));
          globs.push(...paths.filter((path): path is string => typeof path === 'string' && path.startsWith(dir)));
          return [key, paths];
        }
        if (FILE_KEY.test(key) && typeof item === 'string' && isAbsolute(item)) {
          files.push({ key, path: moved(dir, item) });
          return [key, moved(dir, item)];
        }
        return [key, rewrite(item)];
      }),
    );
  };

  for (const section of SECTIONS) if (section in document) document[section] = rewrite(document[section]);
  const service = (document.service ?? {}) as Record<string, unknown>;
  if (typeof service.telemetry === 'object' && service.telemetry !== null) service.telemetry = rewrite(service.telemetry);
  document.service = { ...service, state_directory: join(dir, 'state') };

  // A glob's directories exist (a receiver watches them), holding no file yet.
  for (const glob of globs) {
    const plain = glob.slice(0, globStart(glob));
    await mkdir(plain.endsWith('/') ? plain : dirname(plain), { recursive: true });
  }
  for (const { key, path } of files) {
    await mkdir(dirname(path), { recursive: true });
    if (key in TLS_SOURCE) {
      pki ??= await createTestPki();
      await copyFile(TLS_SOURCE[key as TlsFile](pki), path);
    } else {
      await writeFile(path, 'example-secret-from-the-test\n', { mode: 0o600 });
    }
  }
  return { text: stringify(document), pki };
}

/** Index of the first glob character, or the length: the directories before it are plain. */
function globStart(glob: string): number {
  const index = glob.search(/[*?[{]/);
  return index === -1 ? glob.length : index;
}
