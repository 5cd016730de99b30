// The endpoint over HTTPS and mutual TLS, with certificates made by openssl: refusals happen
// at the handshake, and rotated certificate files are picked up without a restart.
import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PrometheusExporter } from '../../../../src/exporters/prometheus/index.js';
import { createTestPki, type TestPki } from '../../../support/certs.js';
import { eventually } from '../../../support/eventually.js';
import { fetchFrom, startExporter, testHarness, type TestHarness } from '../../../support/prometheus-exporter.js';

let pki: TestPki;
let ca: Buffer;
let client: { cert: Buffer; key: Buffer };
let otherClient: { cert: Buffer; key: Buffer };

beforeAll(async () => {
  pki = await createTestPki();
  ca = await readFile(pki.ca.certFile);
  client = { cert: await readFile(pki.client.certFile), key: await readFile(pki.client.keyFile) };
  otherClient = { cert: await readFile(pki.otherClient.certFile), key: await readFile(pki.otherClient.keyFile) };
});
afterAll(async () => {
  await pki?.remove();
});

const running: PrometheusExporter[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((exporter) => exporter.shutdown()));
});

/** The server logged and counted a refused handshake for `reason`, and /metrics was never reached. */
async function expectRefusalSeen(harness: TestHarness, reason: string) {
  const entry = await eventually(() => {
    const logged = harness.logger.entries.find((candidate) => candidate.msg?.startsWith('TLS handshake refused'));
    if (!logged) throw new Error('no refused handshake logged');
    return logged;
  });
  expect(entry.fields).toMatchObject({ exporter: 'prometheus/test', reason });
  expect(harness.telemetry.records).toContainEqual({
    instrument: 'otel_agent.exporter.tls.handshakes.refused', op: 'add', value: 1, attributes: { exporter: 'prometheus/test' },
  });
  expect(harness.source.calls).toBe(0);
}

async function serve(config: Record<string, unknown>, harness = testHarness()) {
  const started = await startExporter(config, harness);
  running.push(started.exporter);
  return started;
}

const mtls = () => ({ cert_file: pki.server.certFile, key_file: pki.server.keyFile, client_ca_file: pki.ca.certFile });

/**
 * Resolves with the client-side error of a request that must fail in the TLS layer, and
 * fails the test when any HTTP answer arrives instead.
 */
async function tlsFailure(reply: Promise<unknown>): Promise<NodeJS.ErrnoException> {
  const outcome = await reply.then(
    (answer) => ({ answer }),
    (error: NodeJS.ErrnoException) => ({ error }),
  );
  if ('answer' in outcome) throw new Error(`expected a refused TLS handshake, got HTTP ${(outcome.answer as { status: number }).status}`);
  return outcome.error;
}

/** What the client sees when the server drops it for an untrusted certificate: never an HTTP status. */
const DROPPED_BEFORE_HTTP = /^(Client network socket disconnected before secure TLS connection was established|socket hang up)$/;

describe('TLS without a client CA', () => {
  it('serves HTTPS to a client without a certificate', async () => {
    const { port } = await serve({ tls: { cert_file: pki.server.certFile, key_file: pki.server.keyFile } });
    const reply = await fetchFrom(port, { tls: { ca } });
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toMatch(/^test_requests_total\{.*\} 42$/m);
    expect(reply.peerCertificate?.serialNumber).toBe(pki.server.serial);
  });

  it('refuses plain HTTP on the HTTPS port', async () => {
    const { port } = await serve({ tls: { cert_file: pki.server.certFile, key_file: pki.server.keyFile } });
    const reply = await fetchFrom(port).catch((error: Error) => error);
    // Node's TLS server answers a plain request with a bare 400 before closing.
    if (reply instanceof Error) expect(reply.message).toMatch(/socket hang up|ECONNRESET/);
    else expect(reply.status).toBe(400);
  });
});

describe('mutual TLS', () => {
  it('serves a client whose certificate the client CA signed', async () => {
    const { port } = await serve({ tls: mtls() });
    const reply = await fetchFrom(port, { tls: { ca, ...client } });
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toMatch(/^test_requests_total\{.*\} 42$/m);
  });

  it('refuses a client without a certificate with a TLS 1.2 handshake alert', async () => {
    const harness = testHarness();
    const { port } = await serve({ tls: mtls() }, harness);
    const error = await tlsFailure(fetchFrom(port, { tls: { ca, maxVersion: 'TLSv1.2' } }));
    expect(error.code).toBe('EPROTO');
    expect(error.message).toMatch(/alert handshake failure/);
    await expectRefusalSeen(harness, 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE');
  });

  it('refuses a client without a certificate with the TLS 1.3 "certificate required" alert', async () => {
    const harness = testHarness();
    const { port } = await serve({ tls: mtls() }, harness);
    const error = await tlsFailure(fetchFrom(port, { tls: { ca, maxVersion: 'TLSv1.3' } }));
    expect(error.code).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    await expectRefusalSeen(harness, 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE');
  });

  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`drops a ${maxVersion} client whose certificate another CA signed, before any HTTP`, async () => {
      const harness = testHarness();
      const { port } = await serve({ tls: mtls() }, harness);
      const error = await tlsFailure(fetchFrom(port, { tls: { ca, ...otherClient, maxVersion } }));
      expect(error.code).toBe('ECONNRESET');
      expect(error.message).toMatch(DROPPED_BEFORE_HTTP);
      await expectRefusalSeen(harness, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    });
  }

  it('applies to /health and /ready too: no certificate, no answer', async () => {
    const { port } = await serve({ tls: mtls() });
    expect((await tlsFailure(fetchFrom(port, { path: '/health', tls: { ca } }))).code).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    expect((await tlsFailure(fetchFrom(port, { path: '/ready', tls: { ca } }))).code).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    expect((await fetchFrom(port, { path: '/ready', tls: { ca, ...client } })).status).toBe(200);
  });
});

describe('min_version', () => {
  it('TLSv1.3 refuses a client that stops at TLS 1.2', async () => {
    const { port } = await serve({ tls: { cert_file: pki.server.certFile, key_file: pki.server.keyFile, min_version: 'TLSv1.3' } });
    const error = await tlsFailure(fetchFrom(port, { tls: { ca, maxVersion: 'TLSv1.2' } }));
    expect(error.code).toBe('EPROTO');
    expect(error.message).toMatch(/alert protocol version/);
    expect((await fetchFrom(port, { tls: { ca } })).status).toBe(200);
  });
});

describe('certificate rotation', () => {
  /** Copies a key pair to fixed file names the exporter is configured with. */
  async function install(dir: string, pair: { certFile: string; keyFile: string }) {
    // Write beside, then rename: what rotation tools do, so the exporter never reads half a file.
    await copyFile(pair.certFile, join(dir, 'live.crt.tmp'));
    await copyFile(pair.keyFile, join(dir, 'live.key.tmp'));
    await rename(join(dir, 'live.key.tmp'), join(dir, 'live.key'));
    await rename(join(dir, 'live.crt.tmp'), join(dir, 'live.crt'));
  }

  it('serves a replaced certificate to new connections without a restart', async () => {
    await install(pki.dir, pki.server);
    const harness = testHarness();
    const { port } = await serve(
      { tls: { cert_file: join(pki.dir, 'live.crt'), key_file: join(pki.dir, 'live.key'), client_ca_file: pki.ca.certFile, reload_interval: '100ms' } },
      harness,
    );
    const before = await fetchFrom(port, { tls: { ca, ...client } });
    expect(before.peerCertificate?.serialNumber).toBe(pki.server.serial);

    const rotated = await pki.issueServer('rotated');
    expect(rotated.serial).not.toBe(pki.server.serial);
    await install(pki.dir, rotated);

    const after = await eventually(async () => {
      const reply = await fetchFrom(port, { tls: { ca, ...client } });
      expect(reply.peerCertificate?.serialNumber).toBe(rotated.serial);
      return reply;
    });
    expect(after.status).toBe(200);
    expect(harness.logger.entries).toContainEqual(expect.objectContaining({ level: 'info', msg: 'certificate reloaded' }));
    // mTLS still holds with the new certificate.
    expect((await tlsFailure(fetchFrom(port, { tls: { ca, ...otherClient } }))).message).toMatch(DROPPED_BEFORE_HTTP);
  });

  it('keeps the old certificate and reports degraded when the new pair does not match', async () => {
    await install(pki.dir, pki.server);
    const harness = testHarness();
    const { port } = await serve(
      { tls: { cert_file: join(pki.dir, 'live.crt'), key_file: join(pki.dir, 'live.key'), reload_interval: '100ms' } },
      harness,
    );
    const stray = await pki.issueServer('stray');
    // Only the certificate changes: its key is not the one on disk.
    await writeFile(join(pki.dir, 'live.crt'), await readFile(stray.certFile));

    const degraded = await eventually(() => {
      const status = harness.statuses.find((reported) => reported.status === 'degraded');
      if (!status) throw new Error('not degraded yet');
      return status;
    });
    expect(degraded.reason).toMatch(/^certificate reload failed, keeping the previous certificate: tls: cannot use cert_file/);
    expect(degraded.reason).not.toContain('PRIVATE KEY');
    const reply = await fetchFrom(port, { tls: { ca } });
    expect(reply.status).toBe(200);
    expect(reply.peerCertificate?.serialNumber).toBe(pki.server.serial);

    // The matching key arrives: the rotation completes and the status is ok again.
    await writeFile(join(pki.dir, 'live.key'), await readFile(stray.keyFile));
    await eventually(async () => {
      const next = await fetchFrom(port, { tls: { ca } });
      expect(next.peerCertificate?.serialNumber).toBe(stray.serial);
    });
    expect(harness.statuses.at(-1)).toEqual({ status: 'ok', reason: undefined });
  });
});

describe('start with bad TLS files', () => {
  it('rejects with a message naming the missing file', async () => {
    const missing = join(pki.dir, 'nope.crt');
    await expect(startExporter({ tls: { cert_file: missing, key_file: pki.server.keyFile } })).rejects.toThrow(
      `prometheus exporter "prometheus/test": tls::cert_file: cannot read "${missing}"`,
    );
  });

  it('rejects a key that does not belong to the certificate', async () => {
    await expect(startExporter({ tls: { cert_file: pki.server.certFile, key_file: pki.client.keyFile } })).rejects.toThrow(
      /tls: cannot use cert_file ".*server\.crt" with key_file ".*client\.key": .*key values mismatch/,
    );
  });
});
