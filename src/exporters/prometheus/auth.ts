// HTTP authentication of /metrics: basic auth against a bcrypt hash, or a bearer token.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { bearerTokenFlaw, withoutTrailingLineBreaks } from '../../component/credentials.js';
import { readRegularFile } from '../../component/regular-file.js';

/**
 * `allowed`; `denied` (401); or `busy`: too many credentials are waiting to be verified to
 * take these on now (503, try again), decided without verifying them.
 */
export type AuthVerdict = 'allowed' | 'denied' | 'busy';

export interface Authenticator {
  check(authorization: string | undefined): Promise<AuthVerdict>;
  /** The `WWW-Authenticate` value sent with a 401. */
  readonly challenge: string;
  /** Stops what verifies credentials off the event loop, if anything does. */
  close?(): Promise<void>;
}

const REALM = 'otel-agent';

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Constant-time equality; hashing first makes the lengths equal. */
function sameSecret(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected);
}

/** Checks against `token`, or against what `token()` gives at the time of each check. */
export function bearerAuthenticator(token: string | (() => Promise<string>)): Authenticator {
  let expected = typeof token === 'string' ? digest(token) : undefined;
  let expectedFor: string | undefined;
  return {
    challenge: `Bearer realm="${REALM}"`,
    async check(authorization) {
      if (typeof token !== 'string') {
        const current = await token();
        if (current !== expectedFor) {
          expected = digest(current);
          expectedFor = current;
        }
      }
      const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
      return match !== null && sameSecret(match[1], expected!) ? 'allowed' : 'denied';
    },
  };
}

/** A token file is a few hundred bytes; anything near this is not one. */
const TOKEN_FILE_MAX_BYTES = 64 * 1024;

/**
 * Reads a token file: its content without the line breaks at its end (the rule `${file:}`
 * follows too). A token that is empty or holds whitespace is refused, never quoted. Only a
 * regular file is read: a FIFO put in its place would keep every scrape waiting.
 */
export async function readTokenFile(path: string): Promise<string> {
  let token: string;
  try {
    token = withoutTrailingLineBreaks(readRegularFile(path, TOKEN_FILE_MAX_BYTES));
  } catch (error) {
    throw new Error(`bearer_token_file: cannot read "${path}": ${(error as Error).message}`);
  }
  // Blanks alone are an emptied file (mid-rotation), not a token with a flaw.
  if (token.trim() === '') throw new Error(`bearer_token_file: "${path}" is empty`);
  const flaw = bearerTokenFlaw(token);
  if (flaw) throw new Error(`bearer_token_file: the token in "${path}" cannot be sent: ${flaw} (not shown: secret)`);
  return token;
}

export interface TokenFileEvents {
  /** A read after a failed one succeeded. */
  recovered(): void;
  /** A read failed; the previous token stays in use. Called once per distinct reason. */
  failed(reason: string): void;
}

/**
 * A bearer token file, read again when its last reading is older than `maxAgeMs`, so that a
 * rotated token is taken without a restart, as Prometheus itself re-reads its credentials
 * file. A file missing or empty for a moment (mid-rotation) keeps the token read before.
 */
export class TokenFile {
  private readAt: number;
  private reading: Promise<string> | undefined;
  private lastFailure: string | undefined;

  private constructor(
    private readonly path: string,
    private token: string,
    private readonly maxAgeMs: number,
    private readonly events: TokenFileEvents,
    private readonly now: () => number,
  ) {
    this.readAt = now();
  }

  /** The file read once: a missing or empty file here is an error to start with. */
  static async open(path: string, maxAgeMs: number, events: TokenFileEvents, now: () => number = Date.now): Promise<TokenFile> {
    return new TokenFile(path, await readTokenFile(path), maxAgeMs, events, now);
  }

  /** The token: as last read, or read again first when that reading is too old. */
  current(): Promise<string> {
    if (this.now() - this.readAt < this.maxAgeMs) return Promise.resolve(this.token);
    // Concurrent checks share one read.
    this.reading ??= this.reread().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async reread(): Promise<string> {
    try {
      this.token = await readTokenFile(this.path);
      if (this.lastFailure !== undefined) this.events.recovered();
      this.lastFailure = undefined;
    } catch (error) {
      const reason = `${(error as Error).message}; keeping the token read before`;
      if (reason !== this.lastFailure) this.events.failed(reason);
      this.lastFailure = reason;
    }
    this.readAt = this.now();
    return this.token;
  }
}

/** Compares a password with a bcrypt hash. */
export interface PasswordVerifier {
  verify(password: string, hash: string): Promise<boolean>;
  close(): Promise<void>;
}

// What each worker runs (CommonJS, given bcryptjs's path): one comparison per message, in
// the order they came, each answered with the id it was sent with.
const BCRYPT_WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptjs);
parentPort.on('message', ({ id, password, hash }) => {
  let matches = false;
  try { matches = bcrypt.compareSync(password, hash); } catch {}
  parentPort.postMessage({ id, matches });
});
`;

interface PendingComparison {
  /** The worker it was sent to. */
  slot: number;
  resolve(matches: boolean): void;
  reject(error: Error): void;
}

/**
 * bcrypt on worker threads. A comparison costs tens of milliseconds of CPU by design; on the
 * event loop each would hold up every request behind it, authorised scrapes included. A
 * worker takes its messages one at a time, so comparisons sent to a busy one wait in its
 * queue; how many are sent at once is the caller's to bound. Workers start on first use and
 * do not keep the process alive.
 */
export class BcryptWorkers implements PasswordVerifier {
  private readonly workers: Array<Worker | undefined>;
  private readonly pending = new Map<number, PendingComparison>();
  private nextId = 0;
  private closed = false;

  constructor(size = 1) {
    this.workers = new Array<Worker | undefined>(size).fill(undefined);
  }

  verify(password: string, hash: string): Promise<boolean> {
    if (this.closed) return Promise.reject(new Error('bcrypt workers closed'));
    const id = this.nextId++;
    const slot = id % this.workers.length;
    const worker = (this.workers[slot] ??= this.spawn(slot));
    return new Promise<boolean>((resolve, reject) => {
      this.pending.set(id, { slot, resolve, reject });
      worker.postMessage({ id, password, hash });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers.filter((worker): worker is Worker => worker !== undefined);
    this.workers.fill(undefined);
    this.failPending(new Error('bcrypt workers closed'));
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  private spawn(slot: number): Worker {
    const worker = new Worker(BCRYPT_WORKER_SOURCE, {
      eval: true,
      workerData: { bcryptjs: createRequire(import.meta.url).resolve('bcryptjs') },
      execArgv: [],
    });
    worker.unref();
    worker.on('message', ({ id, matches }: { id: number; matches: unknown }) => {
      const comparison = this.pending.get(id);
      this.pending.delete(id);
      comparison?.resolve(matches === true);
    });
    // A worker that fails takes what it was sent with it; the next comparison starts a new one.
    const fail = (error: Error) => {
      if (this.workers[slot] !== worker) return;
      this.workers[slot] = undefined;
      this.failPending(error, slot);
    };
    worker.on('error', (error) => fail(new Error(`bcrypt worker failed: ${error.message}`)));
    worker.on('exit', (code) => fail(new Error(`bcrypt worker exited with code ${code}`)));
    return worker;
  }

  /** Rejects the comparisons sent to `slot`, or all of them. */
  private failPending(error: Error, slot?: number): void {
    for (const [id, comparison] of this.pending) {
      if (slot !== undefined && comparison.slot !== slot) continue;
      this.pending.delete(id);
      comparison.reject(error);
    }
  }
}

export interface BasicAuthOptions {
  /** How long a refused header's verdict is reused; an accepted header's, since its last use. */
  cacheTtlMs?: number;
  /** Refused headers remembered at once; the oldest is forgotten first. */
  cacheSize?: number;
  /** Verifications that run at once (bcrypt worker threads). */
  maxConcurrentChecks?: number;
  /** Verifications that may wait for a turn; a new header beyond them is answered `busy`. */
  maxPendingChecks?: number;
  /** bcrypt on worker threads unless given (tests count and hold verifications). */
  verifier?: PasswordVerifier;
  now?: () => number;
}

/** Accepted headers remembered at once: one password, so only spellings of one header differ. */
const ACCEPTED_CACHE_SIZE = 4;

/**
 * bcrypt costs tens of milliseconds by design, and Prometheus sends the same credentials
 * every scrape: each distinct `Authorization` value is verified once, off the event loop,
 * and its verdict kept, keyed by a SHA-256 of the header so no password stays in memory.
 * Accepted and refused headers are remembered apart, so a flood of wrong passwords cannot
 * push the right one out; an accepted header stays while it keeps being used. Concurrent
 * requests with the same header share one verification. A few verifications run or wait at
 * once; a new header beyond them is `busy` at once, without bcrypt, so a flood costs a
 * bounded amount of CPU and memory and never delays an authorised scrape.
 */
export function basicAuthenticator(username: string, passwordHash: string, options: BasicAuthOptions = {}): Authenticator {
  const { cacheTtlMs = 60_000, cacheSize = 64, maxConcurrentChecks = 1, maxPendingChecks = 4, now = Date.now } = options;
  const verifier = options.verifier ?? new BcryptWorkers(maxConcurrentChecks);
  const expectedUser = digest(username);
  /** Expiry by header digest; refreshed on each use. */
  const accepted = new Map<string, number>();
  const refused = new Map<string, number>();
  const verifying = new Map<string, Promise<AuthVerdict>>();
  const waiting: Array<() => void> = [];
  let running = 0;

  function parse(authorization: string): { user: string; password: string } | undefined {
    const match = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(authorization);
    if (!match) return undefined;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }

  async function verify(credentials: { user: string; password: string }): Promise<boolean> {
    // Both checks always run, so a wrong user name costs as much as a wrong password.
    const userOk = sameSecret(credentials.user, expectedUser);
    const passwordOk = await verifier.verify(credentials.password, passwordHash);
    return userOk && passwordOk;
  }

  /** Runs `task` now when fewer than maxConcurrentChecks run, else when one ends. */
  function inTurn<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        running += 1;
        task()
          .then(resolve, reject)
          .finally(() => {
            running -= 1;
            waiting.shift()?.();
          });
      };
      if (running < maxConcurrentChecks) start();
      else waiting.push(start);
    });
  }

  function remember(cache: Map<string, number>, key: string, expiresAt: number, size: number): void {
    cache.delete(key);
    if (cache.size >= size) cache.delete(cache.keys().next().value as string);
    cache.set(key, expiresAt);
  }

  return {
    challenge: `Basic realm="${REALM}", charset="UTF-8"`,
    async check(authorization) {
      const credentials = authorization ? parse(authorization) : undefined;
      if (!credentials) return 'denied';
      const key = digest(authorization!).toString('base64');
      const at = now();
      const acceptedUntil = accepted.get(key);
      if (acceptedUntil !== undefined && acceptedUntil > at) {
        remember(accepted, key, at + cacheTtlMs, ACCEPTED_CACHE_SIZE);
        return 'allowed';
      }
      const refusedUntil = refused.get(key);
      if (refusedUntil !== undefined && refusedUntil > at) return 'denied';
      const shared = verifying.get(key);
      if (shared) return shared;
      if (running >= maxConcurrentChecks && waiting.length >= maxPendingChecks) return 'busy';
      const verdict = inTurn(() => verify(credentials)).then((ok): AuthVerdict => {
        // A failed verification (a worker that died) is not remembered: the next request tries again.
        if (ok) remember(accepted, key, now() + cacheTtlMs, ACCEPTED_CACHE_SIZE);
        else remember(refused, key, now() + cacheTtlMs, cacheSize);
        return ok ? 'allowed' : 'denied';
      });
      verifying.set(key, verdict);
      verdict.then(
        () => verifying.delete(key),
        () => verifying.delete(key),
      );
      return verdict;
    },
    close: () => verifier.close(),
  };
}
