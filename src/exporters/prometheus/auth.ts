// HTTP authentication of /metrics: basic auth against a bcrypt hash, or a bearer token.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import bcrypt from 'bcryptjs';

export interface Authenticator {
  /** True when the `Authorization` header carries valid credentials. */
  check(authorization: string | undefined): Promise<boolean>;
  /** The `WWW-Authenticate` value sent with a 401. */
  readonly challenge: string;
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
      return match !== null && sameSecret(match[1], expected!);
    },
  };
}

/** Reads a token file: its content without surrounding whitespace, which must not be empty. */
export async function readTokenFile(path: string): Promise<string> {
  let token: string;
  try {
    token = (await readFile(path, 'utf8')).trim();
  } catch (error) {
    throw new Error(`bearer_token_file: cannot read "${path}": ${(error as Error).message}`);
  }
  if (!token) throw new Error(`bearer_token_file: "${path}" is empty`);
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

export interface BasicAuthOptions {
  /** How long a verdict for the same credentials is reused. */
  cacheTtlMs?: number;
  /** Distinct credentials remembered at once; the oldest is forgotten first. */
  cacheSize?: number;
  now?: () => number;
}

/**
 * bcrypt costs tens of milliseconds by design, and Prometheus sends the same credentials
 * every scrape: each distinct `Authorization` value is verified once and its verdict (good
 * or bad) kept briefly, keyed by a SHA-256 of the header so no password stays in memory.
 * Concurrent requests with the same header share one verification.
 */
export function basicAuthenticator(username: string, passwordHash: string, options: BasicAuthOptions = {}): Authenticator {
  const { cacheTtlMs = 60_000, cacheSize = 64, now = Date.now } = options;
  const expectedUser = digest(username);
  const verdicts = new Map<string, { expiresAt: number; verdict: Promise<boolean> }>();

  async function verify(authorization: string): Promise<boolean> {
    const match = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(authorization);
    if (!match) return false;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    // Both checks always run, so a wrong user name costs as much as a wrong password.
    const userOk = sameSecret(decoded.slice(0, colon), expectedUser);
    const passwordOk = await bcrypt.compare(decoded.slice(colon + 1), passwordHash);
    return userOk && passwordOk;
  }

  return {
    challenge: `Basic realm="${REALM}", charset="UTF-8"`,
    check(authorization) {
      if (!authorization) return Promise.resolve(false);
      const key = digest(authorization).toString('base64');
      const at = now();
      const cached = verdicts.get(key);
      if (cached && cached.expiresAt > at) return cached.verdict;
      verdicts.delete(key);
      if (verdicts.size >= cacheSize) verdicts.delete(verdicts.keys().next().value as string);
      const verdict = verify(authorization).catch(() => false);
      verdicts.set(key, { expiresAt: at + cacheTtlMs, verdict });
      return verdict;
    },
  };
}
