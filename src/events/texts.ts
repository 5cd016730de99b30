// What the byte scanners of log lines share: the few strings they keep, made cheaply, and the
// names they look for, compared with a line's keys in place.

/** Texts up to this many bytes are looked up among those made before. */
const MAX_SHARED_TEXT_BYTES = 32;
/** Texts up to this many bytes are known exactly by three numbers of 4 ASCII characters each, without a compare. */
const EXACT_TEXT_BYTES = 12;
/** Slots of the table of texts made before: a power of two. */
const SHARED_TEXT_SLOTS = 1024;

/**
 * The strings of short ASCII texts, made once and handed out again for the same bytes: the
 * same few statuses and operations fill most lines, and a string met before costs a look at
 * a table instead of a decode, and is already hashed for the maps it is looked up in next.
 * A table of fixed size, a text per slot: a new text takes the slot of the one it collides with.
 */
export class SharedTexts {
  private readonly texts: Array<string | undefined> = new Array<string | undefined>(SHARED_TEXT_SLOTS).fill(undefined);
  // A text's first twelve characters, 7 bits each, four to a number; and its length.
  private readonly first = new Int32Array(SHARED_TEXT_SLOTS);
  private readonly second = new Int32Array(SHARED_TEXT_SLOTS);
  private readonly third = new Int32Array(SHARED_TEXT_SLOTS);
  private readonly lengths = new Int32Array(SHARED_TEXT_SLOTS);

  text(bytes: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length > MAX_SHARED_TEXT_BYTES) return bytes.toString('utf8', start, end);
    let first = 0;
    let second = 0;
    let third = 0;
    let rest = 0;
    for (let i = 0; i < length; i++) {
      const code = bytes[start + i];
      if (code >= 0x80) return bytes.toString('utf8', start, end);
      if (i < 4) first = (first << 7) | code;
      else if (i < 8) second = (second << 7) | code;
      else if (i < EXACT_TEXT_BYTES) third = (third << 7) | code;
      else rest = (Math.imul(rest, 31) + code) | 0;
    }
    const slot = (first ^ Math.imul(second, 0x9e3779b1) ^ Math.imul(third ^ rest, 0x85ebca6b) ^ length) & (SHARED_TEXT_SLOTS - 1);
    const known = this.texts[slot];
    if (
      known !== undefined &&
      this.lengths[slot] === length &&
      this.first[slot] === first &&
      this.second[slot] === second &&
      this.third[slot] === third &&
      (length <= EXACT_TEXT_BYTES || sameText(known, bytes, start))
    ) {
      return known;
    }
    const text = asciiText(bytes, start, end);
    this.texts[slot] = text;
    this.lengths[slot] = length;
    this.first[slot] = first;
    this.second[slot] = second;
    this.third[slot] = third;
    return text;
  }
}

/**
 * ASCII bytes as a string. Short texts by `String.fromCharCode`, which costs half a Buffer
 * decode: that is a call into C++ however few its bytes.
 */
function asciiText(bytes: Buffer, start: number, end: number): string {
  switch (end - start) {
    case 0:
      return '';
    case 1:
      return String.fromCharCode(bytes[start]);
    case 2:
      return String.fromCharCode(bytes[start], bytes[start + 1]);
    case 3:
      return String.fromCharCode(bytes[start], bytes[start + 1], bytes[start + 2]);
    case 4:
      return String.fromCharCode(bytes[start], bytes[start + 1], bytes[start + 2], bytes[start + 3]);
    case 5:
      return String.fromCharCode(bytes[start], bytes[start + 1], bytes[start + 2], bytes[start + 3], bytes[start + 4]);
    case 6:
      return String.fromCharCode(bytes[start], bytes[start + 1], bytes[start + 2], bytes[start + 3], bytes[start + 4], bytes[start + 5]);
    case 7:
      return String.fromCharCode(bytes[start], bytes[start + 1], bytes[start + 2], bytes[start + 3], bytes[start + 4], bytes[start + 5], bytes[start + 6]);
    case 8:
      return String.fromCharCode(bytes[start], bytes[start + 1], bytes[start + 2], bytes[start + 3], bytes[start + 4], bytes[start + 5], bytes[start + 6], bytes[start + 7]);
    default:
      return bytes.toString('latin1', start, end);
  }
}

function sameText(text: string, bytes: Buffer, start: number): boolean {
  for (let i = EXACT_TEXT_BYTES; i < text.length; i++) if (text.charCodeAt(i) !== bytes[start + i]) return false;
  return true;
}

/** Values of a field looked at before deciding whether its texts are worth sharing. */
const SHARING_TRIAL_VALUES = 256;

/**
 * A field's value texts: looked up among texts made before while the field's values repeat.
 * A field of ever new values (a time, an id) has its texts made directly: there the lookup
 * costs more than the decode it never saves.
 */
export class FieldTexts {
  /** The texts of the field's first values; undefined once decided. */
  private trial: Set<string> | undefined = new Set<string>();
  private trialValues = 0;
  private shared = true;

  constructor(private readonly texts: SharedTexts) {}

  text(bytes: Buffer, start: number, end: number): string {
    if (!this.shared) return end - start <= MAX_SHARED_TEXT_BYTES ? plainText(bytes, start, end) : bytes.toString('utf8', start, end);
    const text = this.texts.text(bytes, start, end);
    if (this.trial !== undefined) {
      this.trial.add(text);
      if (++this.trialValues === SHARING_TRIAL_VALUES) {
        this.shared = this.trial.size <= SHARING_TRIAL_VALUES / 2;
        this.trial = undefined;
      }
    }
    return text;
  }
}

/** Short bytes as text: ASCII the quick way, anything else decoded as UTF-8. */
function plainText(bytes: Buffer, start: number, end: number): string {
  for (let i = start; i < end; i++) if (bytes[i] >= 0x80) return bytes.toString('utf8', start, end);
  return asciiText(bytes, start, end);
}

/**
 * The name as V8's own property key (an internalized string): a record field set with any
 * other string is looked up in the string table first, on every line.
 */
export function propertyKey(name: string): string {
  return Object.keys({ [name]: true })[0];
}


/** Where a line's content starts: past a leading UTF-8 byte order mark, as the full parsers strip it. */
export function afterByteOrderMark(bytes: Buffer, start: number, end: number): number {
  return end - start >= 3 && bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf ? start + 3 : start;
}

/**
 * Names a scanner looks for among a line's keys, found by comparing the key's bytes in place:
 * no key is made a string. Lines are valid UTF-8, so the same bytes are the same text.
 */
export class NameTable<T extends { readonly bytes: Buffer }> {
  private readonly byLength: T[][] = [];

  add(target: T): void {
    (this.byLength[target.bytes.length] ??= []).push(target);
  }

  /** The target whose name is the bytes from `start` to `end`, if any. */
  find(bytes: Buffer, start: number, end: number): T | undefined {
    const candidates = this.byLength[end - start];
    if (candidates === undefined) return undefined;
    next: for (let c = 0; c < candidates.length; c++) {
      const name = candidates[c].bytes;
      for (let i = 0; i < name.length; i++) if (name[i] !== bytes[start + i]) continue next;
      return candidates[c];
    }
    return undefined;
  }
}
