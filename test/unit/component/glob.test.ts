import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandGlob, hasWildcard, nameMatcher, pathGlobToRegExp } from '../../../src/component/glob.js';

describe('pathGlobToRegExp', () => {
  it('matches * and ? within one segment, not across slashes, and not a leading dot', () => {
    const regex = pathGlobToRegExp('/var/log/app-?/*.log');
    expect(regex.test('/var/log/app-1/jobs.log')).toBe(true);
    expect(regex.test('/var/log/app-12/jobs.log')).toBe(false);
    expect(regex.test('/var/log/app-1/x/jobs.log')).toBe(false);
    expect(regex.test('/var/log/app-1/.hidden.log')).toBe(false);
    expect(regex.test('/var/log/app-1/jobs.log.1')).toBe(false);
  });

  it('lets ** stand for any depth of directories, none included', () => {
    const regex = pathGlobToRegExp('/srv/**/jobs.log');
    expect(regex.test('/srv/jobs.log')).toBe(true);
    expect(regex.test('/srv/a/b/c/jobs.log')).toBe(true);
    expect(regex.test('/srv/a/.git/jobs.log')).toBe(false);
    expect(pathGlobToRegExp('/srv/**').test('/srv/a/b.txt')).toBe(true);
  });

  it('takes regex characters in a name literally', () => {
    const regex = pathGlobToRegExp('/logs/a+b (1).log');
    expect(regex.test('/logs/a+b (1).log')).toBe(true);
    expect(regex.test('/logs/aab (1)xlog')).toBe(false);
    expect(regex.test('/logs/a+b 1.log')).toBe(false);
    expect(pathGlobToRegExp('/logs/!(a|b).log').test('/logs/!(a|b).log')).toBe(true);
    expect(pathGlobToRegExp('/logs/!(a|b).log').test('/logs/c.log')).toBe(false);
  });

  it('matches either of {a,b} within a segment', () => {
    const regex = pathGlobToRegExp('/var/log/{runner,worker}-*/{jobs,steps}.log');
    expect(regex.test('/var/log/runner-1/jobs.log')).toBe(true);
    expect(regex.test('/var/log/worker-2/steps.log')).toBe(true);
    expect(regex.test('/var/log/builder-1/jobs.log')).toBe(false);
    expect(regex.test('/var/log/runner-1/other.log')).toBe(false);
  });

  it('matches one character of a set like [0-9], within a segment', () => {
    const regex = pathGlobToRegExp('/var/log/app-[0-9].log');
    expect(regex.test('/var/log/app-7.log')).toBe(true);
    expect(regex.test('/var/log/app-x.log')).toBe(false);
    expect(regex.test('/var/log/app-12.log')).toBe(false);
    expect(pathGlobToRegExp('/var/log/[!a]*.log').test('/var/log/b.log')).toBe(true);
    expect(pathGlobToRegExp('/var/log/[!a]*.log').test('/var/log/a.log')).toBe(false);
  });

  it('resolves a relative glob against the working directory', () => {
    expect(pathGlobToRegExp('logs/*.log').test(path.join(process.cwd(), 'logs', 'a.log'))).toBe(true);
  });
});

describe('nameMatcher', () => {
  it('lets * match any run of characters, dots and slashes included', () => {
    const matches = nameMatcher('otel_agent.*');
    expect(matches('otel_agent.joblog.lines')).toBe(true);
    expect(matches('otel_agent.')).toBe(true);
    expect(matches('process.cpu.time')).toBe(false);
    expect(nameMatcher('joblog/*')('joblog/ci/a')).toBe(true);
    expect(nameMatcher('*')('joblog/a')).toBe(true);
    expect(nameMatcher('*.duration')('job.step.duration')).toBe(true);
  });

  it('matches ? as one character, [0-9] as one of a set and {a,b} as either', () => {
    expect(nameMatcher('disk.io?')('disk.io2')).toBe(true);
    expect(nameMatcher('disk.io?')('disk.io')).toBe(false);
    expect(nameMatcher('cpu[0-9].time')('cpu3.time')).toBe(true);
    expect(nameMatcher('cpu[0-9].time')('cpux.time')).toBe(false);
    expect(nameMatcher('system.{cpu,memory}.*')('system.memory.usage')).toBe(true);
    expect(nameMatcher('system.{cpu,memory}.*')('system.disk.io')).toBe(false);
  });

  it('takes a name without wildcards as written, regex characters included', () => {
    expect(nameMatcher('jobs.total')('jobs.total')).toBe(true);
    expect(nameMatcher('jobs.total')('jobsXtotal')).toBe(false);
    expect(nameMatcher('a+b')('a+b')).toBe(true);
    expect(nameMatcher('a+b')('aab')).toBe(false);
    expect(nameMatcher('!jobs')('!jobs')).toBe(true);
    expect(nameMatcher('!jobs')('other')).toBe(false);
  });
});

describe('hasWildcard', () => {
  it('is true for *, ?, sets and braces, false for a plain name', () => {
    expect(['a*', 'a?', 'a[0-9]', 'a{b,c}'].map(hasWildcard)).toEqual([true, true, true, true]);
    expect(['jobs.total', 'a+b (1).log', '/var/log/app.log'].map(hasWildcard)).toEqual([false, false, false]);
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

  it('lists what sets and braces name', async () => {
    expect(relative(await expandGlob(path.join(root, '{a,c}.*')))).toEqual(['a.log', 'c.txt']);
    expect(relative(await expandGlob(path.join(root, '[ab].log')))).toEqual(['a.log', 'b.log']);
    expect(relative(await expandGlob(path.join(root, '{x,none}/**/*.log')))).toEqual(['x/one.log', 'x/y/two.log']);
  });

  it('returns a plain path as is and nothing for a missing directory', async () => {
    expect(await expandGlob(path.join(root, 'not-yet.log'))).toEqual([path.join(root, 'not-yet.log')]);
    expect(await expandGlob(path.join(root, 'missing/*.log'))).toEqual([]);
  });
});
