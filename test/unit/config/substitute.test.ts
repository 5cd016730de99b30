import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { substitute } from '../../../src/config/substitute.js';

describe('substitute', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otel-agent-substitute-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'password'), 'hunter2\r\n');
  const env = { USER_NAME: 'agent', EMPTY: '' };

  it.each([
    ['no reference', 'plain text', 'plain text'],
    ['a lone $ and a trailing $', 'pa$word$', 'pa$word$'],
    ['$$ as a literal $', 'pa$$word', 'pa$word'],
    ['$$ before a reference', '$${env:USER_NAME}', '${env:USER_NAME}'],
    ['a set variable', 'user=${env:USER_NAME}', 'user=agent'],
    ['an empty variable without default', '[${env:EMPTY}]', '[]'],
    ['a default for an empty variable', '${env:EMPTY:-fallback}', 'fallback'],
    ['a default for an unset variable', '${env:UNSET:-a:b}', 'a:b'],
    ['an empty default', '${env:UNSET:-}', ''],
    ['two references', '${env:USER_NAME}/${env:UNSET:-x}', 'agent/x'],
  ])('%s', (_case, text, expected) => {
    expect(substitute(text, env, dir)).toStrictEqual({ value: expected, fromFile: false, problems: [] });
  });

  it('reads a file relative to the base directory, without its trailing line break', () => {
    expect(substitute('${file:password}', env, dir)).toStrictEqual({ value: 'hunter2', fromFile: true, problems: [] });
  });

  it('removes every line break at the end of a file, and keeps spaces and inner line breaks', () => {
    writeFileSync(join(dir, 'two-breaks'), 'tok3n\n\n');
    writeFileSync(join(dir, 'crlf-breaks'), 'tok3n\r\n\r\n');
    writeFileSync(join(dir, 'spaced'), ' pass phrase \nsecond line\n');
    expect(substitute('${file:two-breaks}', env, dir).value).toBe('tok3n');
    expect(substitute('${file:crlf-breaks}', env, dir).value).toBe('tok3n');
    expect(substitute('${file:spaced}', env, dir).value).toBe(' pass phrase \nsecond line');
  });

  it('in a secret value, names no text of an unknown reference, which is likely part of the secret', () => {
    const { problems } = substitute('p@${ss-X}w0rd', env, dir, true);
    expect(problems).toEqual([
      'expected ${env:NAME}, ${env:NAME:-default} or ${file:/path} (or $$ for a literal $), found a "${" that starts no reference (not shown: secret)',
    ]);
    expect(problems.join()).not.toMatch(/ss-X|p@|w0rd/);
  });

  it('reports each unresolvable reference', () => {
    expect(substitute('${env:UNSET} ${file:/nonexistent/x} ${env:BAD-NAME} ${', env, dir).problems).toEqual([
      'environment variable UNSET is not set (write ${env:UNSET:-value} to give a default)',
      'cannot read /nonexistent/x for ${file:/nonexistent/x} (no such file)',
      'expected ${env:NAME}, ${env:NAME:-default} or ${file:/path} (or $$ for a literal $), found "${env:BAD-NAME}"',
      'unterminated "${" (write $$ for a literal $)',
    ]);
  });
});
