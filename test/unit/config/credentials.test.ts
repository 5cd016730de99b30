import { describe, expect, it } from 'vitest';
import { bearerTokenFlaw, withoutTrailingLineBreaks } from '../../../src/component/credentials.js';

describe('the rule for secrets read from files', () => {
  it.each([
    ['one \\n', 'tok3n\n', 'tok3n'],
    ['several \\n', 'tok3n\n\n\n', 'tok3n'],
    ['\\r\\n pairs', 'tok3n\r\n\r\n', 'tok3n'],
    ['no line break', 'tok3n', 'tok3n'],
    ['spaces kept', ' pass phrase \n', ' pass phrase '],
    ['inner line breaks kept', 'a\nb\n', 'a\nb'],
    ['only line breaks', '\n\n', ''],
  ])('%s', (_case, text, expected) => {
    expect(withoutTrailingLineBreaks(text)).toBe(expected);
  });

  it('finds what keeps a bearer token from being sent, without quoting it', () => {
    expect(bearerTokenFlaw('abc.DEF-123_~+/=')).toBeUndefined();
    expect(bearerTokenFlaw('')).toBe('it is empty');
    for (const token of ['two words', 'line\nbreak', 'tab\there', 'nul\0byte', 'del\x7f', ' leading']) {
      expect(bearerTokenFlaw(token)).toBe('it holds whitespace or a control character');
    }
  });
});
