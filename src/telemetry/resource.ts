// The resource every exported metric carries: who this host and this agent are.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { arch, hostname, release } from 'node:os';
import type { Resource } from '@opentelemetry/resources';
import { resourceFromAttributes } from '../metrics/otel.js';
import { VERSION } from '../version.js';

/** Node's `process.arch` -> OpenTelemetry's `host.arch` values. */
const HOST_ARCH: Record<string, string> = {
  x64: 'amd64', arm64: 'arm64', arm: 'arm32', ia32: 'x86', ppc64: 'ppc64', s390x: 's390x',
};

function readTrimmed(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function osPrettyName(rootPath: string): string | undefined {
  const text = readTrimmed(`${rootPath}/etc/os-release`) ?? readTrimmed(`${rootPath}/usr/lib/os-release`);
  const match = text?.match(/^PRETTY_NAME="?([^"\n]*)"?$/m);
  return match?.[1];
}

/**
 * A UUID derived from the machine id, so `service.instance.id` (and the `target_info`
 * series that carries it) stays the same across restarts instead of churning.
 */
function stableInstanceId(machineId: string): string {
  const hex = createHash('sha1').update(`otel-agent:${machineId}`).digest('hex');
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function detectResourceAttributes(rootPath = ''): Record<string, string> {
  const machineId = readTrimmed(`${rootPath}/etc/machine-id`) ?? readTrimmed(`${rootPath}/var/lib/dbus/machine-id`);
  const host = hostname();
  const pretty = osPrettyName(rootPath);
  const attributes: Record<string, string> = {
    'host.name': host,
    'host.arch': HOST_ARCH[arch()] ?? arch(),
    'os.type': 'linux',
    'os.description': pretty ? `${pretty} (Linux ${release()})` : `Linux ${release()}`,
    'service.name': 'otel-agent',
    'service.version': VERSION,
    'service.instance.id': stableInstanceId(machineId ?? host),
  };
  if (machineId) attributes['host.id'] = machineId;
  return attributes;
}

/** Detected attributes, overridden by the config's `resource:` map. */
export function buildResource(configured: Record<string, string | number | boolean>): Resource {
  return resourceFromAttributes({ ...detectResourceAttributes(), ...configured });
}
