// Config of the `prometheus` exporter: YAML keys in snake_case, durations parsed to ms.
import { z } from 'zod';
import { duration, hostPort } from '../../component/schema.js';

const BCRYPT_HASH = /^\$2[abxy]\$\d{2}\$[./A-Za-z0-9]{53}$/;

const WHOLE_REQUESTS = 'expected a whole number of requests, 0 for no limit';

const tlsSchema = z.strictObject({
  cert_file: z.string().min(1),
  key_file: z.string().min(1),
  /** With it, mutual TLS: a client without a certificate signed by this CA fails the handshake. */
  client_ca_file: z.string().min(1).optional(),
  min_version: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  /** How often the files are re-read; a change swaps the certificate in for new connections. */
  reload_interval: duration()
    .prefault('30s')
    .refine((ms) => ms >= 10, { message: 'must be at least 10ms' }),
});

const basicAuthSchema = z.strictObject({
  username: z.string().min(1),
  // The hash is never echoed back, even in an error.
  password_hash: z.string().refine((text) => BCRYPT_HASH.test(text), {
    message: 'expected a bcrypt hash ($2b$<cost>$<53 characters>), as printed by `htpasswd -nbB` or bcryptjs',
  }),
});

export const configSchema = z
  .strictObject({
    /** Loopback by default: all interfaces only when written out (`0.0.0.0:9464`). */
    endpoint: hostPort()
      .refine((text) => Number(text.slice(text.lastIndexOf(':') + 1)) <= 65535, { message: 'port must be 0 to 65535' })
      .default('127.0.0.1:9464'),
    namespace: z
      .string()
      .regex(/^([a-zA-Z_][a-zA-Z0-9_]*)?$/, 'expected a Prometheus name prefix: letters, digits and _')
      .default(''),
    const_labels: z.record(z.string(), z.string()).default({}),
    add_metric_suffixes: z.boolean().default(true),
    target_info: z.boolean().default(true),
    /**
     * The collection's one deadline: it aborts the receivers' refreshes, and those that were
     * late are served as they last were. 503 only when the source has not settled 1s later.
     */
    collection_timeout: duration()
      .prefault('5s')
      .refine((ms) => ms > 0, { message: 'must be more than 0s' }),
    /**
     * Requests to /metrics served at once (node_exporter's --web.max-requests); one more is
     * answered 503 at once. 0: no limit. /health and /ready are not counted.
     */
    max_requests: z.number({ error: WHOLE_REQUESTS }).int({ error: WHOLE_REQUESTS }).min(0, { error: WHOLE_REQUESTS }).default(40),
    tls: tlsSchema.optional(),
    basic_auth: basicAuthSchema.optional(),
    bearer_token: z.string().min(1).optional(),
    bearer_token_file: z.string().min(1).optional(),
  })
  .superRefine((config, ctx) => {
    const methods = [
      config.basic_auth && 'basic_auth',
      config.bearer_token && 'bearer_token',
      config.bearer_token_file && 'bearer_token_file',
    ].filter(Boolean);
    if (methods.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: [methods[1] as string],
        message: `only one of basic_auth, bearer_token, bearer_token_file may be set, found ${methods.join(' and ')}`,
      });
    }
  });

export type PrometheusExporterConfig = z.output<typeof configSchema>;
export type PrometheusTlsConfig = NonNullable<PrometheusExporterConfig['tls']>;
