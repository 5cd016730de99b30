// A record's time from one of its fields: ISO 8601 read by hand, or seconds or milliseconds
// since the epoch. Every parser returns milliseconds since the epoch, or NaN; none throws.
import { parseNumber } from './mapping/index.js';

/** `iso8601`: `2026-01-05T08:43:16.250+01:00`, `2026-01-05 08:43:16Z`; `unix`: seconds; `unix_ms`: milliseconds. */
export const TIMESTAMP_FORMATS = ['iso8601', 'unix', 'unix_ms'] as const;
export type TimestampFormat = (typeof TIMESTAMP_FORMATS)[number];

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** The number written by `count` digits at `at`, or NaN. */
function digits(text: string, at: number, count: number): number {
  let number = 0;
  for (let i = at; i < at + count; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (!(digit >= 0 && digit <= 9)) return NaN;
    number = number * 10 + digit;
  }
  return number;
}

/**
 * ISO 8601 date and time, `T` or a space between them, seconds and fraction optional, `Z` or
 * an offset (`+01:00`, `+0100`, `+01`). Without an offset the time is the host's local time,
 * as the writer of the log most likely meant. Milliseconds since the epoch, or NaN.
 * Read by hand: a regex with its eleven groups cost a third of a JSON line's parsing.
 */
export function parseIso8601(text: string): number {
  const length = text.length;
  if (length < 16 || text.charCodeAt(4) !== 0x2d || text.charCodeAt(7) !== 0x2d || text.charCodeAt(13) !== 0x3a) return NaN;
  const separator = text.charCodeAt(10);
  if (separator !== 0x54 && separator !== 0x74 && separator !== 0x20) return NaN; // T t space
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  let at = 16;
  let second = 0;
  let millisecond = 0;
  if (text.charCodeAt(at) === 0x3a) {
    second = digits(text, at + 1, 2);
    at += 3;
    const mark = text.charCodeAt(at);
    if (mark === 0x2e || mark === 0x2c) {
      // Fractions beyond milliseconds are cut, not rounded.
      const fractionStart = ++at;
      while (at < length && text.charCodeAt(at) >= 0x30 && text.charCodeAt(at) <= 0x39) at++;
      if (at === fractionStart) return NaN;
      const kept = Math.min(at - fractionStart, 3);
      millisecond = digits(text, fractionStart, kept) * 10 ** (3 - kept);
    }
  }
  // NaN fails every comparison, so a bad digit anywhere above ends here.
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= DAYS_IN_MONTH[month - 1] && hour <= 23 && minute <= 59 && second <= 60)) {
    return NaN;
  }
  if (month === 2 && day === 29 && !isLeapYear(year)) return NaN;
  if (at === length) return new Date(year, month - 1, day, hour, minute, second, millisecond).getTime();
  // Second 60 is a leap second: it reads as the next minute's first, as Date does.
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, millisecond);
  const zone = text.charCodeAt(at);
  if (zone === 0x5a || zone === 0x7a) return at + 1 === length ? utc : NaN; // Z z
  if (zone !== 0x2b && zone !== 0x2d) return NaN; // + -
  const offsetHours = digits(text, at + 1, 2);
  let offsetMinutes = 0;
  const rest = length - (at + 3);
  if (rest === 3 && text.charCodeAt(at + 3) === 0x3a) offsetMinutes = digits(text, at + 4, 2);
  else if (rest === 2) offsetMinutes = digits(text, at + 3, 2);
  else if (rest !== 0) return NaN;
  if (!(offsetHours <= 23 && offsetMinutes <= 59)) return NaN;
  const offsetMs = (offsetHours * 60 + offsetMinutes) * 60_000;
  return zone === 0x2b ? utc - offsetMs : utc + offsetMs;
}

/** A timestamp field's text in milliseconds since the epoch, or NaN. */
export function timestampParser(format: TimestampFormat): (text: string) => number {
  switch (format) {
    case 'iso8601':
      return parseIso8601;
    case 'unix':
      return (text) => parseNumber(text) * 1000;
    case 'unix_ms':
      return parseNumber;
  }
}
