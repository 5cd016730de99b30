// Strings kept for long (series attributes, open pairs) must not hold on to the text they
// were cut from. V8 makes a slice of 13 characters or more a view into its parent string: a
// regex capture from a line cut out of a decoded 64 KiB chunk keeps the whole chunk alive for
// as long as the capture lives.

/** Below this length V8 copies a slice's characters instead of pointing into its parent. */
const SLICE_VIEW_MIN_LENGTH = 13;

/**
 * The text, holding its own characters. Concatenation then a slice makes V8 flatten the
 * pair into a new string, whose slice no longer points into the original parent.
 */
export function ownCopy(text: string): string {
  return text.length < SLICE_VIEW_MIN_LENGTH ? text : (' ' + text).slice(1);
}
