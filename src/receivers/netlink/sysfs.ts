// One network interface as the kernel shows it in /sys/class/net/<name>/: its identity
// (ifindex), state and counters. Read synchronously: each file is one small kernel value,
// and a sync read costs a few microseconds where a promise costs more than the read.
import { readFileSync, readdirSync } from 'node:fs';

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
  /** Bits per second; undefined when the driver does not know (down, virtual). */
  speed?: number;
  counters: Record<CounterName, number>;
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

export class SysClassNet {
  constructor(readonly root = '/sys/class/net') {}

  /** The names the kernel lists now. */
  names(): string[] {
    return readdirSync(this.root);
  }

  /** The interface called `name` now, or undefined when there is none. */
  read(name: string): LinkState | undefined {
    const dir = `${this.root}/${name}`;
    const ifindex = readNumber(`${dir}/ifindex`);
    if (ifindex === undefined) return undefined;
    const flags = readNumber(`${dir}/flags`) ?? 0;
    const speedMbps = readNumber(`${dir}/speed`);
    const counters = {} as Record<CounterName, number>;
    for (const file of COUNTER_FILES) counters[file] = readNumber(`${dir}/statistics/${file}`) ?? 0;
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
      counters,
    };
    // Renamed or replaced between the first read and the last: what was read is not one interface.
    return readNumber(`${dir}/ifindex`) === ifindex ? state : undefined;
  }
}
