// One network interface as the kernel shows it in /sys/class/net/<name>/: its identity
// (ifindex), state and counters. Read synchronously: each file is one small kernel value,
// and a sync read costs a few microseconds where a promise costs more than the read.
//
// The files an event needs are kept open per interface and read again at offset 0 (sysfs
// makes the value anew at each read from the start): one pread is about 1 us where opening,
// reading and closing the file is about 15 us. An open file stays bound to its interface
// through a rename; once the interface is deleted its reads fail.
import { closeSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';

/** IF-MIB ifOperStatus values, by the kernel's operstate (RFC 2863 names). */
export const OPER_STATUS: Readonly<Record<string, number>> = {
  up: 1,
  down: 2,
  testing: 3,
  unknown: 4,
  dormant: 5,
  notpresent: 6,
  lowerlayerdown: 7,
};

const IFF_UP = 0x1;

export const COUNTER_FILES = [
  'rx_bytes', 'tx_bytes', 'rx_packets', 'tx_packets', 'rx_errors', 'tx_errors', 'rx_dropped', 'tx_dropped',
] as const;
export type CounterName = (typeof COUNTER_FILES)[number];

export interface LinkState {
  ifindex: number;
  name: string;
  /** IF-MIB ifOperStatus: 1 up, 2 down, ... 7 lowerLayerDown. */
  operStatus: number;
  /** IF-MIB ifAdminStatus: 1 up, 2 down (IFF_UP of `flags`). */
  adminStatus: number;
  /** 1 when the link has carrier; 0 without, or when the interface is administratively down. */
  carrier: number;
  /** Carrier down transitions since the interface was made: one per flap. */
  carrierDownCount: number;
  carrierUpCount: number;
  carrierChanges: number;
  mtu: number;
  /** Bits per second; undefined when the driver does not know (down, virtual), or not read (events). */
  speed?: number;
  /** Read at full reads only: traffic moves them all the time, and no event says so. */
  counters?: Record<CounterName, number>;
}

function readValue(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1').trim();
  } catch {
    return undefined; // Gone, or a value the driver refuses to give in this state (EINVAL).
  }
}

function readNumber(path: string): number | undefined {
  const text = readValue(path);
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

/** The files an event reads: the link's state, not its traffic. */
const STATE_FILES = ['operstate', 'flags', 'carrier', 'carrier_down_count', 'carrier_up_count', 'carrier_changes', 'mtu'] as const;
type StateFile = (typeof STATE_FILES)[number];

interface OpenInterface {
  name: string;
  fds: Map<StateFile, number>;
}

export class SysClassNet {
  private readonly open = new Map<number, OpenInterface>();
  private readonly buffer = Buffer.alloc(256);

  constructor(readonly root = '/sys/class/net') {}

  /**
   * The state (no traffic counters) of interface `ifindex`, which an event named `name`, from
   * its open files; undefined when it is gone or `name` is no longer it.
   */
  readState(ifindex: number, name: string): LinkState | undefined {
    let handle = this.open.get(ifindex);
    if (handle && handle.name !== name) {
      this.release(ifindex);
      handle = undefined;
    }
    if (!handle) {
      const state = this.read(name, false);
      if (state?.ifindex !== ifindex) return undefined;
      this.open.set(ifindex, { name, fds: new Map() });
      return state;
    }
    const values = {} as Record<StateFile, string | undefined>;
    for (const file of STATE_FILES) {
      let fd = handle.fds.get(file);
      try {
        if (fd === undefined) {
          fd = openSync(`${this.root}/${name}/${file}`, 'r');
          handle.fds.set(file, fd);
        }
        const length = readSync(fd, this.buffer, 0, this.buffer.length, 0);
        values[file] = this.buffer.toString('latin1', 0, length).trim();
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // EINVAL: a value the driver refuses in this state (carrier while down). Else: gone.
        if (code !== 'EINVAL') {
          this.release(ifindex);
          return undefined;
        }
      }
    }
    const number = (file: StateFile) => {
      const value = Number(values[file]);
      return values[file] === undefined || values[file] === '' || !Number.isFinite(value) ? undefined : value;
    };
    return {
      ifindex,
      name,
      operStatus: OPER_STATUS[values.operstate ?? ''] ?? OPER_STATUS.unknown,
      adminStatus: (number('flags') ?? 0) & IFF_UP ? 1 : 2,
      carrier: number('carrier') === 1 ? 1 : 0,
      carrierDownCount: number('carrier_down_count') ?? 0,
      carrierUpCount: number('carrier_up_count') ?? 0,
      carrierChanges: number('carrier_changes') ?? 0,
      mtu: number('mtu') ?? 0,
      speed: undefined,
    };
  }

  /** Closes the files kept open for `ifindex`. */
  release(ifindex: number): void {
    const handle = this.open.get(ifindex);
    if (!handle) return;
    this.open.delete(ifindex);
    for (const fd of handle.fds.values()) {
      try {
        closeSync(fd);
      } catch {
        // Closed already.
      }
    }
  }

  releaseAll(): void {
    for (const ifindex of [...this.open.keys()]) this.release(ifindex);
  }

  /** The names the kernel lists now. */
  names(): string[] {
    return readdirSync(this.root);
  }

  /**
   * The interface called `name` now, or undefined when there is none. `counters`: also the
   * eight traffic counters of statistics/ (a full read; an event needs only the link's state).
   */
  read(name: string, counters = true): LinkState | undefined {
    const dir = `${this.root}/${name}`;
    const ifindex = readNumber(`${dir}/ifindex`);
    if (ifindex === undefined) return undefined;
    const flags = readNumber(`${dir}/flags`) ?? 0;
    const speedMbps = readNumber(`${dir}/speed`);
    let traffic: Record<CounterName, number> | undefined;
    if (counters) {
      traffic = {} as Record<CounterName, number>;
      for (const file of COUNTER_FILES) traffic[file] = readNumber(`${dir}/statistics/${file}`) ?? 0;
    }
    const state: LinkState = {
      ifindex,
      name,
      operStatus: OPER_STATUS[readValue(`${dir}/operstate`) ?? ''] ?? OPER_STATUS.unknown,
      adminStatus: flags & IFF_UP ? 1 : 2,
      carrier: readNumber(`${dir}/carrier`) === 1 ? 1 : 0,
      carrierDownCount: readNumber(`${dir}/carrier_down_count`) ?? 0,
      carrierUpCount: readNumber(`${dir}/carrier_up_count`) ?? 0,
      carrierChanges: readNumber(`${dir}/carrier_changes`) ?? 0,
      mtu: readNumber(`${dir}/mtu`) ?? 0,
      speed: speedMbps !== undefined && speedMbps > 0 ? speedMbps * 1_000_000 : undefined,
      counters: traffic,
    };
    // Renamed or replaced between the first read and the last: what was read is not one interface.
    return readNumber(`${dir}/ifindex`) === ifindex ? state : undefined;
  }
}
