// HTTP authentication of /metrics: basic auth against a bcrypt hash, or a bearer token.
import { createHash, timingSafeEqual } from 'node:crypto';
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

export function bearerAuthenticator(token: string): Authenticator {
  const expected = digest(token);
  return {
    challenge: `Bearer realm="${REALM}"`,
    async check(authorization) {
      const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
      return match !== null && sameSecret(match[1], expected);
    },
  };
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
