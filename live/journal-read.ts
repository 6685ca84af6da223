/**
 * Reading a journal back: one segment file, or every segment of a directory in numeric order,
 * streamed line by line so memory stays bounded by the longest line, not the journal.
 *
 * Each line is checked (journal-line.ts). An unterminated last line that could be the start of a
 * line is a crash's torn write: skipped, and noted. Anything else that does not check — a changed
 * byte, a lost or moved line, a line too long, something that is not a regular file — is damage:
 * reported as `file:line: what`, never thrown mid-way, so every bad line of a journal is listed.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_JSON_DEPTH, nestingTooDeep } from '../formats/json.ts';
import { couldBeTorn, decodeLine, MAX_LINE_BYTES, segmentName, segmentNumbers } from './journal-line.ts';

/** More entries than this is no journal the agent wrote (8 segments of 64 MiB hold about 5 million). */
export const MAX_JOURNAL_ENTRIES = 20_000_000;
/** More segments than this is no journal the agent wrote (config `journal.keep` is at most 10,000). */
export const MAX_JOURNAL_SEGMENTS = 10_000;
/** Damage reports kept; the rest are counted (a wrecked file would otherwise print a line per line). */
const MAX_REPORTED = 50;
const CHUNK_BYTES = 1024 * 1024;

export interface ScanSink {
  /** A checked entry (a JSON object) and where it was: `file:line`. */
  entry(entry: Record<string, unknown>, where: string): void;
  /** A line that could not be read: entries after it may depend on it. */
  damage?(where: string): void;
}

export interface ScanResult {
  segments: string[];
  entries: number;
  /** Damage, `file:line: what` (the first MAX_REPORTED, then a count). Empty when the journal is whole. */
  errors: string[];
  /** Crash artefacts (torn last lines): expected after a crash, not damage. */
  notes: string[];
}

interface Line {
  line_no: number;
  /** undefined when the line was longer than MAX_LINE_BYTES (then `bytes_seen` says how long). */
  bytes: Buffer | undefined;
  bytes_seen: number;
  terminated: boolean;
}

/** Lines of an open file, each bounded by MAX_LINE_BYTES (a longer one is measured, not kept). */
function* linesOf(fd: number): Generator<Line> {
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  let parts: Buffer[] = [];
  let seen = 0;
  let line_no = 1;
  for (let n = readSync(fd, chunk, 0, CHUNK_BYTES, null); n > 0; n = readSync(fd, chunk, 0, CHUNK_BYTES, null)) {
    for (let start = 0; start < n; ) {
      const found = chunk.indexOf(0x0a, start);
      const end = found >= 0 && found < n ? found : n;
      if (seen + end - start <= MAX_LINE_BYTES) parts.push(Buffer.from(chunk.subarray(start, end)));
      else parts = [];
      seen += end - start;
      if (end === n) break;
      yield {
        line_no,
        bytes: seen <= MAX_LINE_BYTES ? Buffer.concat(parts) : undefined,
        bytes_seen: seen,
        terminated: true,
      };
      parts = [];
      seen = 0;
      line_no++;
      start = end + 1;
    }
  }
  if (seen > 0)
    yield {
      line_no,
      bytes: seen <= MAX_LINE_BYTES ? Buffer.concat(parts) : undefined,
      bytes_seen: seen,
      terminated: false,
    };
}

class Scan {
  readonly result: ScanResult;
  private unreported = 0;

  constructor(
    segments: string[],
    private readonly sink: ScanSink,
  ) {
    this.result = { segments, entries: 0, errors: [], notes: [] };
  }

  error(where: string, what: string): void {
    if (this.result.errors.length < MAX_REPORTED) this.result.errors.push(`${where}: ${what}`);
    else this.unreported++;
    this.sink.damage?.(where);
  }

  finish(): ScanResult {
    if (this.unreported) this.result.errors.push(`… and ${this.unreported} more damaged lines`);
    return this.result;
  }

  /** False once the entry limit is reached: stop reading. */
  segment(file: string): boolean {
    let fd: number;
    try {
      // O_NONBLOCK: a FIFO named like a segment must not hang the reader on open.
      fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      this.error(file, `cannot be read: ${(err as Error).message}`);
      return true;
    }
    try {
      if (!fstatSync(fd).isFile()) {
        this.error(file, 'not a regular file');
        return true;
      }
      return this.lines(file, fd);
    } catch (err) {
      this.error(file, `cannot be read: ${(err as Error).message}`);
      return true;
    } finally {
      closeSync(fd);
    }
  }

  private lines(file: string, fd: number): boolean {
    let chain = 0;
    for (const l of linesOf(fd)) {
      const where = `${file}:${l.line_no}`;
      if (!l.terminated) {
        const tail = l.bytes ?? Buffer.alloc(0);
        if (l.bytes && couldBeTorn(tail))
          this.result.notes.push(`${where}: torn last line (${l.bytes_seen} bytes) skipped — written during a crash`);
        else this.error(where, `unterminated last line of ${l.bytes_seen} bytes that is not the start of an entry`);
        break;
      }
      if (!l.bytes) {
        this.error(where, `line of ${l.bytes_seen} bytes, longer than the ${MAX_LINE_BYTES}-byte limit`);
        continue;
      }
      const d = decodeLine(l.bytes, chain);
      if (!d.ok) {
        this.error(where, d.what);
        if (d.chk !== undefined) chain = d.chk; // carry on from the check the line claims: one bad line, one report
        continue;
      }
      chain = d.chk;
      const entry = this.parse(d.body, where);
      if (entry === undefined) continue;
      if (++this.result.entries > MAX_JOURNAL_ENTRIES) {
        this.error(
          where,
          `more than ${MAX_JOURNAL_ENTRIES} entries: not a journal this agent wrote; reading stopped here`,
        );
        return false;
      }
      this.sink.entry(entry, where);
    }
    return true;
  }

  private parse(body: string, where: string): Record<string, unknown> | undefined {
    const deep = nestingTooDeep(body, MAX_JSON_DEPTH);
    if (deep) return void this.error(where, `nests deeper than ${MAX_JSON_DEPTH} levels (column ${deep.offset + 1})`);
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (err) {
      return void this.error(where, `not JSON: ${(err as Error).message}`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      return void this.error(where, 'not a JSON object');
    return value as Record<string, unknown>;
  }
}

/**
 * Stream every entry of a segment file or a journal directory into `sink`. Throws only when the
 * path itself cannot be read (missing, not a file or directory); damage inside is in `errors`.
 */
export function scanJournal(pathOrDir: string, sink: ScanSink): ScanResult {
  let isDir: boolean;
  try {
    const st = statSync(pathOrDir);
    if (!st.isDirectory() && !st.isFile()) throw new Error('not a directory or a regular file');
    isDir = st.isDirectory();
  } catch (err) {
    throw new Error(`journal ${pathOrDir} cannot be read: ${(err as Error).message}`);
  }
  const numbers = isDir ? segmentNumbers(pathOrDir) : [];
  const segments = isDir
    ? numbers.slice(0, MAX_JOURNAL_SEGMENTS).map((n) => join(pathOrDir, segmentName(n)))
    : [pathOrDir];
  const scan = new Scan(segments, sink);
  if (numbers.length > MAX_JOURNAL_SEGMENTS)
    scan.error(
      pathOrDir,
      `${numbers.length} segments, more than ${MAX_JOURNAL_SEGMENTS}: not a journal this agent wrote; nothing read`,
    );
  else for (const file of segments) if (!scan.segment(file)) break;
  return scan.finish();
}

export interface JournalRead {
  entries: unknown[];
  segments: string[];
  /** Torn last lines skipped (crash artefacts); "no journal segments in DIR" for an empty directory. */
  problems: string[];
}

/** Every entry in memory (tests, small journals); throws listing the damage when there is any. */
export function readJournal(pathOrDir: string): JournalRead {
  const entries: unknown[] = [];
  const r = scanJournal(pathOrDir, { entry: (e) => entries.push(e) });
  if (r.errors.length) throw new Error(`journal ${pathOrDir} is damaged:\n${r.errors.join('\n')}`);
  const problems = r.segments.length === 0 ? [`no journal segments in ${pathOrDir}`] : r.notes;
  return { entries, segments: r.segments, problems };
}
