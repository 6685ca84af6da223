/**
 * Reading one kernel pseudo-file with the failure told apart: unlike formats/host/files.ts's readText (absent or
 * unreadable = undefined), the PSI and procfs readers must say *why* — a process that exited
 * between listing and reading (ENOENT/ESRCH) is a normal "gone", a kernel without PSI is a normal
 * "unavailable", anything else is an error that names the file.
 */
import { readFileSync } from 'node:fs';

/** A pseudo-file the reader could not make sense of, or could not read for an unexpected reason. */
export class HostFileError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'HostFileError';
  }
}

export type HostRead = { ok: true; text: string } | { ok: false; code: string; message: string };

export function readHostFile(path: string): HostRead {
  try {
    return { ok: true, text: readFileSync(path, 'latin1') };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { ok: false, code: err.code ?? 'EUNKNOWN', message: err.message };
  }
}

/** The process behind a /proc/PID file is gone: the directory vanished, or the task died mid-read. */
export function isGoneCode(code: string): boolean {
  return code === 'ENOENT' || code === 'ESRCH';
}

/** Lines of a pseudo-file: NUL bytes dropped, each line trimmed, blank lines skipped. */
export function contentLines(text: string): string[] {
  return text
    .replace(/\0/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/** A non-negative integer field (counters, pages, kB); throws a HostFileError naming file and field. */
export function parseCount(raw: string | undefined, file: string, what: string): number {
  if (raw === undefined || !/^\d+$/.test(raw))
    throw new HostFileError(
      file,
      `${what}: expected a non-negative integer, got ${raw === undefined ? 'nothing' : JSON.stringify(raw)}`,
    );
  const n = Number(raw);
  if (!Number.isSafeInteger(n))
    throw new HostFileError(file, `${what}: ${raw} is beyond 2^53 and cannot be held exactly`);
  return n;
}
