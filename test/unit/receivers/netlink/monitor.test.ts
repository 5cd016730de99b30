// The supervisor on real child processes that exit at once: the waits between restarts double
// up to the cap, and a command that cannot run is reported with why.
import { afterEach, describe, expect, it } from 'vitest';
import { LinkMonitor } from '../../../../src/receivers/netlink/monitor.js';
import { eventually } from '../../../support/eventually.js';

const monitors: LinkMonitor[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.stop()));
});

function monitor(command: string[], stableMs = 60_000) {
  const downs: Array<{ reason: string; retryMs: number }> = [];
  const lines: string[] = [];
  const ups: number[] = [];
  const m = new LinkMonitor({
    command,
    initialMs: 10,
    maxMs: 40,
    stableMs,
    onLine: (line) => lines.push(line),
    onUp: (pid) => ups.push(pid),
    onDown: (reason, retryMs) => downs.push({ reason, retryMs }),
    onStderr: () => undefined,
  });
  monitors.push(m);
  return { m, downs, lines, ups };
}

describe('LinkMonitor', () => {
  it('restarts a child that exits, waiting twice as long each time up to the cap, and hands on its lines whole', async () => {
    const { m, downs, lines, ups } = monitor(['sh', '-c', 'printf "one\\ntw"; sleep 0.01; printf "o\\n"; exit 3']);
    m.start();
    await eventually(() => expect(downs.length).toBeGreaterThanOrEqual(5));
    await m.stop();
    expect(downs.slice(0, 5).map((d) => d.retryMs)).toEqual([10, 20, 40, 40, 40]);
    expect(downs[0].reason).toBe('sh -c printf "one\\ntw"; sleep 0.01; printf "o\\n"; exit 3 exited with code 3');
    expect(ups.length).toBeGreaterThanOrEqual(5);
    expect(lines.slice(0, 4)).toEqual(['one', 'two', 'one', 'two']);
  });

  it('starts the waits over after a child that stayed up long enough', async () => {
    const { m, downs } = monitor(['sh', '-c', 'exit 1'], 0);
    m.start();
    await eventually(() => expect(downs.length).toBeGreaterThanOrEqual(3));
    await m.stop();
    expect(downs.slice(0, 3).map((d) => d.retryMs)).toEqual([10, 10, 10]);
  });

  it('reports a command that cannot run, and keeps trying', async () => {
    const { m, downs, ups } = monitor(['/nonexistent/ip', 'monitor']);
    m.start();
    await eventually(() => expect(downs.length).toBeGreaterThanOrEqual(2));
    expect(downs[0].reason).toMatch(/^\/nonexistent\/ip monitor could not run: spawn \/nonexistent\/ip ENOENT/);
    expect(ups).toEqual([]);
  });

  it('stops its child and starts no other after stop', async () => {
    const { m, downs, ups } = monitor(['sleep', '30']);
    m.start();
    await eventually(() => expect(ups.length).toBe(1));
    const pid = m.pid!;
    await m.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    expect(downs).toEqual([]);
    expect(m.pid).toBeUndefined();
  });
});
