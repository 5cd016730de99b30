// A redis-server of the test's own, on a free loopback port (and, when asked, a TLS port and a
// unix socket), in a temp directory; stopped by PID. `restart()` starts it again on the same
// ports, as a new run (a new run_id, uptime from zero).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const run = promisify(execFile);

export interface RedisServerOptions {
  password?: string;
  /** Serve TLS on a second port with these files; clients must show a certificate `ca` signed. */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** Also listen on a unix socket in the temp directory. */
  unixSocket?: boolean;
}

export interface RedisServer {
  port: number;
  tlsPort?: number;
  socketPath?: string;
  readonly pid: number | undefined;
  /** redis-cli against the plain port, with the password; stdout, trimmed. */
  cli(...args: string[]): Promise<string>;
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and removes its directory. */
  remove(): Promise<void>;
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'otel-agent-redis-'));
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : undefined;
  const socketPath = options.unixSocket ? join(dir, 'redis.sock') : undefined;
  let child: ChildProcess | undefined;

  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--enable-debug-command', 'local'];
  if (options.password !== undefined) args.push('--requirepass', options.password);
  if (options.tls) {
    args.push('--tls-port', String(tlsPort), '--tls-cert-file', options.tls.certFile, '--tls-key-file', options.tls.keyFile, '--tls-ca-cert-file', options.tls.caFile, '--tls-auth-clients', 'yes');
  }
  if (socketPath) args.push('--unixsocket', socketPath, '--unixsocketperm', '700');

  const server: RedisServer = {
    port,
    tlsPort,
    socketPath,
    get pid() {
      return child?.pid;
    },
    async cli(...command: string[]) {
      const auth = options.password !== undefined ? ['-a', options.password, '--no-auth-warning'] : [];
      const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...auth, ...command], { maxBuffer: 64 * 1024 * 1024 });
      return stdout.trim();
    },
    async start() {
      if (child) return;
      const started = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = started;
      let output = '';
      await new Promise<void>((resolve, reject) => {
        const onData = (data: Buffer) => {
          output += data.toString();
          if (output.includes('Ready to accept connections')) {
            started.stdout!.off('data', onData);
            started.stdout!.resume();
            resolve();
          }
        };
        started.stdout!.on('data', onData);
        started.stderr!.resume();
        started.once('exit', (code) => reject(new Error(`redis-server exited with ${code} before it was ready: ${output.slice(-500)}`)));
      });
      started.once('exit', () => {
        if (child === started) child = undefined;
      });
    },
    async stop() {
      const running = child;
      if (!running || running.exitCode !== null) {
        child = undefined;
        return;
      }
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
      child = undefined;
    },
    async restart() {
      await server.stop();
      await server.start();
    },
    async remove() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await server.start();
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return server;
}
