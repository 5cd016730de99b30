// EventPipeline: what any event receiver builds from its config section, used here as an
// MQTT receiver would, with messages handed in as bytes and its state in a plain slot.
import { describe, expect, it } from 'vitest';
import { configSchema as joblogSchema } from '../../../src/receivers/joblog/config.js';
import { EventPipeline, eventMetricsSchema, eventParsingShape, checkEventHandling, type EventHandlingConfig, type SavedReceiverState } from '../../../src/events/index.js';
import { z } from 'zod';
import { metric, valueOf } from '../../support/metric-sink.js';
import { testSettings } from '../../support/settings.js';

/** A receiver schema of its own built from the shared keys, as the MQTT receiver's will be. */
const topicReceiverSchema = z
  .strictObject({ topic: z.string(), ...eventParsingShape, metrics: eventMetricsSchema })
  .superRefine(checkEventHandling, { when: ({ value }) => typeof value === 'object' && value !== null });

const jobsConfig = {
  topic: 'ci/jobs',
  format: 'json',
  include: { kind: 'job' },
  metrics: [
    { name: 'jobs', type: 'counter', match: { event: 'completed' }, attributes: { status: 'result' } },
    {
      name: 'job.duration',
      type: 'histogram',
      unit: 's',
      pair: { key: 'job_id', start: { event: 'started' }, end: { event: 'completed' } },
    },
  ],
};

function pipeline(config: unknown = jobsConfig, source = 'ci/jobs') {
  const settings = testSettings('mqtt/jobs');
  const parsed = topicReceiverSchema.parse(config) as EventHandlingConfig;
  const events = new EventPipeline(settings, parsed, { receiverRefusals: ['payload_too_large'], source: () => source });
  const send = (message: string, atMs = 1_000) => {
    const bytes = Buffer.from(message);
    return events.parse(bytes, 0, bytes.length, atMs);
  };
  const refused = (reason: string) => valueOf(settings.telemetry, 'otel_agent.receiver.refused', { receiver: 'mqtt/jobs', reason });
  return { settings, events, send, refused };
}

describe('EventPipeline', () => {
  it('parses, filters and maps messages, and counts what it refuses by reason', () => {
    const { settings, send, refused } = pipeline();
    expect(send('{"kind":"job","event":"completed","result":"success","job_id":"1"}')).toBe('record');
    expect(send('{"kind":"job","event":"completed","result":"failure","job_id":"2"}')).toBe('record');
    expect(send('{"kind":"heartbeat","event":"completed"}')).toBe('filtered');
    expect(send('{"kind":')).toBe('refused');
    expect(send('[1,2]')).toBe('refused');
    expect(valueOf(settings.meter, 'jobs', { status: 'success' })).toBe(1);
    expect(valueOf(settings.meter, 'jobs', { status: 'failure' })).toBe(1);
    expect([refused('invalid_json'), refused('not_an_object'), refused('empty_line'), refused('payload_too_large')]).toEqual([1, 1, 0, 0]);
    // The first refusal of a reason is logged with where it came from.
    expect(settings.logger.entries.find((entry) => (entry.fields as { reason?: string } | undefined)?.reason === 'invalid_json')?.fields).toMatchObject({ path: 'ci/jobs' });
  });

  it('starts at 0 the refusals of its format and timestamp, and the receiver\'s own', () => {
    const { refused } = pipeline({ ...jobsConfig, format: 'logfmt', timestamp: { field: 'time' } });
    for (const reason of ['empty_line', 'invalid_logfmt', 'missing_timestamp', 'invalid_timestamp', 'payload_too_large']) {
      expect(refused(reason), reason).toBe(0);
    }
    expect(refused('invalid_json')).toBeUndefined();
  });

  it('takes a record\'s time from its field when configured, and refuses a time it cannot read', () => {
    const { settings, send, refused } = pipeline({ ...jobsConfig, timestamp: { field: 'time', format: 'unix' } });
    send('{"kind":"job","event":"started","job_id":"7","time":"100"}', 999_999);
    send('{"kind":"job","event":"completed","result":"success","job_id":"7","time":"104.5"}', 0);
    expect(send('{"kind":"job","event":"completed","job_id":"8","time":"soon"}')).toBe('refused');
    expect(refused('invalid_timestamp')).toBe(1);
    const duration = metric(settings.meter, 'job.duration');
    expect(duration?.dataPoints.map((point) => (point.value as { sum?: number }).sum)).toEqual([4.5]);
  });

  it('keeps an open pair across a restart through any slot with state() and provideState()', () => {
    let saved: SavedReceiverState | undefined;
    let provider: (() => SavedReceiverState | undefined) | undefined;
    const slot = { state: () => saved, provideState: (next: () => SavedReceiverState | undefined) => (provider = next) };

    const first = pipeline();
    first.events.keepStateIn(slot);
    expect(provider?.()).toBeUndefined(); // nothing open: nothing to write
    first.send('{"kind":"job","event":"started","job_id":"42"}', Date.now() - 3_000);
    saved = provider?.();
    expect(saved).toMatchObject({ mapping: expect.any(Object) });

    const second = pipeline();
    second.events.keepStateIn(slot);
    expect(second.events.mapper.openPairs()).toBe(1);
    second.send('{"kind":"job","event":"completed","result":"success","job_id":"42"}', Date.now());
    expect(second.events.mapper.openPairs()).toBe(0);
    const duration = metric(second.settings.meter, 'job.duration');
    expect(duration?.dataPoints).toHaveLength(1);
  });

  it('checks the shared keys the same way in any receiver schema that spreads them', () => {
    const regexWithWrongField = { format: 'regex', regex: '^(?<status>\\w+)$', metrics: [{ name: 'n', type: 'counter', attributes: { op: 'operation' } }] };
    const mine = topicReceiverSchema.safeParse({ topic: 't', ...regexWithWrongField });
    const joblog = joblogSchema.safeParse({ paths: ['/var/log/a.log'], ...regexWithWrongField });
    expect(mine.success).toBe(false);
    expect(joblog.success).toBe(false);
    const messages = (result: { error?: z.ZodError }) => result.error?.issues.map((issue) => [issue.path.join('.'), issue.message]);
    expect(messages(mine)).toEqual(messages(joblog));
    expect(messages(mine)?.[0][1]).toContain('expected a field the regex gives (status)');
  });
});
