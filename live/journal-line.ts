/**
 * One journal line and the segment names, shared by the writer (journal.ts) and the reader
 * (journal-read.ts).
 *
 * A line is the entry's JSON with one more key, last: `"chk":"xxxxxxxx"`, the CRC-32 of every
 * entry's JSON in the segment so far, this one included (the line without the `chk` key; zlib's
 * crc32 carried from line to line). So a line still reads as plain JSON (jq, the tests), and a
 * reader detects a changed byte anywhere (the line's own check fails), a line deleted, duplicated
 * or moved within a segment (the next line's check fails), and two lines merged by a lost newline.
 * A CRC is no signature: it catches damage, not a forger with write access to the state dir.
 */
import { readdirSync } from 'node:fs';
import { crc32 } from 'node:zlib';

const MiB = 1024 * 1024;
/** A line longer than this is a bug in the caller (a whole trace in one entry), not a journal entry. */
export const MAX_LINE_BYTES = 16 * MiB;

const SEGMENT = /^(\d{6,})\.jsonl$/;
/** `"chk":"` + 8 hex digits + `"}`: the last 17 bytes of every line. */
const CHK_TAIL_BYTES = 17;
const CHK_OPEN = Buffer.from('"chk":"');
const HEX = /^[0-9a-f]{8}$/;

export function segmentName(n: number): string {
  return `${String(n).padStart(6, '0')}.jsonl`;
}

/** Segment numbers in `dir`, ascending; other files are not ours and are ignored. */
export function segmentNumbers(dir: string): number[] {
  return readdirSync(dir)
    .map((name) => SEGMENT.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** The line (with its newline) of an entry's JSON object text, and the check carried to the next. */
export function encodeLine(body: string, prev: number): { line: string; chk: number } {
  const chk = crc32(body, prev);
  const head = body === '{}' ? '{' : `${body.slice(0, -1)},`;
  return { line: `${head}"chk":"${chk.toString(16).padStart(8, '0')}"}\n`, chk };
}

export type Decoded =
  | { ok: true; body: string; chk: number }
  /** `chk`: the check the line claims, when it still has one (a reader carries on from it). */
  | { ok: false; what: string; chk?: number };

/** The check a line ends with, if it ends like a line (`…"chk":"xxxxxxxx"}`). */
function claimedCheck(line: Buffer): number | undefined {
  if (line.length < CHK_TAIL_BYTES + 1) return undefined;
  const tail = line.subarray(line.length - CHK_TAIL_BYTES);
  if (!tail.subarray(0, CHK_OPEN.length).equals(CHK_OPEN) || tail.toString('latin1', CHK_TAIL_BYTES - 2) !== '"}')
    return undefined;
  const hex = tail.toString('latin1', CHK_OPEN.length, CHK_OPEN.length + 8);
  return HEX.test(hex) ? Number.parseInt(hex, 16) : undefined;
}

/** Check one line (without its newline) against the check of the line before it. */
export function decodeLine(line: Buffer, prev: number): Decoded {
  const chk = claimedCheck(line);
  if (chk === undefined)
    return { ok: false, what: 'no "chk" check at the end of the line (damaged, or not written by fgo)' };
  const cut = line.length - CHK_TAIL_BYTES - 1; // the ',' before "chk", or the '{' of an empty entry
  const sep = line[cut];
  let bodyBytes: Buffer;
  if (cut === 0 && sep === 0x7b) bodyBytes = Buffer.from('{}');
  else if (cut > 0 && sep === 0x2c && line[0] === 0x7b)
    bodyBytes = Buffer.concat([line.subarray(0, cut), Buffer.from('}')]);
  else return { ok: false, what: 'not a JSON object ending with its "chk" check', chk };
  const want = crc32(bodyBytes, prev);
  if (want !== chk)
    return {
      ok: false,
      what: `check mismatch (line says ${hex8(chk)}, its bytes and the lines before give ${hex8(want)}): a changed, lost or moved line`,
      chk,
    };
  return { ok: true, body: bodyBytes.toString('utf8'), chk };
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

/**
 * Whether an unterminated last line can be what a crash leaves: the start of a line whose write was
 * cut short. A complete line followed by more bytes, or bytes that do not start an entry, cannot.
 */
export function couldBeTorn(tail: Buffer): boolean {
  if (tail.length === 0 || tail[0] !== 0x7b) return false;
  const at = tail.lastIndexOf(CHK_OPEN);
  // A complete check is only ever followed by the newline.
  return (
    at < 0 || at + CHK_TAIL_BYTES >= tail.length || claimedCheck(tail.subarray(0, at + CHK_TAIL_BYTES)) === undefined
  );
}
