// The shared lifecycle: start once, shut down once, abort wiring, statuses without repeats.
import { describe, expect, it } from 'vitest';
import { Lifecycle, StatusOnChange } from '../../../src/component/lifecycle.js';
import type { ComponentStatus } from '../../../src/component/types.js';

function recorder() {
  const calls: string[] = [];
  let ownSignal: AbortSignal | undefined;
  const lifecycle = new Lifecycle('receiver "test"', {
    start: async (signal) => {
      ownSignal = signal;
      calls.push('start');
    },
    stop: async (started) => {
      calls.push(`stop(${started})`);
    },
  });
  return { lifecycle, calls, signal: () => ownSignal };
}

describe('Lifecycle', () => {
  it('starts once and refuses a second start with the component named', async () => {
    const { lifecycle, calls } = recorder();
    await lifecycle.start(new AbortController().signal);
    expect(lifecycle.phase).toBe('running');
    await expect(lifecycle.start(new AbortController().signal)).rejects.toThrow('receiver "test" was already started; create a new one');
    expect(calls).toEqual(['start']);
  });

  it('shuts down once however often asked, and tells the component whether it had started', async () => {
    const { lifecycle, calls } = recorder();
    await Promise.all([lifecycle.shutdown(), lifecycle.shutdown()]);
    await lifecycle.shutdown();
    expect(calls).toEqual(['stop(false)']);
    expect(lifecycle.phase).toBe('stopped');
    await expect(lifecycle.start(new AbortController().signal)).rejects.toThrow(/already started/);
  });

  it('aborts its own signal when the service aborts, and when it stops', async () => {
    const first = recorder();
    const service = new AbortController();
    await first.lifecycle.start(service.signal);
    expect(first.signal()!.aborted).toBe(false);
    service.abort();
    expect(first.signal()!.aborted).toBe(true);

    const second = recorder();
    await second.lifecycle.start(new AbortController().signal);
    await second.lifecycle.shutdown();
    expect(second.signal()!.aborted).toBe(true);
    expect(second.calls).toEqual(['start', 'stop(true)']);
  });

  it('waits for a start in progress before stopping', async () => {
    const order: string[] = [];
    let finishStart!: () => void;
    const lifecycle = new Lifecycle('exporter "slow"', {
      start: () => new Promise<void>((resolve) => (finishStart = () => (order.push('started'), resolve()))),
      stop: async () => void order.push('stopped'),
    });
    const starting = lifecycle.start(new AbortController().signal);
    const stopping = lifecycle.shutdown();
    finishStart();
    await Promise.all([starting, stopping]);
    expect(order).toEqual(['started', 'stopped']);
    expect(lifecycle.phase).toBe('stopped');
  });
});

describe('StatusOnChange', () => {
  it('passes a status on only when it or its reason changed', () => {
    const seen: Array<[ComponentStatus, string | undefined]> = [];
    const status = new StatusOnChange({ report: (s, r) => void seen.push([s, r]) });
    status.report('ok');
    status.report('ok');
    status.report('degraded', 'a');
    status.report('degraded', 'a');
    status.report('degraded', 'b');
    status.report('ok');
    expect(seen).toEqual([['ok', undefined], ['degraded', 'a'], ['degraded', 'b'], ['ok', undefined]]);
  });
});
