// The state store: atomic, versioned records; a file that is corrupt, truncated or of an
// unknown version is moved aside and logged with both paths, and the reader starts fresh.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../../src/component/types.js';
import { writeFileAtomically } from '../../../src/state/atomic.js';
import { quarantineName, recordFileName, StateDirectory, StateFile, type StateDocument } from '../../../src/state/store.js';

let directory: string;

beforeEach(() => {
  directory = mkdtempSync(path.join(tmpdir(), 'otel-agent-store-'));
});

afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

function recordingLogger() {
  const errors: Array<{ fields: Record<string, unknown>; msg?: string }> = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn() {},
    error: (fields, msg) => void errors.push({ fields: fields as Record<string, unknown>, msg }),
    child: () => logger,
  };
  return { logger, errors };
}

/** Version 2 records of `{ count: number }`. */
const counts = {
  versions: [2],
  decode(document: StateDocument): number {
    if (typeof document.count !== 'number') throw new Error('expected a number "count"');
    return document.count;
  },
};

describe('writeFileAtomically', () => {
  it('writes the whole content, readable by the owner only, and leaves no temporary file', async () => {
    const file = path.join(directory, 'deep', 'er', 'state.json');
    await writeFileAtomically(file, 'first');
    await writeFileAtomically(file, 'second');
    expect(readFileSync(file, 'utf8')).toBe('second');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(path.dirname(file))).toEqual(['state.json']);
  });

  it('replaces a temporary file a crash left behind, and the file stays as it was until the rename', async () => {
    const file = path.join(directory, 'state.json');
    writeFileSync(file, 'previous');
    writeFileSync(`${file}.tmp`, 'torn hal');
    expect(readFileSync(file, 'utf8')).toBe('previous');
    await writeFileAtomically(file, 'next');
    expect(readFileSync(file, 'utf8')).toBe('next');
    expect(readdirSync(directory)).toEqual(['state.json']);
  });
});

describe('StateFile', () => {
  it('reads nothing from a missing file, then what it wrote, with its version', async () => {
    const { logger, errors } = recordingLogger();
    const file = new StateFile(path.join(directory, 'a.json'), logger);
    expect(await file.read(counts)).toBeUndefined();
    await file.write(2, { count: 7 });
    expect(JSON.parse(readFileSync(file.path, 'utf8'))).toEqual({ version: 2, count: 7 });
    expect(await file.read(counts)).toBe(7);
    expect(errors).toEqual([]);
  });

  it('keeps writes in the order asked, each with the record as it was when asked', async () => {
    const file = new StateFile(path.join(directory, 'a.json'), recordingLogger().logger);
    const body = { count: 1 };
    const first = file.write(2, body);
    body.count = 2;
    const second = file.write(2, body);
    await Promise.all([first, second]);
    expect(await file.read(counts)).toBe(2);
  });

  it.each([
    ['corrupt', '{"version":2,"count":1}\u0000\u0000\u0000garbage'],
    ['truncated', '{"version":2,"cou'],
    ['of an unknown version', '{"version":3,"count":1}'],
    ['without a version', '{"count":1}'],
    ['not an object', '[2]'],
    ['well-formed JSON the reader refuses', '{"version":2,"count":"many"}'],
  ])('moves a file that is %s aside, logs both paths and why, and starts fresh', async (_, content) => {
    const { logger, errors } = recordingLogger();
    const file = new StateFile(path.join(directory, 'a.json'), logger);
    writeFileSync(file.path, content);
    expect(await file.read(counts)).toBeUndefined();
    const names = readdirSync(directory);
    expect(names).toEqual([expect.stringMatching(/^a\.json\.corrupt-\d{8}T\d{6}\.\d{3}Z$/)]);
    const movedTo = path.join(directory, names[0]);
    expect(readFileSync(movedTo, 'utf8')).toBe(content);
    expect(errors).toHaveLength(1);
    expect(errors[0].fields).toMatchObject({ file: file.path, movedTo, problem: expect.any(String) });
    expect(errors[0].msg).toContain(movedTo);
    // Fresh from here: the next write makes a new file, the one moved aside stays.
    await file.write(2, { count: 1 });
    expect(await file.read(counts)).toBe(1);
    expect(readdirSync(directory).sort()).toEqual(['a.json', names[0]]);
  });

  it('throws on a file it cannot read at all, and moves nothing', async () => {
    const file = new StateFile(path.join(directory, 'a.json'), recordingLogger().logger);
    mkdirSync(file.path);
    await expect(file.read(counts)).rejects.toThrow(`cannot read state file ${file.path}`);
    expect(readdirSync(directory)).toEqual(['a.json']);
  });

  it('names a quarantined file by the time it was found', () => {
    expect(quarantineName('/s/a.json', new Date('2026-12-03T10:11:12.345Z'))).toBe('/s/a.json.corrupt-20261203T101112.345Z');
  });
});

describe('StateStore', () => {
  it('gives each component its own record file, by kind and URI-encoded id, and a folder per type', () => {
    const root = new StateDirectory(directory, recordingLogger().logger);
    const ci = root.storeFor('receiver', 'joblog/ci');
    expect(ci.record.path).toBe(path.join(directory, 'receivers', 'joblog%2Fci.json'));
    expect(ci.sharedDirectory).toBe(path.join(directory, 'joblog'));
    expect(ci.sharedFile('checkpoints.json').path).toBe(path.join(directory, 'joblog', 'checkpoints.json'));
    expect(root.storeFor('exporter', 'prometheus').record.path).toBe(path.join(directory, 'exporters', 'prometheus.json'));
    // Ids that a plain replacement of "/" would make one file stay apart.
    expect(recordFileName('a/b-c')).not.toBe(recordFileName('a-b/c'));
    expect(recordFileName('a/b/c')).not.toBe(recordFileName('a/b%2Fc'));
    expect(recordFileName('joblog/..')).toBe('joblog%2F...json');
  });

  it('shares one object per type and name among the stores of a directory until it is released', () => {
    const root = new StateDirectory(directory, recordingLogger().logger);
    const a = root.storeFor('receiver', 'joblog/a');
    const b = root.storeFor('receiver', 'joblog/b');
    const table = a.shared('table', () => ({ made: 'by a' }));
    expect(b.shared('table', () => ({ made: 'by b' }))).toBe(table);
    expect(root.storeFor('receiver', 'hostmetrics').shared('table', () => ({ made: 'by hostmetrics' }))).not.toBe(table);
    expect(new StateDirectory(directory, recordingLogger().logger).storeFor('receiver', 'joblog/c').shared('table', () => ({}))).not.toBe(table);
    b.releaseShared('table', { made: 'not the one held' });
    expect(a.shared('table', () => ({ made: 'again' }))).toBe(table);
    b.releaseShared('table', table);
    expect(a.shared('table', () => ({ made: 'again' }))).toEqual({ made: 'again' });
  });
});
