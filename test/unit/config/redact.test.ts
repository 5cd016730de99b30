import { describe, expect, it } from 'vitest';
import { isSecretKey } from '../../../src/config/redact.js';

describe('isSecretKey', () => {
  it.each(['password', 'Password', 'redis_password', 'redisPassword', 'passphrase', 'token', 'bearer_token', 'client_secret',
    'secrets', 'Authorization', 'credentials', 'sasl.password'])('%s is a secret', (key) => {
    expect(isSecretKey(key)).toBe(true);
  });

  it.each(['password_file', 'token_file', 'cert_file', 'key_file', 'client_ca_file', 'secret_path', 'max_tokens', 'passwordless',
    'endpoint', 'keys'])('%s is not', (key) => {
    expect(isSecretKey(key)).toBe(false);
  });
});
