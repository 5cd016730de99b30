// The shared scrape controller: interval, one run at a time, deadlines, status, stop.
import { afterEach, describe, expect, it } from 'vitest';
import { ScrapeController, type ScrapeControllerOptions } from '../../../src/component/scrape-controller.js';
import type { ComponentStatus } from '../../../src/component/types.js';

interface Gate {
  open(): void;
  promise: Promise<void>;
}

function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { open, promise };
}

const controllers: Array<ScrapeController<unknown>> = [];

afterEach(async () => {
  for (const controller of controllers.splice(0)) await controller.stop();
});

/** A controller whose scrape counts its calls and keeps each call's signal; `behaviour` decides the rest. */
function controlled(
  behaviour: (call: number, signal: AbortSignal) => Promise<number> = async (call) => call,
  options: Partial<ScrapeControllerOptions<number>> = {},
) {
  const statuses: Array<[ComponentStatus, string | undefined]> = [];
  const signals: AbortSignal[] = [];
  let calls = 0;
  const controller = new ScrapeController<number>({
    name: 'receiver "test"',
    intervalMs: 60_000,
    scrape: (signal) => {
      calls += 1;
      signals.push(signal);
      return behaviour(calls, signal);
    },
    status: { report: (status, reason) => void statuses.push([status, reason]) },
    ...options,
  });
  controllers.push(controller as ScrapeController<unknown>);
  return { controller, statuses, signals, calls: () => calls };
}

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

async function eventually(check: () => void, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

describe('ScrapeController', () => {
  it('runs at start and again every interval', async () => {
    const { controller, calls } = controlled(undefined, { intervalMs: 20 });
    controller.start(new AbortController().signal);
    expect(calls()).toBe(1);
    await eventually(() => expect(calls()).toBeGreaterThanOrEqual(3));
    expect(controller.latest).toBeGreaterThanOrEqual(2);
  });

  it('joins the run in progress: a second run and a collect wait for it instead of starting another', async () => {
    const release = gate();
    const { controller, calls } = controlled(async (call) => {
      await release.promise;
      return call;
    });
    const first = controller.run();
    expect(controller.run()).toBe(first);
    const order: string[] = [];
    const collecting = controller.collect(new AbortController().signal).then(() => order.push('collected'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    order.push('released');
    release.open();
    await Promise.all([first, collecting]);
    expect(order).toEqual(['released', 'collected']);
    expect(calls()).toBe(1);
    expect(await controller.run()).toBe(2);
  });

  it('in join mode, a collect between runs returns what the last run left without starting one', async () => {
    const { controller, calls } = controlled();
    await controller.run();
    await controller.collect(new AbortController().signal);
    expect(calls()).toBe(1);
    expect(controller.latest).toBe(1);
  });

  it('in refresh mode, a collect starts a run under its own signal and waits for it', async () => {
    const { controller, calls, signals } = controlled(async (call) => call, { onCollect: 'refresh' });
    await controller.collect(new AbortController().signal);
    expect(calls()).toBe(1);
    expect(controller.latest).toBe(1);

    const hung = controlled((_, signal) => aborted(signal).then(() => Promise.reject(new Error('aborted'))), { onCollect: 'refresh' });
    const deadline = new AbortController();
    const collecting = hung.controller.collect(deadline.signal);
    deadline.abort(new Error('collection deadline of 50ms passed'));
    await collecting;
    await eventually(() => expect(hung.statuses.at(-1)).toEqual(['degraded', 'scrape aborted: collection deadline of 50ms passed']));
    expect(hung.signals[0].aborted).toBe(true);
    expect(signals[0].aborted).toBe(false);
  });

  it('leaves a collect at its deadline with what the last run left, the late run going on', async () => {
    const release = gate();
    const { controller } = controlled(async (call) => {
      if (call === 2) await release.promise;
      return call;
    });
    await controller.run();
    const late = controller.run();
    const deadline = new AbortController();
    const collecting = controller.collect(deadline.signal);
    deadline.abort();
    await collecting;
    expect(controller.latest).toBe(1);
    release.open();
    expect(await late).toBe(2);
    expect(controller.latest).toBe(2);
  });

  it('aborts a run at its own deadline and reports it as degraded', async () => {
    const { controller, statuses, signals } = controlled((_, signal) => aborted(signal).then(() => Promise.reject(new Error('stopped reading'))), {
      timeoutMs: 30,
    });
    expect(await controller.run()).toBeUndefined();
    expect((signals[0].reason as Error).message).toBe('scrape deadline of 30ms passed');
    expect(statuses).toEqual([['degraded', 'scrape aborted: scrape deadline of 30ms passed']]);
  });

  it('reports a failing scrape as degraded once, and ok once when it recovers', async () => {
    const { controller, statuses } = controlled(
      async (call) => {
        if (call === 2 || call === 3) throw new Error('connection refused\nat the socket');
        return call;
      },
      { problem: (result) => (result === 5 ? 'one key did not answer' : undefined) },
    );
    for (let run = 0; run < 6; run += 1) await controller.run();
    expect(statuses).toEqual([
      ['ok', undefined],
      ['degraded', 'connection refused'],
      ['ok', undefined],
      ['degraded', 'one key did not answer'],
      ['ok', undefined],
    ]);
  });

  it('stops its timer, aborts the run in progress and waits for it, and runs no more', async () => {
    const ended: string[] = [];
    const { controller, calls, signals, statuses } = controlled(
      async (call, signal) => {
        if (call === 1) return call;
        await aborted(signal);
        ended.push('run ended');
        return call;
      },
      { intervalMs: 20 },
    );
    controller.start(new AbortController().signal);
    await eventually(() => expect(calls()).toBe(2));
    await controller.stop();
    expect(ended).toEqual(['run ended']);
    expect((signals[1].reason as Error).message).toBe('receiver "test" stopped');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(calls()).toBe(2);
    expect(await controller.run()).toBeUndefined();
    expect(calls()).toBe(2);
    // A run ended by the stop says nothing more about the component's health.
    expect(statuses).toEqual([['ok', undefined]]);
    await controller.stop();
  });

  it('stops when its start signal aborts', async () => {
    const { controller, calls } = controlled(undefined, { intervalMs: 20 });
    const service = new AbortController();
    controller.start(service.signal);
    service.abort();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(calls()).toBe(1);
  });
});
