/**
 * The live agent's journal: append-only JSONL in numbered segments (`000001.jsonl`, …) in a 0700
 * directory, each segment a 0600 file; each line carries a check (journal-line.ts).
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
 * - A full or failing disk does not throw (see `flush`): the journal reports itself `degraded`,
 *   keeps the batch (up to MAX_WAITING_BYTES) and writes it at a later flush once it can.
 * - After `close`, `append` and `flush` are programming errors of a caller that outlived the
 *   agent (a worker exiting late): logged once and dropped, never thrown — a throw there would
 *   surface far from its cause, as an unhandled rejection in some event handler.
 */
import { fsyncDir } from '../formats/files.ts';
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { MAX_JSON_DEPTH, nestingTooDeep } from '../formats/json.ts';
import { encodeLine, MAX_LINE_BYTES, segmentName, segmentNumbers } from './journal-line.ts';

export { MAX_LINE_BYTES } from './journal-line.ts';
export { readJournal, scanJournal, type JournalRead } from './journal-read.ts';

const MiB = 1024 * 1024;
/** Entries kept in memory while the disk refuses them; beyond this they are dropped and a `gap` entry says how many. */
export const MAX_WAITING_BYTES = 64 * MiB;

export interface JournalOptions {
  /** Rotate once the current segment reaches this size (checked after each flush). */
  max_bytes?: number;
  /** Segments kept after a rotation or an open, the current one included. */
  keep?: number;
  /** Where the journal says it cannot write, and when it can again (default: stderr). */
  log?: (line: string) => void;
  /** Bytes of entries kept while the disk refuses them (default MAX_WAITING_BYTES). */
  max_waiting_bytes?: number;
}

/** Why the journal cannot write right now. */
export interface JournalTrouble {
  /** errno name (ENOSPC, EIO, EDQUOT, …) or 'ERROR' when the error had none. */
  code: string;
  op: 'open' | 'write' | 'fsync' | 'truncate';
  file: string;
  message: string;
  since_wall_ms: number;
  /** Flushes that tried and failed. */
  attempts: number;
  /** Entries waiting in memory to be written. */
  waiting_entries: number;
  /** Entries dropped because MAX_WAITING_BYTES were already waiting. */
  lost_entries: number;
  /** True when the segment could not be cut back to its last durable line: no retry until a restart. */
  stuck: boolean;
}

const errnoOf = (err: unknown): string => (err as NodeJS.ErrnoException)?.code ?? 'ERROR';

export class Journal {
  private fd = -1;
  private number = 0;
  /** Bytes of the current segment known durable: a failed batch is cut back to this. */
  private segment_bytes = 0;
  /** Running check of the current segment's lines (journal-line.ts). */
  private chain = 0;
  /** JSON texts of the entries not yet written (their lines are made at write time, on the chain). */
  private pending: string[] = [];
  private pending_bytes = 0;
  private lost = 0;
  private closed = false;
  private trouble: JournalTrouble | undefined;
  private after_close = 0;
  private batch_count = 0;
  private byte_count = 0;
  private entry_count = 0;
  private readonly log: (line: string) => void;

  private constructor(
    readonly dir: string,
    private readonly max_bytes: number,
    private readonly keep: number,
    private readonly max_waiting_bytes: number,
    log: ((line: string) => void) | undefined,
  ) {
    this.log = log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /** Throws only for bad options or a directory it cannot create; a segment it cannot create leaves it degraded. */
  static open(dir: string, opts: JournalOptions = {}): Journal {
    const max_bytes = opts.max_bytes ?? 64 * MiB;
    const keep = opts.keep ?? 8;
    if (!Number.isInteger(max_bytes) || max_bytes < 1)
      throw new Error(`journal max_bytes must be a positive integer, got ${max_bytes}`);
    if (!Number.isInteger(keep) || keep < 1) throw new Error(`journal keep must be a positive integer, got ${keep}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const max_waiting_bytes = opts.max_waiting_bytes ?? MAX_WAITING_BYTES;
    if (!Number.isInteger(max_waiting_bytes) || max_waiting_bytes < 1)
      throw new Error(`journal max_waiting_bytes must be a positive integer, got ${max_waiting_bytes}`);
    const journal = new Journal(dir, max_bytes, keep, max_waiting_bytes, opts.log);
    journal.number = (segmentNumbers(dir).at(-1) ?? 0) + 1;
    try {
      journal.startSegment(journal.number);
      // Pruned on open too: an agent restarted often but writing little never rotates.
      journal.prune();
    } catch (err) {
      journal.failed('open', err);
    }
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
  /** Why the journal cannot write, while it cannot; undefined when it writes. */
  get degraded(): Readonly<JournalTrouble> | undefined {
    return this.trouble && { ...this.trouble, waiting_entries: this.pending.length, lost_entries: this.lost };
  }
  /** Entries handed in after close (each a caller's bug; logged once). */
  get dropped_after_close(): number {
    return this.after_close;
  }

  /** Buffer an entry. Throws on an entry that is no JSON object or is too big or deep: the caller's bug. */
  append(entry: object): void {
    if (this.closed) return this.lateCaller(entry);
    const json: unknown = JSON.stringify(entry);
    if (typeof json !== 'string' || !json.startsWith('{'))
      throw new Error('journal entry does not serialise to a JSON object');
    if (Object.hasOwn(entry, 'chk'))
      throw new Error('journal entry has a "chk" key, which the journal keeps for its check');
    const line_bytes = Buffer.byteLength(json) + 19; // with its check and newline
    if (line_bytes > MAX_LINE_BYTES)
      throw new Error(`journal entry of ${line_bytes} bytes exceeds the ${MAX_LINE_BYTES}-byte line limit`);
    if (nestingTooDeep(json, MAX_JSON_DEPTH))
      throw new Error(`journal entry nests deeper than ${MAX_JSON_DEPTH} levels, which a reader refuses`);
    if (this.lost > 0 || this.pending_bytes + line_bytes > this.max_waiting_bytes) {
      // Dropping from here until the next write keeps one contiguous gap, marked where it is.
      this.lost++;
      return;
    }
    this.pending.push(json);
    this.pending_bytes += line_bytes;
  }

  /**
   * Write and fsync the buffered entries; never throws. On a failed write or fsync the segment is
   * cut back to its last durable line and the journal is `degraded`: the entries wait, and each
   * later flush tries again (after a failed fsync, in a new segment: the kernel may have dropped
   * the failed pages while marking them clean — PostgreSQL's "fsyncgate" — so the same pages are
   * never trusted again). Returns true when everything appended so far is durable.
   */
  flush(): boolean {
    if (this.closed) return this.lateCaller(undefined) ?? false;
    return this.flushBatch(true);
  }

  private flushBatch(rotate: boolean): boolean {
    if (this.trouble?.stuck) return false;
    // Nothing waiting and nothing wrong: no write. Something wrong: try, even with nothing to write
    // (a segment that could not be opened is opened now).
    if (this.pending.length === 0 && this.lost === 0 && this.trouble === undefined) return true;
    if (!this.writeBatch()) return false;
    if (rotate && this.segment_bytes >= this.max_bytes) this.rotate();
    return true;
  }

  /** Flushes without rotating; removes its segment if nothing could ever be written to it. */
  close(): void {
    if (this.closed) return;
    this.flushBatch(false); // a rotation at close would only leave an empty segment behind
    this.closed = true;
    if (this.pending.length || this.lost)
      this.log(
        `journal ${this.dir}: closing with ${this.pending.length + this.lost} entries never written (${this.trouble?.code ?? 'no segment'}): they are lost`,
      );
    if (this.fd >= 0) this.dropSegmentIfEmpty();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private lateCaller(entry: object | undefined): undefined {
    if (this.after_close++ === 0) {
      const what = entry ? `an entry ${JSON.stringify(entry).slice(0, 120)}` : 'a flush';
      this.log(
        `journal ${this.dir}: ${what} arrived after close and was dropped — a caller outlived the agent's stop (a bug; later ones are only counted)`,
      );
    }
    return undefined;
  }

  /** One attempt at writing everything waiting; false (and degraded) when it failed. */
  private writeBatch(): boolean {
    const t = this.trouble;
    if (this.fd < 0) {
      try {
        this.startSegment(this.number + (this.segment_bytes > 0 ? 1 : 0));
        this.prune();
      } catch (err) {
        return this.failed('open', err);
      }
    }
    const bodies = this.lost
      ? [...this.pending, JSON.stringify({ type: 'gap', lost_entries: this.lost })]
      : this.pending;
    let chain = this.chain;
    const data = Buffer.from(
      bodies
        .map((b) => {
          const l = encodeLine(b, chain);
          chain = l.chk;
          return l.line;
        })
        .join(''),
    );
    let op: 'write' | 'fsync' = 'write';
    try {
      // One write per batch; the loop only covers a short write (disk full mid-write, then ENOSPC).
      for (let off = 0; off < data.length; ) off += writeSync(this.fd, data, off, data.length - off);
      op = 'fsync';
      fsyncSync(this.fd);
    } catch (err) {
      return this.failed(op, err);
    }
    this.chain = chain;
    this.segment_bytes += data.length;
    this.byte_count += data.length;
    this.entry_count += bodies.length;
    if (bodies.length) this.batch_count += 1;
    this.pending = [];
    this.pending_bytes = 0;
    this.lost = 0;
    if (t) {
      this.trouble = undefined;
      this.log(
        `journal ${this.dir}: writing again (${this.segment}) after ${((Date.now() - t.since_wall_ms) / 1000).toFixed(1)} s and ${t.attempts} failed attempts; ${bodies.length} waiting entries are durable now`,
      );
    }
    return true;
  }

  /** Record a failure (logged when it starts or its errno changes) and put the segment back as it was. */
  private failed(op: JournalTrouble['op'], err: unknown): false {
    const code = errnoOf(err);
    const message = (err as Error)?.message ?? String(err);
    const prev = this.trouble;
    this.trouble = {
      code,
      op,
      file: this.segment,
      message,
      since_wall_ms: prev?.since_wall_ms ?? Date.now(),
      attempts: (prev?.attempts ?? 0) + 1,
      waiting_entries: this.pending.length,
      lost_entries: this.lost,
      stuck: false,
    };
    if (op === 'write' || op === 'fsync') this.cutBack(op);
    if (prev?.code !== code || this.trouble.stuck) {
      const then = this.trouble.stuck
        ? 'it cannot be made whole again: restart the agent once the disk is fixed'
        : 'new work is refused; retrying at every flush';
      this.log(
        `journal ${this.dir}: cannot ${op} ${this.trouble.file}: ${code} (${message}); ${this.pending.length} entries wait in memory; ${then}`,
      );
    }
    return false;
  }

  /**
   * Cut the segment back to its last durable line so no partial batch sits before later lines.
   * Our own empty segment goes altogether; after a failed fsync the segment is left for a new one.
   */
  private cutBack(op: 'write' | 'fsync'): void {
    const t = this.trouble as JournalTrouble;
    try {
      ftruncateSync(this.fd, this.segment_bytes);
    } catch (err) {
      t.stuck = true;
      t.op = 'truncate';
      t.code = errnoOf(err);
      t.message = (err as Error)?.message ?? String(err);
      return;
    }
    if (this.dropSegmentIfEmpty() || op === 'fsync') {
      closeSync(this.fd);
      this.fd = -1;
    }
  }

  /**
   * Remove the current segment when nothing was ever written to it — only if the name still is
   * the file this journal created (same device and inode as our descriptor). True if removed.
   */
  private dropSegmentIfEmpty(): boolean {
    if (this.segment_bytes > 0) return false;
    try {
      const ours = fstatSync(this.fd);
      const there = lstatSync(this.segment, { throwIfNoEntry: false });
      if (!there || there.ino !== ours.ino || there.dev !== ours.dev || there.size !== 0) return false;
      unlinkSync(this.segment);
    } catch {
      return false; // left in place: an empty segment reads as no entries
    }
    try {
      fsyncDir(this.dir);
    } catch {
      /* the removal may not survive a power cut: an empty segment again, harmless */
    }
    return true;
  }

  /** The batch is already durable, so a failed rotation must not fail the flush: the next write opens the segment. */
  private rotate(): void {
    closeSync(this.fd);
    this.fd = -1;
    try {
      this.startSegment(this.number + 1);
      this.prune();
    } catch (err) {
      this.log(
        `journal ${this.dir}: cannot start segment ${this.segment} yet: ${errnoOf(err)} (${(err as Error).message}); retrying at the next flush`,
      );
    }
  }

  /** O_EXCL: never append to an existing file; if another process took the number, take the next. */
  private startSegment(first: number): void {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND;
    for (let n = first; ; n++) {
      try {
        this.fd = openSync(join(this.dir, segmentName(n)), flags, 0o600);
        this.number = n;
        break;
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') throw err;
      }
    }
    this.segment_bytes = 0;
    this.chain = 0;
    try {
      fsyncDir(this.dir);
    } catch (err) {
      this.dropSegmentIfEmpty();
      closeSync(this.fd);
      this.fd = -1;
      throw err;
    }
  }

  /** Delete the oldest segments beyond `keep`. Only lower numbers than ours, never the current one. */
  private prune(): void {
    const older = segmentNumbers(this.dir).filter((n) => n < this.number);
    // force: a reader or a second writer may have removed it already.
    for (const n of older.slice(0, Math.max(0, older.length - (this.keep - 1))))
      rmSync(join(this.dir, segmentName(n)), { force: true });
  }
}
