/**
 * The live agent's journal: append-only JSONL in numbered segments (`000001.jsonl`, …) in a 0700
 * directory, each segment a 0600 file.
 *
 * - Group commit. `append` only buffers; `flush` writes the whole batch with one write and one
 *   fsync. The agent flushes before it answers a batch of requests, so every decision a client
 *   has seen is durable, at the cost of one fsync per batch rather than one per line.
 * - A new segment per open. A crashed run may leave a torn last line; the next run never appends
 *   after it, so a torn line is always the last line of its own segment and the reader can tell a
 *   crash (skip the tail) from corruption (a bad line in the middle: refuse to guess).
 * - Numbered segments, never renamed (unlike logrotate's `.1` → `.2`). A reader listing the
 *   directory sees the order the lines were written in, even while we rotate under it; retention
 *   only ever deletes the lowest numbers.
 */
import { closeSync, constants, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';

const MiB = 1024 * 1024;
/** A line longer than this is a bug in the caller (a whole trace in one entry), not a journal entry. */
export const MAX_LINE_BYTES = 16 * MiB;
const SEGMENT = /^(\d{6,})\.jsonl$/;

export interface JournalOptions {
  /** Rotate once the current segment reaches this size (checked after each flush). */
  max_bytes?: number;
  /** Segments kept after a rotation or an open, the current one included. */
  keep?: number;
}

export interface JournalRead {
  entries: unknown[];
  segments: string[];
  problems: string[];
}

function segmentName(n: number): string {
  return `${String(n).padStart(6, '0')}.jsonl`;
}

/** Segment numbers in `dir`, ascending; other files are not ours and are ignored. */
function segmentNumbers(dir: string): number[] {
  return readdirSync(dir)
    .map((name) => SEGMENT.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** Make the directory entry of a just-created file survive a power cut. */
function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class Journal {
  private fd = -1;
  private number = 0;
  private segment_bytes = 0;
  private pending: string[] = [];
  private closed = false;
  /** A failed write or fsync is not retried: after a failed fsync the kernel may already have
   * dropped the dirty pages (PostgreSQL's "fsyncgate"), so a retry could claim durability that
   * does not exist. The journal refuses all further work and the agent must restart. */
  private failure: unknown = undefined;
  private batch_count = 0;
  private byte_count = 0;
  private entry_count = 0;

  private constructor(
    readonly dir: string,
    private readonly max_bytes: number,
    private readonly keep: number,
  ) {}

  static open(dir: string, opts: JournalOptions = {}): Journal {
    const max_bytes = opts.max_bytes ?? 64 * MiB;
    const keep = opts.keep ?? 8;
    if (!Number.isInteger(max_bytes) || max_bytes < 1) throw new Error(`journal max_bytes must be a positive integer, got ${max_bytes}`);
    if (!Number.isInteger(keep) || keep < 1) throw new Error(`journal keep must be a positive integer, got ${keep}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const journal = new Journal(dir, max_bytes, keep);
    journal.startSegment((segmentNumbers(dir).at(-1) ?? 0) + 1);
    // Pruned on open too: an agent restarted often but writing little never rotates.
    journal.prune();
    return journal;
  }

  get segment(): string {
    return join(this.dir, segmentName(this.number));
  }
  get batches(): number {
    return this.batch_count;
  }
  get bytes_written(): number {
    return this.byte_count;
  }
  /** Entries written and fsynced (appended but not yet flushed ones are not counted). */
  get entries(): number {
    return this.entry_count;
  }

  append(entry: object): void {
    this.usable();
    const json: unknown = JSON.stringify(entry);
    if (typeof json !== 'string') throw new Error('journal entry does not serialise to JSON');
    const line = `${json}\n`;
    const line_bytes = Buffer.byteLength(line);
    if (line_bytes > MAX_LINE_BYTES) throw new Error(`journal entry of ${line_bytes} bytes exceeds the ${MAX_LINE_BYTES}-byte line limit`);
    this.pending.push(line);
  }

  flush(): void {
    if (!this.writeBatch() || this.segment_bytes < this.max_bytes) return;
    // The batch is already durable, so a failed rotation must not throw here (the caller would
    // think the batch lost); it poisons the journal and surfaces on the next append or flush.
    try {
      closeSync(this.fd);
      this.fd = -1;
      this.startSegment(this.number + 1);
      this.prune();
    } catch (err) {
      this.failure = err;
    }
  }

  /** Flushes without rotating: a rotation at close would only leave an empty segment behind. */
  close(): void {
    if (this.closed) return;
    try {
      if (this.failure === undefined) this.writeBatch();
    } finally {
      this.closed = true;
      if (this.fd >= 0) closeSync(this.fd);
      this.fd = -1;
    }
  }

  /** Write and fsync the buffered lines; false if there were none. */
  private writeBatch(): boolean {
    this.usable();
    if (this.pending.length === 0) return false;
    const data = Buffer.from(this.pending.join(''));
    try {
      // One write per batch; the loop only covers a short write (disk full mid-write, then ENOSPC).
      for (let off = 0; off < data.length; ) off += writeSync(this.fd, data, off, data.length - off);
      fsyncSync(this.fd);
    } catch (err) {
      this.failure = err;
      throw err;
    }
    this.segment_bytes += data.length;
    this.byte_count += data.length;
    this.entry_count += this.pending.length;
    this.batch_count += 1;
    this.pending = [];
    return true;
  }

  private usable(): void {
    if (this.closed) throw new Error(`journal ${this.dir} is closed`);
    if (this.failure !== undefined) throw new Error(`journal ${this.dir} failed earlier and accepts no more entries: ${String(this.failure)}`);
  }

  /** O_EXCL: never append to an existing file; if another process took the number, take the next. */
  private startSegment(first: number): void {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND;
    for (this.number = first; ; this.number++) {
      try {
        this.fd = openSync(this.segment, flags, 0o600);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    this.segment_bytes = 0;
    fsyncDir(this.dir);
  }

  /** Delete the oldest segments beyond `keep`. Only lower numbers than ours, never the current one. */
  private prune(): void {
    const older = segmentNumbers(this.dir).filter((n) => n < this.number);
    // force: a reader or a second writer may have removed it already.
    for (const n of older.slice(0, Math.max(0, older.length - (this.keep - 1)))) rmSync(join(this.dir, segmentName(n)), { force: true });
  }
}

/**
 * Read one segment file, or every segment of a journal directory in numeric order. A bad last line
 * of a segment is a crash's torn write: skipped and reported in `problems`. A bad line anywhere
 * else is corruption and throws, naming file:line.
 */
export function readJournal(pathOrDir: string): JournalRead {
  let isDir: boolean;
  try {
    isDir = statSync(pathOrDir).isDirectory();
  } catch (err) {
    throw new Error(`journal ${pathOrDir} cannot be read: ${(err as Error).message}`);
  }
  const segments = isDir ? segmentNumbers(pathOrDir).map((n) => join(pathOrDir, segmentName(n))) : [pathOrDir];
  const out: JournalRead = { entries: [], segments, problems: [] };
  if (segments.length === 0) out.problems.push(`no journal segments in ${pathOrDir}`);
  for (const file of segments) readSegment(file, out);
  return out;
}

function readSegment(file: string, out: JournalRead): void {
  // Bytes, not a string: a torn write may end inside a UTF-8 sequence, and the problem reports bytes.
  const data = readFileSync(file);
  let line_no = 0;
  for (let start = 0; start < data.length; ) {
    line_no++;
    const nl = data.indexOf(0x0a, start);
    const end = nl < 0 ? data.length : nl;
    const next = nl < 0 ? end : nl + 1;
    const last = next >= data.length;
    let parsed: unknown;
    let error: string | undefined;
    try {
      parsed = JSON.parse(data.subarray(start, end).toString('utf8'));
    } catch (err) {
      error = (err as Error).message;
    }
    if (last && (nl < 0 || error !== undefined)) {
      out.problems.push(`${basename(file)}:${line_no}: torn last line (${end - start} bytes) skipped — written during a crash`);
    } else if (error !== undefined) {
      throw new Error(`${file}:${line_no}: corrupt journal line in the middle of a segment (not a crash's torn tail): ${error}`);
    } else {
      out.entries.push(parsed);
    }
    start = next;
  }
}
