/**
 * Writing outputs so that a crash, a full disk or Ctrl-C never leaves half a file or half a run
 * directory where a whole one is expected, and never leaves temporary files behind.
 *
 * - `writeFileAtomic`: the bytes go to a temporary file in the same directory (a rename across
 *   file systems is not atomic), which is fsync'ed, renamed over the target, and the directory is
 *   fsync'ed so the rename itself survives a power cut.
 * - `makeTempDir` / `commitDir`: a directory is built under a temporary name beside its target,
 *   every file in it fsync'ed, then renamed into place (an earlier directory, already judged
 *   replaceable by formats/outputs.ts, is moved aside first and removed after).
 * - Every temporary path is tracked while it exists: SIGINT, SIGTERM or SIGHUP remove them all
 *   before the process dies of the signal, as it would have without fgo's handler.
 */
import {
  closeSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

// ---------------------------------------------------------------------------------------------
// Temporary paths, removed on signals

const temps = new Set<string>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Remove every temporary path, then die of the signal as the default action would. */
function onSignal(signal: NodeJS.Signals): void {
  for (const p of temps) rmSync(p, { recursive: true, force: true });
  temps.clear();
  for (const s of SIGNALS) process.off(s, onSignal);
  process.kill(process.pid, signal);
}

/** Remember a temporary path until `untrackTemp`; the first one installs the signal handlers. */
export function trackTemp(path: string): void {
  // Signals reach the main thread only; a worker's temporaries live inside the main thread's.
  if (temps.size === 0 && isMainThread) for (const s of SIGNALS) process.on(s, onSignal);
  temps.add(path);
}

export function untrackTemp(path: string): void {
  temps.delete(path);
  if (temps.size === 0) for (const s of SIGNALS) process.off(s, onSignal);
}

/** Remove a temporary path now (after a failure) and stop tracking it. */
export function discardTemp(path: string): void {
  rmSync(path, { recursive: true, force: true });
  untrackTemp(path);
}

// ---------------------------------------------------------------------------------------------
// Files

let counter = 0;
/** A fresh temporary name beside `target`, unique in this process: `TARGET.tmp-PID-N`. */
const tempNameFor = (target: string) => join(dirname(target), `${basename(target)}.tmp-${process.pid}-${counter++}`);

/** fsync a directory, so a rename or a new entry in it is on disk. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, data: string | Uint8Array): void {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/**
 * Write `data` to `file` atomically: temporary file beside it, fsync, rename, fsync of the
 * directory. Creates the directory if needed. The caller has checked that `file` may be replaced
 * (formats/outputs.ts). `mode` applies to a new file (default 0o644 less the umask).
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = tempNameFor(file);
  trackTemp(tmp);
  try {
    const fd = openSync(tmp, 'wx', mode);
    try {
      writeAll(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    untrackTemp(tmp);
  } catch (e) {
    discardTemp(tmp);
    throw e;
  }
  fsyncDir(dirname(file));
}

// ---------------------------------------------------------------------------------------------
// Directories

/** A new, empty, tracked temporary directory beside `target` (its parents created): `TARGET.tmp-PID-XXXXXX`. */
export function makeTempDir(target: string): string {
  mkdirSync(dirname(target), { recursive: true });
  const tmp = mkdtempSync(`${target}.tmp-${process.pid}-`);
  trackTemp(tmp);
  return tmp;
}

/** fsync every file and directory under `dir` (the directory itself last). */
function fsyncTree(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) fsyncTree(p);
    else if (e.isFile()) {
      const fd = openSync(p, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  }
  fsyncDir(dir);
}

const exists = (p: string) => {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
};

/**
 * Put the finished temporary directory `tmp` (from makeTempDir) in place of `target`. An existing
 * `target` must already have been judged replaceable (formats/outputs.ts): it is renamed aside,
 * the new one renamed in, and the old one removed, so `target` is never half of either.
 */
export function commitDir(tmp: string, target: string): void {
  let old: string | undefined;
  try {
    fsyncTree(tmp);
    if (exists(target)) renameSync(target, (old = tempNameFor(target)));
    renameSync(tmp, target);
  } catch (e) {
    if (old !== undefined && !exists(target)) renameSync(old, target); // put the earlier one back
    discardTemp(tmp);
    throw e;
  }
  untrackTemp(tmp);
  if (old !== undefined) rmSync(old, { recursive: true, force: true });
  fsyncDir(dirname(target));
}
