// Veth pairs and network namespaces made by a test, with names unique to the process, removed
// by `removeAll()` (call it in afterEach/afterAll) whatever state the test left them in.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

let counter = 0;
const links = new Set<string>();
const namespaces = new Set<string>();

/** A name no other test process uses now: at most 15 characters (IFNAMSIZ - 1). */
export function uniqueName(prefix = 'nl'): string {
  counter += 1;
  return `${prefix}${process.pid % 100_000}x${counter}`.slice(0, 15);
}

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

/** `ip -batch -`: many link commands in one process, as fast as the kernel takes them; in `ns` if given. */
export function ipBatch(commands: string[], ns?: string): void {
  const args = ns === undefined ? ['-batch', '-'] : ['-n', ns, '-batch', '-'];
  execFileSync('ip', args, { input: `${commands.join('\n')}\n`, encoding: 'utf8' });
}

/** A veth pair, both ends up, in this namespace: `name` is watched, `peer` is flapped. */
export function vethPair(name = uniqueName(), peer = `${name}p`): { name: string; peer: string } {
  links.add(name);
  links.add(peer);
  ip('link', 'add', name, 'type', 'veth', 'peer', 'name', peer);
  ip('link', 'set', name, 'up');
  ip('link', 'set', peer, 'up');
  return { name, peer };
}

/** Remembers a link made or renamed by the test so it is removed too. */
export function track(name: string): void {
  links.add(name);
}

export function namespace(name = uniqueName('nlns')): string {
  namespaces.add(name);
  ip('netns', 'add', name);
  return name;
}

/** A value of /sys/class/net/<name>/<file> as the kernel gives it now. */
export function sysValue(name: string, file: string): number {
  return Number(readFileSync(`/sys/class/net/${name}/${file}`, 'utf8').trim());
}

export function removeAll(): void {
  for (const name of links) {
    if (existsSync(`/sys/class/net/${name}`)) {
      try {
        ip('link', 'del', name);
      } catch {
        // Its peer's deletion took it first.
      }
    }
  }
  links.clear();
  for (const name of namespaces) {
    try {
      ip('netns', 'del', name);
    } catch {
      // Already gone.
    }
  }
  namespaces.clear();
}
