// Refusals: every one counted by reason; logged first at once, then at most once a minute per
// reason with the count held back.
import { describe, expect, it } from 'vitest';
import { MetricStore } from '../../../src/metrics/store.js';
import { RefusalCounter } from '../../../src/events/refusals.js';
import { valueOf } from '../../support/metric-sink.js';
import { RecordingLogger } from '../../support/settings.js';

function counter() {
  let now = 1_000_000;
  const telemetry = new MetricStore({ scope: 'otel-agent' });
  const logger = new RecordingLogger();
  const refusals = new RefusalCounter(telemetry, 'joblog/a', logger, () => now);
  return {
    refusals,
    logger,
    advance: (ms: number) => (now += ms),
    count: (reason: string) => valueOf(telemetry, 'otel_agent.receiver.refused', { receiver: 'joblog/a', reason }),
  };
}

describe('RefusalCounter', () => {
  it('starts expected reasons at 0 and counts every refusal', () => {
    const { refusals, count } = counter();
    refusals.expect(['invalid_json', 'empty_line']);
    expect([count('invalid_json'), count('empty_line'), count('no_match')]).toEqual([0, 0, undefined]);
    for (let i = 0; i < 10_000; i++) refusals.refuse('invalid_json', '/var/log/a.log');
    refusals.refuse('missing_field', '/var/log/a.log');
    expect([count('invalid_json'), count('empty_line'), count('missing_field')]).toEqual([10_000, 0, 1]);
  });

  it('logs the first refusal of a reason, then one line a minute with the count since', () => {
    const { refusals, logger, advance } = counter();
    for (let i = 0; i < 500; i++) refusals.refuse('invalid_json', '/var/log/a.log');
    refusals.refuse('no_match', '/var/log/b.log');
    expect(logger.entries.map((entry) => [entry.msg, entry.fields])).toEqual([
      [
        'input refused (invalid_json) and skipped; further refusals for this reason are logged at most once a minute',
        { reason: 'invalid_json', path: '/var/log/a.log' },
      ],
      [
        'input refused (no_match) and skipped; further refusals for this reason are logged at most once a minute',
        { reason: 'no_match', path: '/var/log/b.log' },
      ],
    ]);
    advance(30_000);
    refusals.flush();
    refusals.refuse('invalid_json', '/var/log/c.log');
    expect(logger.entries).toHaveLength(2);
    advance(30_000);
    refusals.flush();
    expect(logger.entries.slice(2).map((entry) => [entry.msg, entry.fields])).toEqual([
      ['500 more input refused (invalid_json) and skipped', { reason: 'invalid_json', count: 500, sinceMs: 60_000, lastPath: '/var/log/c.log' }],
    ]);
    // Held back until the next minute, or until shutdown.
    refusals.refuse('invalid_json', '/var/log/c.log');
    refusals.flush();
    expect(logger.entries).toHaveLength(3);
    refusals.flush(true);
    expect(logger.entries.at(-1)?.msg).toBe('1 more input refused (invalid_json) and skipped');
    refusals.flush(true);
    expect(logger.entries).toHaveLength(4);
  });
});
