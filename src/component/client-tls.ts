// TLS to a server the agent connects to (Redis, an MQTT broker, an OTLP collector): one
// config block and one way of turning it into Node's TLS options.
import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import { z } from 'zod';

export const clientTlsSchema = z.strictObject({
  /** CA bundle that signed the server's certificate; the system's CAs when absent. */
  ca_file: z.string().min(1).optional(),
  /** Client certificate and key, for a server that asks for one (mutual TLS). */
  cert_file: z.string().min(1).optional(),
  key_file: z.string().min(1).optional(),
  /** Accept any server certificate: for tests only, it lets anyone in the middle read the password. */
  insecure_skip_verify: z.boolean().default(false),
  /** The name checked in the server's certificate, when it differs from the endpoint's host. */
  server_name: z.string().min(1).optional(),
});

export type ClientTlsConfig = z.infer<typeof clientTlsSchema>;

/** Node's TLS options for `tls`, its files read now (when a client is made). */
export async function clientTlsOptions(tls: ClientTlsConfig | undefined): Promise<ConnectionOptions> {
  const read = async (key: 'ca_file' | 'cert_file' | 'key_file') => {
    const path = tls?.[key];
    if (path === undefined) return undefined;
    try {
      return await readFile(path);
    } catch (error) {
      throw new Error(`cannot read tls.${key} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  const [ca, cert, key] = await Promise.all([read('ca_file'), read('cert_file'), read('key_file')]);
  return {
    ...(ca && { ca }),
    ...(cert && { cert }),
    ...(key && { key }),
    rejectUnauthorized: tls?.insecure_skip_verify !== true,
    ...(tls?.server_name !== undefined && { servername: tls.server_name }),
  };
}
