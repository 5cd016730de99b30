// One line of `ip -o -ts monitor link` (iproute2) -> a link event. The monitor is run with
// TZ=UTC, so its timestamps (taken when `ip` read the message from the kernel) are UTC.
//
//   [2026-12-03T10:27:25.790052] 42: eth0@peer: <NO-CARRIER,BROADCAST,UP> mtu 1500 ... state DOWN ...
//   [2026-12-03T10:27:26.062267] Deleted 41: eth1: <BROADCAST,MULTICAST> ... new-netnsid 0 new-ifindex 41

export interface LinkEvent {
  /** When `ip` received the message, epoch milliseconds with microseconds in the fraction. */
  receivedMs: number;
  ifindex: number;
  /** The name as `ip` printed it, without its `@link` part. */
  name: string;
  /** RTM_DELLINK: the interface was deleted, or moved to another namespace. */
  deleted: boolean;
}

const LINE = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?\] (Deleted )?(\d+): ([^\s:]+): /;

/** The event on `line`, or undefined when the line is not a link message. */
export function parseMonitorLine(line: string): LinkEvent | undefined {
  const match = LINE.exec(line);
  if (!match) return undefined;
  const seconds = Date.parse(`${match[1]}Z`);
  if (Number.isNaN(seconds)) return undefined;
  const fraction = match[2] ? Number(`0.${match[2]}`) * 1000 : 0;
  // `name@link`: the part after the last @ is the peer or lower device (`@NONE`, `@if41`).
  const printed = match[5];
  const at = printed.lastIndexOf('@');
  return {
    receivedMs: seconds + fraction,
    ifindex: Number(match[4]),
    name: at > 0 ? printed.slice(0, at) : printed,
    deleted: match[3] !== undefined,
  };
}
