import { describe, expect, it } from 'vitest';
import { manifestLines, parseManifest, parseManifestLines, parseResults, unescapeName, type ParsedManifest } from '../../../../src/receivers/checksum/manifest.js';

const SHA256 = 'a'.repeat(64);
const SHA512 = 'b'.repeat(128);

describe('parseManifest', () => {
  it('reads text and binary mode GNU lines, escaped names and BSD tags', () => {
    const text = [
      `${SHA256}  plain.img`,
      `${SHA256.toUpperCase()} *binary.img`,
      `\\${SHA256}  back\\\\slash\\nnewline`,
      `SHA512 (tagged.iso) = ${SHA512}`,
      `MD5 (old.tar) = ${'c'.repeat(32)}`,
      '# a comment',
      '',
    ].join('\n');
    const { entries, bad } = parseManifest(text, '/srv/SHA256SUMS');
    expect(bad).toEqual([]);
    expect(entries).toEqual([
      { algorithm: 'sha256', digest: SHA256, name: 'plain.img', line: 1 },
      { algorithm: 'sha256', digest: SHA256, name: 'binary.img', line: 2 },
      { algorithm: 'sha256', digest: SHA256, name: 'back\\slash\nnewline', line: 3 },
      { algorithm: 'sha512', digest: SHA512, name: 'tagged.iso', line: 4 },
      { algorithm: 'md5', digest: 'c'.repeat(32), name: 'old.tar', line: 5 },
    ]);
  });

  it('takes 128 hex digits for BLAKE2b-512 in a b2sum manifest, SHA-512 otherwise', () => {
    expect(parseManifest(`${SHA512}  f\n`, '/srv/B2SUMS').entries[0].algorithm).toBe('blake2b512');
    expect(parseManifest(`${SHA512}  f\n`, '/srv/SHA512SUMS').entries[0].algorithm).toBe('sha512');
    expect(parseManifest(`BLAKE2b (f) = ${SHA512}\n`, '/srv/SUMS').entries[0].algorithm).toBe('blake2b512');
  });

  it('names each bad line by number and keeps the good ones', () => {
    const text = [`${SHA256}  good1`, 'garbage', `${'a'.repeat(63)}  short`, `SHA256 (f) = ${'a'.repeat(10)}`, `WHIRL (f) = ${SHA256}`, `\\${SHA256}  bad\\qescape`, `${SHA256}  good2`].join('\n');
    const { entries, bad } = parseManifest(text, '/srv/SHA256SUMS');
    expect(entries.map((e) => e.name)).toEqual(['good1', 'good2']);
    expect(bad.map((b) => b.line)).toEqual([2, 3, 4, 5, 6]);
    expect(bad[1].reason).toMatch(/found 63/);
  });

  it('gives the same entries and line numbers when parsed in slices', () => {
    const text = Array.from({ length: 50 }, (_, i) => (i % 7 === 3 ? 'bad line' : `${SHA256}  file-${i}`)).join('\n') + '\n';
    const lines = manifestLines(text);
    const sliced: ParsedManifest = { entries: [], bad: [] };
    for (let from = 0; from < lines.length; from += 8) parseManifestLines(lines, from, from + 8, '/srv/SHA256SUMS', sliced);
    const whole = parseManifest(text, '/srv/SHA256SUMS');
    expect(sliced).toEqual(whole);
    expect(whole.bad.map((b) => b.line)).toEqual([4, 11, 18, 25, 32, 39, 46]);
    expect(whole.entries).toHaveLength(43);
  });

  it('unescapes only the escapes coreutils writes', () => {
    expect(unescapeName('a\\\\b\\nc\\rd')).toBe('a\\b\nc\rd');
    expect(unescapeName('a\\tb')).toBeUndefined();
  });
});

describe('parseResults', () => {
  it('maps OK, FAILED and FAILED open or read, telling missing from unreadable', () => {
    const text = [
      'a.img: OK',
      'b.img: FAILED',
      'sha256sum: c.img: No such file or directory',
      'c.img: FAILED open or read',
      'd.img: FAILED open or read',
      'sha256sum: WARNING: 1 listed file could not be read',
      'nonsense',
    ].join('\n');
    const { results, bad } = parseResults(text);
    expect(results.map(({ name, status }) => [name, status])).toEqual([
      ['a.img', 'ok'], ['b.img', 'mismatch'], ['c.img', 'missing'], ['d.img', 'unreadable'],
    ]);
    expect(bad).toEqual([{ line: 7, reason: expect.any(String) }]);
  });
});
