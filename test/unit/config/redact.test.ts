import { describe, expect, it } from 'vitest';
import { isSecretKey, isSecretPath } from '../../../src/config/redact.js';

describe('isSecretKey', () => {
  it.each(['password', 'Password', 'redis_password', 'redisPassword', 'passphrase', 'token', 'bearer_token', 'client_secret',
    'secrets', 'Authorization', 'credentials', 'sasl.password', 'api_key', 'X-Api-Key', 'apikey', 'private_key', 'api_token'])('%s is a secret', (key) => {
    expect(isSecretKey(key)).toBe(true);
  });

  it.each(['password_file', 'token_file', 'cert_file', 'key_file', 'client_ca_file', 'secret_path', 'max_tokens', 'passwordless',
    'endpoint', 'keys', 'key', 'basic_auth', 'private_key_file'])('%s is not', (key) => {
    expect(isSecretKey(key)).toBe(false);
  });
});

describe('isSecretPath', () => {
  it('holds under a secret key and under a key holding credentials, at any depth', () => {
    expect(isSecretPath(['exporters', 'prometheus', 'basic_auth'])).toBe(true);
    expect(isSecretPath(['exporters', 'prometheus', 'basic_auth', 'username'])).toBe(true);
    expect(isSecretPath(['exporters', 'otlp', 'bearer_token'])).toBe(true);
    expect(isSecretPath(['receivers', 'redis', 'password', 0])).toBe(true);
  });

  it('does not hold for a location or an ordinary key', () => {
    expect(isSecretPath(['exporters', 'prometheus', 'bearer_token_file'])).toBe(false);
    expect(isSecretPath(['exporters', 'prometheus', 'auth_file'])).toBe(false);
    expect(isSecretPath(['processors', 'attributes', 'actions', 0, 'key'])).toBe(false);
  });
});
