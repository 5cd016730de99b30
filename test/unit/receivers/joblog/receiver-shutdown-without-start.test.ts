// A joblog receiver registers with its state directory's checkpoint store when it is created.
// One shut down without having started lets go of that registration, at the call: a receiver
// created after it then records its scans as if it had been alone.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkpointFileIn, joblogFactory, JoblogReceiver } from '../../../../src/receivers/joblog/index.js';
import { testSettings, type TestSettings } from '../hostmetrics/helpers.js';

let directory: string;
let stateDir: string;
const receivers: JoblogReceiver[] = [];

beforeEach(() => {
  directory = mkdtempSync(path.join(tmpdir(), 'joblog-shutdown-without-start-'));
  stateDir = path.join(directory, 'state');
  writeFileSync(path.join(directory, 'jobs.log'), 'status=ok\n');
});

afterEach(async () => {
  for (const receiver of receivers.splice(0)) await receiver.shutdown();
  rmSync(directory, { recursive: true, force: true });
});

function receiver(id: string): JoblogReceiver {
  const config = joblogFactory.configSchema.parse({
    paths: [path.join(directory, '*.log')],
    start_at: 'beginning',
    format: 'logfmt',
    poll_interval: '20ms',
    metrics: [{ name: 'test.jobs', type: 'counter' }],
  });
  const created = joblogFactory.create(testSettings(id, stateDir), config) as JoblogReceiver;
  receivers.push(created);
  return created;
}

function savedScannedAt(): string | undefined {
  return (JSON.parse(readFileSync(checkpointFileIn(stateDir), 'utf8')) as { scannedAt?: string }).scannedAt;
}

describe('a joblog receiver shut down without start', () => {
  it('releases its registration at the call, so the next receiver of the state directory records its scan', async () => {
    const neverStarted = receiver('joblog');
    const shutdown = neverStarted.shutdown();
    const next = receiver('joblog');
    await next.start(new AbortController().signal);
    await shutdown;
    expect(savedScannedAt()).toEqual(expect.any(String));
  });

  it('holds back the scan while it is still registered (what the release prevents)', async () => {
    receiver('joblog/idle');
    const next = receiver('joblog');
    await next.start(new AbortController().signal);
    expect(savedScannedAt()).toBeUndefined();
  });
});
