// A logfmt line read from its bytes for the fields a config uses, and no others.
//
// `parseLogfmtLine` needs the line as a string and makes a key and a value string of every
// pair, though a config reads three or four fields. This scanner walks the line's bytes with
// the same grammar, compares each key in place with the wanted names, and makes strings only
// of the wanted fields' values, with the text `parseLogfmtLine` gives them.
//
// Every line it would refuse (an unterminated quote, a quote in a key, a `=` with no key, text
// after a closing quote, no pair at all) goes to `fallback`, the full parser, which gives the
// refusal: the outcome for every line, refusal or record, is exactly the full parser's.
import type { EventRecord } from './mapping/index.js';
import { afterByteOrderMark, FieldTexts, NameTable, propertyKey, SharedTexts } from './texts.js';

const SPACE = 0x20;
const TAB = 0x09;
const EQUALS = 0x3d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const CARRIAGE_RETURN = 0x0d;

/** A name the scanner looks for. */
interface Target {
  readonly name: string;
  /** The name as UTF-8, compared with keys in place. */
  readonly bytes: Buffer;
  readonly texts: FieldTexts;
}

/** The text of `\` and the character `code` in a quoted logfmt value; undefined: an unknown escape, kept as written. */
export function escapeText(code: number): string | undefined {
  switch (code) {
    case 0x6e: // n
      return '\n';
    case 0x74: // t
      return '\t';
    case 0x72: // r
      return '\r';
    case QUOTE:
      return '"';
    case BACKSLASH:
      return '\\';
    default:
      return undefined;
  }
}

export class LogfmtFieldScanner<Refusal extends string> {
  /** The wanted fields, found by a key's bytes, ASCII or not. */
  private readonly names = new NameTable<Target>();
  private readonly texts = new SharedTexts();

  /**
   * @param fields the field names records must have when the line has them
   * @param fallback the full parser, for every line this scanner refuses
   * @param newRecord an empty record, as the full parser makes them
   */
  constructor(
    fields: Iterable<string>,
    private readonly fallback: (line: string) => EventRecord | Refusal,
    private readonly newRecord: () => Record<string, string>,
  ) {
    for (const name of new Set(fields)) {
      const bytes = Buffer.from(name);
      // A name with a lone surrogate is no decoded key's text: it is never in a record.
      if (bytes.toString() !== name) continue;
      const target: Target = { name: propertyKey(name), bytes, texts: new FieldTexts(this.texts) };
      this.names.add(target);
    }
  }

  /** The record of the line in `bytes` from `start` to `end` (no newline), or the fallback's outcome. */
  parse(bytes: Buffer, start: number, end: number): EventRecord | Refusal {
    // As the full parser strips them: a leading byte order mark, a trailing CR.
    let at = afterByteOrderMark(bytes, start, end);
    let lineEnd = end;
    if (lineEnd > at && bytes[lineEnd - 1] === CARRIAGE_RETURN) lineEnd--;
    const record = this.newRecord();
    let pairs = 0;
    while (at < lineEnd) {
      let code = bytes[at];
      if (code === SPACE || code === TAB) {
        at++;
        continue;
      }
      const keyStart = at;
      while (at < lineEnd) {
        code = bytes[at];
        // Most key bytes are letters, past every byte that means something.
        if (code > EQUALS) {
          at++;
          continue;
        }
        if (code === EQUALS || code === SPACE || code === TAB) break;
        if (code === QUOTE) return this.refused(bytes, start, end);
        at++;
      }
      if (at === keyStart) return this.refused(bytes, start, end);
      const target = this.names.find(bytes, keyStart, at);
      pairs++;
      if (at === lineEnd || code !== EQUALS) {
        // A bare key.
        if (target !== undefined) record[target.name] = 'true';
        continue;
      }
      at++;
      if (at === lineEnd || bytes[at] !== QUOTE) {
        const valueStart = at;
        while (at < lineEnd) {
          code = bytes[at];
          if (code <= SPACE && (code === SPACE || code === TAB)) break;
          at++;
        }
        if (target !== undefined) record[target.name] = target.texts.text(bytes, valueStart, at);
        continue;
      }
      const valueStart = ++at;
      let escaped = false;
      for (;;) {
        if (at >= lineEnd) return this.refused(bytes, start, end);
        code = bytes[at];
        if (code === QUOTE) break;
        if (code === BACKSLASH) {
          // The next byte is taken whatever it is: a non-ASCII character's other bytes are never a quote.
          escaped = true;
          at += 2;
        } else at++;
      }
      if (target !== undefined) record[target.name] = escaped ? this.unescaped(bytes, valueStart, at) : target.texts.text(bytes, valueStart, at);
      at++;
      if (at < lineEnd) {
        code = bytes[at];
        if (code !== SPACE && code !== TAB) return this.refused(bytes, start, end);
      }
    }
    return pairs === 0 ? this.refused(bytes, start, end) : record;
  }

  /** The full parser's refusal of the line. */
  private refused(bytes: Buffer, start: number, end: number): EventRecord | Refusal {
    return this.fallback(bytes.toString('utf8', start, end));
  }

  /** A quoted value's text between its quotes, its escapes read as the full parser reads them. */
  private unescaped(bytes: Buffer, start: number, end: number): string {
    let text = '';
    let segmentStart = start;
    for (let at = start; at < end; at++) {
      if (bytes[at] !== BACKSLASH) continue;
      const escape = escapeText(bytes[at + 1]);
      at++;
      if (escape === undefined) continue;
      text += bytes.toString('utf8', segmentStart, at - 1) + escape;
      segmentStart = at + 1;
    }
    return text + bytes.toString('utf8', segmentStart, end);
  }
}
