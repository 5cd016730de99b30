import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandGlob, globToRegExp } from '../../../../src/receivers/joblog/tailer.js';

describe('globToRegExp', () => {
  it('matches * and ? within one segment, not across slashes, and not a leading dot', () => {
    const regex = globToRegExp('/var/log/app-?/*.log');
    expect(regex.test('/var/log/app-1/jobs.log')).toBe(true);
    expect(regex.test('/var/log/app-12/jobs.log')).toBe(false);
    expect(regex.test('/var/log/app-1/x/jobs.log')).toBe(false);
    expect(regex.test('/var/log/app-1/.hidden.log')).toBe(false);
    expect(regex.test('/var/log/app-1/jobs.log.1')).toBe(false);
  });

  it('lets ** stand for any depth of directories, none included', () => {
    const regex = globToRegExp('/srv/**/jobs.log');
    expect(regex.test('/srv/jobs.log')).toBe(true);
    expect(regex.test('/srv/a/b/c/jobs.log')).toBe(true);
    expect(regex.test('/srv/a/.git/jobs.log')).toBe(false);
    expect(globToRegExp('/srv/**').test('/srv/a/b.txt')).toBe(true);
  });

  it('takes regex characters in a name literally', () => {
    const regex = globToRegExp('/logs/a+b (1).log');
    expect(regex.test('/logs/a+b (1).log')).toBe(true);
    expect(regex.test('/logs/aab (1)xlog')).toBe(false);
  });
});

describe('expandGlob', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'joblog-glob-'));
    for (const file of ['a.log', 'b.log', 'c.txt', '.hidden.log', 'x/one.log', 'x/y/two.log', 'x/.git/no.log']) {
      await mkdir(path.dirname(path.join(root, file)), { recursive: true });
      await writeFile(path.join(root, file), 'line\n');
    }
    await symlink(path.join(root, 'x'), path.join(root, 'loop'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const relative = (paths: string[]): string[] => paths.map((found) => path.relative(root, found)).sort();

  it('lists the files a single-segment wildcard names', async () => {
    expect(relative(await expandGlob(path.join(root, '*.log')))).toEqual(['a.log', 'b.log']);
  });

  it('walks ** without entering hidden directories or following directory links', async () => {
    expect(relative(await expandGlob(path.join(root, '**/*.log')))).toEqual([
      'a.log',
      'b.log',
      'x/one.log',
      'x/y/two.log',
    ]);
  });

  it('follows a directory link named explicitly or by a single-segment wildcard', async () => {
    expect(relative(await expandGlob(path.join(root, 'lo?p/*.log')))).toEqual(['loop/one.log']);
  });

  it('returns a plain path as is and nothing for a missing directory', async () => {
    expect(await expandGlob(path.join(root, 'not-yet.log'))).toEqual([path.join(root, 'not-yet.log')]);
    expect(await expandGlob(path.join(root, 'missing/*.log'))).toEqual([]);
  });
});
