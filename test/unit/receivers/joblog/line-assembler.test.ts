import { describe, expect, it } from 'vitest';
import { LineAssembler } from '../../../../src/receivers/joblog/tailer.js';
import type { LineSink, RefusalReason } from '../../../../src/receivers/joblog/tailer.js';

function collector(): LineSink & { lines: string[]; refused: RefusalReason[] } {
  const lines: string[] = [];
  const refused: RefusalReason[] = [];
  return { lines, refused, line: (bytes, start, end) => lines.push(bytes.toString('utf8', start, end)), refuse: (reason) => refused.push(reason) };
}

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('LineAssembler', () => {
  it('hands on complete lines and keeps the offset just after the last one', () => {
    const sink = collector();
    const lines = new LineAssembler(100);
    lines.push(bytes('one\ntwo\nthr'), sink);
    expect(sink.lines).toEqual(['one', 'two']);
    expect(lines.offset).toBe(8);
    expect(lines.position).toBe(11);
    expect(lines.hasPartial).toBe(true);
    lines.push(bytes('ee\n'), sink);
    expect(sink.lines).toEqual(['one', 'two', 'three']);
    expect(lines.offset).toBe(14);
    expect(lines.hasPartial).toBe(false);
  });

  it('joins a line split over many chunks, and a multi-byte character split between them', () => {
    const sink = collector();
    const lines = new LineAssembler(100);
    const whole = bytes('état: réussi ✓\n');
    for (const byte of whole) lines.push(Buffer.from([byte]), sink);
    expect(sink.lines).toEqual(['état: réussi ✓']);
    expect(lines.offset).toBe(whole.length);
  });

  it('strips the carriage return of CRLF and hands on empty lines', () => {
    const sink = collector();
    const lines = new LineAssembler(100);
    lines.push(bytes('a\r\n\r\n\nb\n'), sink);
    expect(sink.lines).toEqual(['a', '', '', 'b']);
  });

  it('refuses a line over the limit once, whole or split, and keeps the lines around it', () => {
    const sink = collector();
    const lines = new LineAssembler(5);
    lines.push(bytes('12345\n123456\nok\n'), sink);
    expect(sink.lines).toEqual(['12345', 'ok']);
    expect(sink.refused).toEqual(['line_too_long']);

    lines.push(bytes('abc'), sink);
    lines.push(bytes('defgh'), sink); // now 8 bytes pending: refused, discarded to its newline
    lines.push(bytes('ijklmnop'), sink);
    lines.push(bytes('q\nafter\n'), sink);
    expect(sink.lines).toEqual(['12345', 'ok', 'after']);
    expect(sink.refused).toEqual(['line_too_long', 'line_too_long']);
    expect(lines.offset).toBe(lines.position);
  });

  it('accepts a line of exactly the limit when its CRLF is split between chunks', () => {
    const sink = collector();
    const lines = new LineAssembler(5);
    lines.push(bytes('12345\r'), sink);
    lines.push(bytes('\n'), sink);
    expect(sink.lines).toEqual(['12345']);
    expect(sink.refused).toEqual([]);
  });

  it('refuses invalid UTF-8 line by line, in a chunk and across chunks', () => {
    const sink = collector();
    const lines = new LineAssembler(100);
    lines.push(Buffer.concat([bytes('good\n'), Buffer.from([0x66, 0xff, 0x0a]), bytes('also good\n')]), sink);
    lines.push(Buffer.from([0xc3]), sink); // first byte of a two-byte character, never completed
    lines.push(bytes('x\n'), sink);
    expect(sink.lines).toEqual(['good', 'also good']);
    expect(sink.refused).toEqual(['invalid_utf8', 'invalid_utf8']);
  });

  it('flushes a partial line on demand and moves the offset past it', () => {
    const sink = collector();
    const lines = new LineAssembler(100);
    lines.push(bytes('done\npart'), sink);
    lines.flushPartial(sink);
    expect(sink.lines).toEqual(['done', 'part']);
    expect(lines.offset).toBe(9);
    expect(lines.hasPartial).toBe(false);
  });

  it('takes a newline arriving after a flushed line as that line\'s end, not as an empty line', () => {
    const sink = collector();
    const lines = new LineAssembler(100);
    lines.push(bytes('part'), sink);
    lines.flushPartial(sink);
    lines.push(bytes('\nnext\n'), sink);
    expect(sink.lines).toEqual(['part', 'next']);
    expect(lines.offset).toBe(10);

    // The same after a CRLF, and only for the first byte after the flush.
    lines.push(bytes('late'), sink);
    lines.flushPartial(sink);
    lines.push(bytes('\r\n'), sink);
    lines.push(bytes('\n'), sink);
    expect(sink.lines).toEqual(['part', 'next', 'late', '']);
    expect(lines.offset).toBe(lines.position);
  });

  it('a too-long line ended by the flush timeout is refused once; its belated newline adds nothing', () => {
    const sink = collector();
    const lines = new LineAssembler(5);
    lines.push(bytes('0123456789'), sink);
    lines.flushPartial(sink);
    lines.push(bytes('\nok\n'), sink);
    expect(sink.lines).toEqual(['ok']);
    expect(sink.refused).toEqual(['line_too_long']);
  });

  it('after a flush, a line that starts at once is a line', () => {
    const sink = collector();
    const lines = new LineAssembler(100);
    lines.push(bytes('part'), sink);
    lines.flushPartial(sink);
    lines.push(bytes('more\n'), sink);
    expect(sink.lines).toEqual(['part', 'more']);
  });

  it('after a reset inside a line, skips to its newline', () => {
    const sink = collector();
    const lines = new LineAssembler(100);
    lines.reset(40, true);
    lines.push(bytes('tail of something\nnext\n'), sink);
    expect(sink.lines).toEqual(['next']);
    expect(sink.refused).toEqual([]);
    expect(lines.offset).toBe(40 + 23);
  });
});
