// Globs, one syntax for the agent: file paths (joblog's `paths`, `exclude_paths`) and names
// (views' `instrument` and `receiver`, the filter processor's metric lists). Matching is
// picomatch's: `*` and `?` (any run of characters, one character), `[0-9]` and `[abc]`
// (one of a set; `[!a]` or `[^a]`: any but these), `{a,b}` (either). Extglobs (`+(a)`), negation (`!a`) and regex groups are
// off: `(`, `)`, `|`, `!` and `+` are taken literally, as the agent always took them.
//
// Paths: `*`, `?` and sets stay within one path segment and do not match a leading dot
// (`*.log` skips `.hidden.log`); `**` as a whole segment stands for any depth of
// directories, hidden ones excepted. A `{a,b}` stays within one segment.
// Names: `*` matches any run of characters, dots and slashes included
// (`otel_agent.*` matches `otel_agent.joblog.lines`, `joblog/*` matches `joblog/a`).
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';

const OPTIONS: picomatch.PicomatchOptions = { noextglob: true, nonegate: true };

/**
 * Regex groups and alternation mean nothing in a glob here: a file named `a (1).log` is that
 * name. A set negated as in the shell (`[!a]`) is written as picomatch takes it (`[^a]`).
 */
function withLiteralGroups(glob: string): string {
  return glob.replace(/[()|]/g, '\\$&').replaceAll('[!', '[^');
}

/** True for a glob that can match more than one text: a name without these is matched as written. */
export function hasWildcard(glob: string): boolean {
  return /[*?[{]/.test(glob);
}

/** The whole-path regular expression of a path glob, resolved against the working directory. */
export function pathGlobToRegExp(glob: string): RegExp {
  return picomatch.makeRe(withLiteralGroups(path.resolve(glob)), { ...OPTIONS, dot: false });
}

/** One segment's regular expression (no slash in it). */
function segmentRegExp(segment: string): RegExp {
  return picomatch.makeRe(withLiteralGroups(segment), { ...OPTIONS, dot: false });
}

/** Stands for `/` in names while they are matched: picomatch's `*` never crosses a slash. */
const SLASH_STAND_IN = '\u0001';

/** True for the names a name glob matches (metric names, receiver ids). */
export function nameMatcher(glob: string): (name: string) => boolean {
  const regex = picomatch.makeRe(withLiteralGroups(glob).replaceAll('/', SLASH_STAND_IN), { ...OPTIONS, dot: true });
  return (name) => regex.test(name.includes('/') ? name.replaceAll('/', SLASH_STAND_IN) : name);
}

/**
 * The paths matching a path glob, walking only the directories it can reach. `**` does not
 * follow symbolic links to directories (no cycles) nor enter hidden ones. Existence of the
 * last segment is left to the caller's stat. `directories`, when given, receives every
 * directory whose entries decide what matches: those to watch for changes.
 */
export async function expandGlob(pattern: string, directories?: Set<string>): Promise<string[]> {
  const segments = path.resolve(pattern).split('/').slice(1);
  if (segments[segments.length - 1] === '**') segments.push('*');
  const found = new Set<string>();
  const walk = async (directory: string, index: number): Promise<void> => {
    const segment = segments[index];
    const last = index === segments.length - 1;
    if (!hasWildcard(segment)) {
      const next = path.join(directory, segment);
      if (last) {
        found.add(next);
        directories?.add(directory);
      } else await walk(next, index + 1);
      return;
    }
    let entries: Dirent[];
    try {
      entries = await readdir(directory, { withFileTypes: true });
    } catch {
      return; // Missing or unreadable directory: nothing matches there (yet).
    }
    directories?.add(directory);
    if (segment === '**') {
      await walk(directory, index + 1);
      for (const entry of entries) {
        if (entry.isDirectory() && !entry.name.startsWith('.')) await walk(path.join(directory, entry.name), index);
      }
      return;
    }
    const matcher = segmentRegExp(segment);
    for (const entry of entries) {
      if (!matcher.test(entry.name)) continue;
      const next = path.join(directory, entry.name);
      if (last) found.add(next);
      else if (entry.isDirectory() || entry.isSymbolicLink()) await walk(next, index + 1);
    }
  };
  await walk('/', 0);
  return [...found];
}
