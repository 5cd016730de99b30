// One rule for secrets read from files, by the config's `${file:...}` and by components that
// read a credentials file themselves (`bearer_token_file`): the line breaks an editor or
// `echo` leaves at the end are not part of the secret; everything else is kept as written.
// Prometheus trims all surrounding whitespace instead, but a space can belong to a
// password, and a token that is silently cut differs from the one the operator reads.
// This file imports nothing of ours, so every layer may depend on it.

/** The text without the line breaks (any number of `\n`, `\r\n`) at its end. */
export function withoutTrailingLineBreaks(text: string): string {
  let end = text.length;
  while (end > 0 && (text[end - 1] === '\n' || text[end - 1] === '\r')) end--;
  return text.slice(0, end);
}

/**
 * Why `token` cannot be sent as a bearer token (HTTP allows no whitespace or control
 * character in it), or undefined. The answer never quotes the token.
 */
export function bearerTokenFlaw(token: string): string | undefined {
  if (token === '') return 'it is empty';
  if (/[\s\x00-\x1f\x7f]/.test(token)) return 'it holds whitespace or a control character';
  return undefined;
}
