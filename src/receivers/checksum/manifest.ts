// Manifests as sha256sum, sha512sum, b2sum and md5sum write them, in both of their formats,
// and the output of their `-c` mode. Pure functions: the receiver does the reading.
//
//   GNU:  <hex> <space|*><name>        `*` is binary mode (same digest on Linux);
//         \<hex> <space|*><name>       a leading backslash: the name has \\, \n (and \r) escaped
//   BSD:  SHA256 (<name>) = <hex>      `--tag`; also SHA512, MD5, BLAKE2b, with a leading \ when escaped
//   -c:   <name>: OK | FAILED | FAILED open or read
import { basename } from 'node:path';

/** Node crypto's names of the digests the tools write. */
export type Algorithm = 'sha256' | 'sha512' | 'md5' | 'blake2b512' | 'sha1' | 'sha224' | 'sha384';

export interface ManifestEntry {
  algorithm: Algorithm;
  /** Lower-case hex. */
  digest: string;
  /** The name as written (unescaped), relative to the manifest's directory unless absolute. */
  name: string;
  line: number;
}

export interface BadLine {
  line: number;
  reason: string;
}

export interface ParsedManifest {
  entries: ManifestEntry[];
  bad: BadLine[];
}

const BSD_TAGS: Record<string, Algorithm> = {
  SHA256: 'sha256', SHA512: 'sha512', MD5: 'md5', BLAKE2b: 'blake2b512', 'BLAKE2b-512': 'blake2b512',
  SHA1: 'sha1', SHA224: 'sha224', SHA384: 'sha384',
};
const HEX_LENGTH: Record<Algorithm, number> = { sha256: 64, sha512: 128, md5: 32, blake2b512: 128, sha1: 40, sha224: 56, sha384: 96 };

/**
 * The algorithm of a GNU-format line, from its digest's length; 128 hex digits are SHA-512
 * unless the manifest's name says BLAKE2 (`B2SUMS`, `*.b2`), as b2sum's output is named.
 */
export function gnuAlgorithm(hexLength: number, manifestPath: string): Algorithm | undefined {
  const name = basename(manifestPath).toLowerCase();
  switch (hexLength) {
    case 32: return 'md5';
    case 40: return 'sha1';
    case 56: return 'sha224';
    case 64: return 'sha256';
    case 96: return 'sha384';
    case 128: return /b2|blake2/.test(name) ? 'blake2b512' : 'sha512';
    default: return undefined;
  }
}

/** `name` with coreutils' escapes undone, or undefined when an escape is not one it writes. */
export function unescapeName(name: string): string | undefined {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = name[++i];
    if (next === '\\') out += '\\';
    else if (next === 'n') out += '\n';
    else if (next === 'r') out += '\r';
    else return undefined;
  }
  return out;
}

const GNU_LINE = /^(\\?)([0-9a-fA-F]+) ([ *])(.+)$/;
const BSD_LINE = /^(\\?)([A-Za-z0-9-]+) ?\((.+)\) = ([0-9a-fA-F]+)$/;

/** Every entry of a manifest's text, and the lines that are none, with why. */
export function parseManifest(text: string, manifestPath: string): ParsedManifest {
  const parsed: ParsedManifest = { entries: [], bad: [] };
  parseManifestLines(manifestLines(text), 0, Infinity, manifestPath, parsed);
  return parsed;
}

/** A manifest's lines, without the empty one after its last newline. */
export function manifestLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Lines `from` up to `to` (exclusive) of a manifest, added to `into`: a large manifest is parsed in slices. */
export function parseManifestLines(lines: readonly string[], from: number, to: number, manifestPath: string, into: ParsedManifest): void {
  const { entries, bad } = into;
  lines.slice(from, to).forEach((raw, offset) => {
    const line = from + offset + 1;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.trim() === '' || text.startsWith('#')) return;
    const bsd = BSD_LINE.exec(text);
    if (bsd) {
      const algorithm = BSD_TAGS[bsd[2]];
      if (algorithm === undefined) return bad.push({ line, reason: `unknown algorithm tag ${JSON.stringify(bsd[2])}` });
      const digest = bsd[4].toLowerCase();
      if (digest.length !== HEX_LENGTH[algorithm]) {
        return bad.push({ line, reason: `expected ${HEX_LENGTH[algorithm]} hex digits for ${bsd[2]}, found ${digest.length}` });
      }
      const name = bsd[1] === '\\' ? unescapeName(bsd[3]) : bsd[3];
      if (name === undefined) return bad.push({ line, reason: 'bad escape in the file name' });
      return entries.push({ algorithm, digest, name, line });
    }
    const gnu = GNU_LINE.exec(text);
    if (gnu) {
      const algorithm = gnuAlgorithm(gnu[2].length, manifestPath);
      if (algorithm === undefined) return bad.push({ line, reason: `expected a digest of 32, 40, 56, 64, 96 or 128 hex digits, found ${gnu[2].length}` });
      const name = gnu[1] === '\\' ? unescapeName(gnu[4]) : gnu[4];
      if (name === undefined) return bad.push({ line, reason: 'bad escape in the file name' });
      return entries.push({ algorithm, digest: gnu[2].toLowerCase(), name, line });
    }
    bad.push({ line, reason: 'expected "<hex digest>  <file>" or "ALGO (<file>) = <hex digest>"' });
  });
}

export type Status = 'ok' | 'mismatch' | 'missing' | 'unreadable';

export interface ResultLine {
  name: string;
  status: Status;
  line: number;
}

const RESULT_LINE = /^(\\?)(.*): (OK|FAILED|FAILED open or read)$/;
/** The tool's own diagnostics: `sha256sum: name: No such file or directory`. */
const TOOL_LINE = /^(?:sha\d+sum|b2sum|md5sum|shasum|cksum): (.*): (.*)$/;

/**
 * The verdicts of a `sha256sum -c` run. A file that could not be opened is `missing` when the
 * tool said "No such file or directory" before its verdict, `unreadable` otherwise.
 */
export function parseResults(text: string): { results: ResultLine[]; bad: BadLine[] } {
  const results: ResultLine[] = [];
  const bad: BadLine[] = [];
  const absent = new Set<string>();
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.trim() === '') return;
    const tool = TOOL_LINE.exec(text);
    if (tool) {
      if (/No such file or directory/.test(tool[2])) absent.add(tool[1]);
      return; // warnings and summaries ("WARNING: 1 computed checksum did NOT match")
    }
    const m = RESULT_LINE.exec(text);
    if (!m) return bad.push({ line, reason: 'expected "<file>: OK", "<file>: FAILED" or "<file>: FAILED open or read"' });
    const name = m[1] === '\\' ? unescapeName(m[2]) : m[2];
    if (name === undefined) return bad.push({ line, reason: 'bad escape in the file name' });
    const status: Status = m[3] === 'OK' ? 'ok' : m[3] === 'FAILED' ? 'mismatch' : absent.has(name) ? 'missing' : 'unreadable';
    results.push({ name, status, line });
  });
  return { results, bad };
}
