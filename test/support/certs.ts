// A throwaway PKI made with the openssl command line: a CA, a server certificate for
// 127.0.0.1/localhost, a client certificate, and a second CA unrelated to the first.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface KeyPair {
  certFile: string;
  keyFile: string;
}

export interface IssuedCertificate extends KeyPair {
  /** Upper-case hex, as `getPeerCertificate().serialNumber` prints it. */
  serial: string;
}

export interface TestPki {
  dir: string;
  ca: KeyPair;
  server: IssuedCertificate;
  client: IssuedCertificate;
  /** A CA the server does not trust, and a client certificate it signed. */
  otherCa: KeyPair;
  otherClient: IssuedCertificate;
  /** Another server certificate from `ca`, with a fresh serial, in files named after `name`. */
  issueServer(name: string): Promise<IssuedCertificate>;
  remove(): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    if (failure.code === 'ENOENT') throw new Error('openssl is not installed: apt-get install openssl');
    throw new Error(`openssl ${args[0]} failed: ${failure.stderr ?? failure.message}`);
  }
}

async function createCa(dir: string, name: string): Promise<KeyPair> {
  const pair = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
  await openssl(
    ['req', '-x509', '-new', '-config', 'openssl.cnf', '-extensions', 'ca_ext', ...EC_KEY,
      '-keyout', pair.keyFile, '-out', pair.certFile, '-days', '2', '-subj', `/CN=otel-agent test ${name}`],
    dir,
  );
  return pair;
}

async function issue(dir: string, ca: KeyPair, name: string, kind: 'server' | 'client'): Promise<IssuedCertificate> {
  // First byte 0x10..0x7f: positive, and no leading zero for Node to drop.
  const serialBytes = randomBytes(16);
  serialBytes[0] = 0x10 + (serialBytes[0] % 0x70);
  const serial = serialBytes.toString('hex').toUpperCase();
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const csrFile = join(dir, `${name}.csr`);
  const commonName = kind === 'server' ? 'localhost' : `otel-agent test ${name}`;
  await openssl(['req', '-new', '-config', 'openssl.cnf', ...EC_KEY, '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${commonName}`], dir);
  await openssl(
    ['x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', `0x${serial}`,
      '-days', '2', '-extfile', 'openssl.cnf', '-extensions', `${kind}_ext`, '-out', certFile],
    dir,
  );
  return { certFile, keyFile, serial };
}

export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'otel-agent-pki-'));
  await writeFile(join(dir, 'openssl.cnf'), OPENSSL_CONFIG);
  const ca = await createCa(dir, 'ca');
  const otherCa = await createCa(dir, 'other-ca');
  const [server, client, otherClient] = await Promise.all([
    issue(dir, ca, 'server', 'server'),
    issue(dir, ca, 'client', 'client'),
    issue(dir, otherCa, 'other-client', 'client'),
  ]);
  return {
    dir,
    ca,
    server,
    client,
    otherCa,
    otherClient,
    issueServer: (name) => issue(dir, ca, name, 'server'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
