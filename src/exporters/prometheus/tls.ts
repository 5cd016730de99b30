// Certificate material for the HTTPS endpoint, and its reload: the files are re-read on an
// interval and, when their bytes changed and still make a valid key pair, swapped in with
// `setSecureContext`. New connections get the new certificate; open ones keep theirs.
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import type { PrometheusTlsConfig } from './config.js';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  clientCa?: Buffer;
}

async function readNamed(key: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new Error(`tls::${key}: cannot read "${path}": ${(error as Error).message}`);
  }
}

export async function readTlsMaterial(config: PrometheusTlsConfig): Promise<TlsMaterial> {
  const [cert, key, clientCa] = await Promise.all([
    readNamed('cert_file', config.cert_file),
    readNamed('key_file', config.key_file),
    config.client_ca_file === undefined ? undefined : readNamed('client_ca_file', config.client_ca_file),
  ]);
  return { cert, key, clientCa };
}

/** Options for `createSecureContext` and `setSecureContext`, checked by building a context once. */
export function secureContextOptions(config: PrometheusTlsConfig, material: TlsMaterial): SecureContextOptions {
  const options: SecureContextOptions = {
    cert: material.cert,
    key: material.key,
    ca: material.clientCa,
    minVersion: config.min_version,
  };
  try {
    // Throws on an unreadable PEM and on a key that does not match the certificate.
    createSecureContext(options);
  } catch (error) {
    throw new Error(
      `tls: cannot use cert_file "${config.cert_file}" with key_file "${config.key_file}"` +
        `${config.client_ca_file ? ` and client_ca_file "${config.client_ca_file}"` : ''}: ${(error as Error).message}`,
    );
  }
  return options;
}

function sameMaterial(a: TlsMaterial, b: TlsMaterial): boolean {
  const sameCa = a.clientCa === undefined || b.clientCa === undefined ? a.clientCa === b.clientCa : a.clientCa.equals(b.clientCa);
  return a.cert.equals(b.cert) && a.key.equals(b.key) && sameCa;
}

export interface ReloadEvents {
  /** The files on disk are in use: swapped in (`swapped`), or back to the pair in use after a failure. */
  succeeded(swapped: boolean): void;
  /** The files changed but cannot be used (half-written rotation, mismatched pair); the old material stays. */
  failed(reason: string): void;
}

/**
 * Polls the certificate files. Reading three small files on an interval is cheaper to get
 * right than fs.watch, which misses the rename and symlink swaps rotation tools use.
 */
export class CertificateReloader {
  private timer?: NodeJS.Timeout;
  private checking = false;
  private stopped = false;
  /** Last failure reported, so a broken rotation is reported once, not on every poll. */
  private lastFailure?: string;

  constructor(
    private readonly server: TlsServer,
    private readonly config: PrometheusTlsConfig,
    private current: TlsMaterial,
    private readonly events: ReloadEvents,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), this.config.reload_interval);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** Re-reads the files once; swaps them in when they changed and are usable. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const next = await readTlsMaterial(this.config);
      if (sameMaterial(next, this.current)) {
        if (this.lastFailure !== undefined) this.succeed(false);
        return;
      }
      const options = secureContextOptions(this.config, next);
      if (this.stopped) return;
      this.server.setSecureContext(options);
      this.current = next;
      this.succeed(true);
    } catch (error) {
      // A file missing for a moment or a half-written pair mid-rotation: keep the old one.
      const reason = `certificate reload failed, keeping the previous certificate: ${(error as Error).message}`;
      if (reason !== this.lastFailure) this.events.failed(reason);
      this.lastFailure = reason;
    } finally {
      this.checking = false;
    }
  }

  private succeed(swapped: boolean): void {
    this.lastFailure = undefined;
    this.events.succeeded(swapped);
  }
}
