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

  it('reads a file relative to the base directory, without its one trailing line break', () => {
    expect(substitute('${file:password}', env, dir)).toStrictEqual({ value: 'hunter2', fromFile: true, problems: [] });
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
