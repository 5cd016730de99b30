// A JSON object line read from its bytes for the fields a config uses, and no others.
//
// `JSON.parse` needs the line as a string and builds every key and value of it; with the
// line's decoding that was two thirds of a JSON job log's cost, though a config reads three or
// four fields. This scanner checks the whole line against the JSON grammar as it goes, in the
// bytes the tailer read, and makes strings only of the wanted fields' values. Its records hold
// the text `parseJsonLine` gives those fields (nested names flattened as `a.b`, numbers and
// booleans as their text, arrays as JSON text, `null` as absent).
//
// Whatever the scanner does not take on its own (a line that is not an object, a key met
// twice, a key with an escape, invalid JSON, nesting too deep for its recursion) goes to
// `fallback`, the full parser, so the outcome for every line, refusal or record, is exactly
// the full parser's.
import type { EventRecord } from './mapping/index.js';
import { afterByteOrderMark, FieldTexts, NameTable, propertyKey, SharedTexts } from './texts.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_T = 0x74;
const LOWER_F = 0x66;
const LOWER_N = 0x6e;
const LOWER_U = 0x75;

/** A name the scanner looks for: a field to keep, and/or the start of nested fields to look inside. */
interface Target {
  /** Index into the per-line "seen" marks: a name met twice in one line sends it to the fallback. */
  readonly index: number;
  readonly name: string;
  /** The name as UTF-8, compared with keys in place. */
  readonly bytes: Buffer;
  /** The record keeps this name's value. */
  readonly keep: boolean;
  /** Some wanted field is `name.something`: an object here is looked into. */
  readonly descend: boolean;
  readonly texts: FieldTexts;
}

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

function isDigit(code: number): boolean {
  return code >= ZERO && code <= NINE;
}

function isHexDigit(code: number): boolean {
  return isDigit(code) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);
}

/** Thrown inside the scan and caught at its top: the line goes to the fallback. */
class NotScanned {}
const NOT_SCANNED = new NotScanned();

/**
 * True when a valid JSON number's text is already what `String(Number(text))` gives: no
 * exponent, no trailing fraction zero, not -0, at most 15 digits (so its double prints back
 * as the same digits), not below 1e-6 (printed with an exponent). Most numbers in logs are.
 */
function isShortestForm(bytes: Buffer, start: number, end: number): boolean {
  let at = start;
  const negative = bytes[at] === MINUS;
  if (negative) at++;
  let digits = 0;
  let nonZero = false;
  let leadingFractionZeros = 0;
  const wholeZero = bytes[at] === ZERO;
  for (; at < end && isDigit(bytes[at]); at++) {
    digits++;
    if (bytes[at] !== ZERO) nonZero = true;
  }
  if (at < end) {
    if (bytes[at] !== DOT || bytes[end - 1] === ZERO) return false;
    for (at++; at < end; at++) {
      const code = bytes[at];
      if (!isDigit(code)) return false;
      digits++;
      if (code !== ZERO) nonZero = true;
      else if (!nonZero) leadingFractionZeros++;
    }
    if (wholeZero && leadingFractionZeros > 5) return false;
  }
  return digits <= 15 && (nonZero || !negative);
}

export class JsonFieldScanner<Refusal extends string> {
  /** Top-level targets, found by a key's bytes. */
  private readonly topLevel = new NameTable<Target>();
  private readonly byName = new Map<string, Target>();
  /** The line number (of this scanner) in which each target was last met. */
  private readonly seenIn: Uint32Array;
  private readonly texts = new SharedTexts();
  private lineNumber = 0;
  private bytes: Buffer = Buffer.alloc(0);
  private at = 0;
  private end = 0;
  /** Whether the last string scanned held a backslash. */
  private escaped = false;

  /**
   * @param fields the flattened field names records must have when the line has them
   * @param maxDepth objects nested deeper are kept as JSON text, as the fallback does
   * @param fallback the full parser, for every line this scanner leaves
   * @param newRecord an empty record, as the full parser makes them
   */
  constructor(
    fields: Iterable<string>,
    private readonly maxDepth: number,
    private readonly fallback: (line: string) => EventRecord | Refusal,
    private readonly newRecord: () => Record<string, string | undefined>,
  ) {
    const wanted = new Set(fields);
    const names = new Set(wanted);
    for (const field of wanted) {
      for (let dot = field.indexOf('.'); dot > 0; dot = field.indexOf('.', dot + 1)) names.add(field.slice(0, dot));
    }
    let index = 0;
    for (const name of names) {
      const target: Target = {
        index: index++,
        name: propertyKey(name),
        bytes: Buffer.from(name),
        keep: wanted.has(name),
        descend: [...wanted].some((field) => field.startsWith(name + '.')),
        texts: new FieldTexts(this.texts),
      };
      this.byName.set(name, target);
      this.topLevel.add(target);
    }
    this.seenIn = new Uint32Array(index);
  }

  /** The record of the line in `bytes` from `start` to `end` (valid UTF-8, no newline), or the fallback's outcome. */
  parse(bytes: Buffer, start: number, end: number): EventRecord | Refusal {
    this.bytes = bytes;
    this.at = afterByteOrderMark(bytes, start, end);
    this.end = end;
    // 0 marks "never seen": line numbers skip it when they wrap.
    this.lineNumber = (this.lineNumber + 1) >>> 0 || 1;
    this.skipWhitespace();
    if (this.at >= end || bytes[this.at] !== OPEN_BRACE) return this.fallback(bytes.toString('utf8', start, end));
    const record = this.newRecord();
    try {
      this.scanObject(record, '', 0);
      this.skipWhitespace();
      if (this.at !== end) throw NOT_SCANNED;
    } catch (error) {
      // A stack overflow on deep nesting is left to the full parser too.
      if (error !== NOT_SCANNED && !(error instanceof RangeError)) throw error;
      return this.fallback(bytes.toString('utf8', start, end));
    }
    return record;
  }

  /** The byte at `at`, or -1 past the line's end. */
  private peek(at: number): number {
    return at < this.end ? this.bytes[at] : -1;
  }

  /** At `{`: scans the object, keeping wanted fields under `prefix` (`a.` inside `a`). */
  private scanObject(record: Record<string, string | undefined>, prefix: string, depth: number): void {
    this.at++;
    this.skipWhitespace();
    if (this.peek(this.at) === CLOSE_BRACE) {
      this.at++;
      return;
    }
    for (;;) {
      if (this.peek(this.at) !== QUOTE) throw NOT_SCANNED;
      const keyStart = ++this.at;
      const keyEnd = this.scanString();
      // A key with an escape could spell a wanted name another way: the full parser decides.
      if (this.escaped) throw NOT_SCANNED;
      this.skipWhitespace();
      if (this.peek(this.at) !== COLON) throw NOT_SCANNED;
      this.at++;
      this.skipWhitespace();
      const target =
        prefix === '' ? this.topLevel.find(this.bytes, keyStart, keyEnd) : this.byName.get(prefix + this.bytes.toString('utf8', keyStart, keyEnd));
      if (target === undefined) this.skipValue();
      else {
        // JSON.parse keeps a repeated key's last value, which may undo what its first gave (an
        // object's nested fields): such a line is left to it.
        if (this.seenIn[target.index] === this.lineNumber) throw NOT_SCANNED;
        this.seenIn[target.index] = this.lineNumber;
        this.scanWanted(record, target, depth);
      }
      this.skipWhitespace();
      const code = this.peek(this.at++);
      if (code === CLOSE_BRACE) return;
      if (code !== COMMA) throw NOT_SCANNED;
      this.skipWhitespace();
    }
  }

  /** A wanted name's value: kept as the full parser would flatten it, or looked into. */
  private scanWanted(record: Record<string, string | undefined>, target: Target, depth: number): void {
    const bytes = this.bytes;
    const start = this.at;
    const code = this.peek(start);
    if (code === QUOTE) {
      this.at++;
      const end = this.scanString();
      if (!target.keep) return;
      record[target.name] = this.escaped
        ? (JSON.parse(bytes.toString('utf8', start, end + 1)) as string)
        : target.texts.text(bytes, start + 1, end);
      return;
    }
    if (code === OPEN_BRACE && depth < this.maxDepth) {
      // An object is flattened into its fields; the name itself holds nothing.
      if (target.descend) this.scanObject(record, target.name + '.', depth + 1);
      else this.skipValue();
      return;
    }
    this.skipValue();
    if (!target.keep) return;
    const end = this.at;
    if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      // Arrays, and objects past the depth limit: the canonical JSON text, as the full parser gives it.
      record[target.name] = JSON.stringify(JSON.parse(bytes.toString('utf8', start, end)));
    } else if (code === LOWER_T) record[target.name] = 'true';
    else if (code === LOWER_F) record[target.name] = 'false';
    else if (code !== LOWER_N) {
      // `null` stays absent; a number reads as the text JSON.parse and String would give it.
      record[target.name] = isShortestForm(bytes, start, end)
        ? target.texts.text(bytes, start, end)
        : String(Number(bytes.toString('latin1', start, end)));
    }
  }

  /** Past one value of any kind, checked against the grammar; nothing kept. */
  private skipValue(): void {
    switch (this.peek(this.at)) {
      case QUOTE:
        this.at++;
        this.scanString();
        return;
      case OPEN_BRACE:
        return this.skipContainer(CLOSE_BRACE, true);
      case OPEN_BRACKET:
        return this.skipContainer(CLOSE_BRACKET, false);
      case LOWER_T:
        return this.literal(0x72, 0x75, 0x65, -2); // true
      case LOWER_F:
        return this.literal(0x61, 0x6c, 0x73, 0x65); // false
      case LOWER_N:
        return this.literal(0x75, 0x6c, 0x6c, -2); // null
      default:
        this.scanNumber();
    }
  }

  private skipContainer(close: number, keyed: boolean): void {
    this.at++;
    this.skipWhitespace();
    if (this.peek(this.at) === close) {
      this.at++;
      return;
    }
    for (;;) {
      if (keyed) {
        if (this.peek(this.at) !== QUOTE) throw NOT_SCANNED;
        this.at++;
        this.scanString();
        this.skipWhitespace();
        if (this.peek(this.at) !== COLON) throw NOT_SCANNED;
        this.at++;
        this.skipWhitespace();
      }
      this.skipValue();
      this.skipWhitespace();
      const code = this.peek(this.at++);
      if (code === close) return;
      if (code !== COMMA) throw NOT_SCANNED;
      this.skipWhitespace();
    }
  }

  /** The rest of `true`, `false` or `null` after its first letter (-2: no fourth letter). */
  private literal(second: number, third: number, fourth: number, fifth: number): void {
    const at = this.at;
    if (this.peek(at + 1) !== second || this.peek(at + 2) !== third || this.peek(at + 3) !== fourth) throw NOT_SCANNED;
    if (fifth === -2) {
      this.at = at + 4;
      return;
    }
    if (this.peek(at + 4) !== fifth) throw NOT_SCANNED;
    this.at = at + 5;
  }

  /** After an opening quote: to the closing one, whose index is returned (`at` is left past it). */
  private scanString(): number {
    const bytes = this.bytes;
    const end = this.end;
    let at = this.at;
    let escaped = false;
    for (;;) {
      if (at >= end) throw NOT_SCANNED;
      const code = bytes[at];
      if (code === QUOTE) break;
      if (code === BACKSLASH) {
        escaped = true;
        const next = at + 1 < end ? bytes[at + 1] : -1;
        if (next === LOWER_U) {
          // \uXXXX
          if (at + 6 > end) throw NOT_SCANNED;
          for (let i = at + 2; i < at + 6; i++) if (!isHexDigit(bytes[i])) throw NOT_SCANNED;
          at += 6;
          continue;
        }
        // \" \\ \/ \b \f \n \r \t
        if (next !== QUOTE && next !== BACKSLASH && next !== 0x2f && next !== 0x62 && next !== LOWER_F && next !== LOWER_N && next !== 0x72 && next !== LOWER_T) {
          throw NOT_SCANNED;
        }
        at += 2;
        continue;
      }
      if (code < 0x20) throw NOT_SCANNED;
      at++;
    }
    this.escaped = escaped;
    this.at = at + 1;
    return at;
  }

  /** `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` */
  private scanNumber(): void {
    let at = this.at;
    if (this.peek(at) === MINUS) at++;
    const first = this.peek(at);
    if (first === ZERO) at++;
    else if (first > ZERO && first <= NINE) while (isDigit(this.peek(++at)));
    else throw NOT_SCANNED;
    if (this.peek(at) === DOT) {
      if (!isDigit(this.peek(++at))) throw NOT_SCANNED;
      while (isDigit(this.peek(++at)));
    }
    const exponent = this.peek(at);
    if (exponent === 0x65 || exponent === 0x45) {
      const sign = this.peek(++at);
      if (sign === PLUS || sign === MINUS) at++;
      if (!isDigit(this.peek(at))) throw NOT_SCANNED;
      while (isDigit(this.peek(++at)));
    }
    this.at = at;
  }

  private skipWhitespace(): void {
    const bytes = this.bytes;
    const end = this.end;
    let at = this.at;
    while (at < end && isWhitespace(bytes[at])) at++;
    this.at = at;
  }
}
