/**
 * What fgo may replace when it writes an output, and which names from inputs may become parts of
 * a path.
 *
 * The rule: an output never replaces or deletes anything fgo cannot prove it created, unless the
 * user says `--force`.
 * - A file output replaces an existing regular file only with --force (a file's content proves
 *   nothing about who wrote it: a hand-made trace has the same header as an imported one). Never
 *   a directory, a device, a FIFO or a socket, even with --force.
 * - A directory output replaces an existing directory when it is empty or holds fgo's marker file
 *   OUTPUT_MARKER (written into every directory fgo builds), or with --force; never a file.
 * - A name taken from an input (a scenario's name, say) becomes a path component only if it
 *   matches SAFE_NAME: no '/', no NUL, not '.' or '..', at most 64 characters.
 */
import { lstatSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { InputError } from './errors.ts';

/** The file that marks a directory as built by fgo (and so replaceable by a later run). */
export const OUTPUT_MARKER = '.fgo-output';
const MARKER_FORMAT = 'fgo-output/1';

/** The marker's content: what built the directory. */
export const markerText = (kind: string) => `${JSON.stringify({ format: MARKER_FORMAT, kind })}\n`;

/** Names that may become a path component: letters, digits, '_', '.', '-'; 1 to 64 of them; not '.' or '..'. */
export const SAFE_NAME = /^(?!\.\.?$)[A-Za-z0-9_.-]{1,64}$/;

/** Why `name` (from `field`) cannot name a file or directory, if it cannot. */
export function unsafeNameProblem(field: string, name: string): string | undefined {
  if (SAFE_NAME.test(name)) return undefined;
  const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
  return `${field}: ${shown} cannot name a file or directory: use 1 to 64 letters, digits, '_', '.' or '-' (not '.' or '..')`;
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFile()) return 'a file';
  return 'a special file (device, FIFO or socket)';
}

/** Whether `dir` holds fgo's marker (of any kind). */
export function isFgoOutputDir(dir: string): boolean {
  try {
    return (
      (JSON.parse(readFileSync(join(dir, OUTPUT_MARKER), 'utf8').slice(0, 4096)) as { format?: unknown }).format ===
      MARKER_FORMAT
    );
  } catch {
    return false;
  }
}

/**
 * Why the file output `file` (given by `flag`) cannot be written, if it cannot: something other
 * than a regular file is there, or a regular file is there and `force` is not set.
 */
export function outputFileProblem(flag: string, file: string, force: boolean): string | undefined {
  const st = lstatOrUndefined(file);
  if (!st) return undefined;
  if (!st.isFile()) return `${flag} ${file}: exists and is ${kindOf(st)}; name a new file`;
  if (force) return undefined;
  return `${flag} ${file}: exists; fgo does not replace a file it cannot prove it wrote: name a new file, or add --force to replace it`;
}

/**
 * Why the directory output `dir` (given by `flag`) cannot be written, if it cannot: something
 * other than a directory is there, or a directory that is not empty, holds no fgo marker, and
 * `force` is not set. `also` recognises earlier outputs of another form as fgo's (a scorecard).
 */
export function outputDirProblem(
  flag: string,
  dir: string,
  force: boolean,
  also?: (dir: string) => boolean,
): string | undefined {
  const st = lstatOrUndefined(dir);
  if (!st) return undefined;
  if (!st.isDirectory()) return `${flag} ${dir}: exists and is ${kindOf(st)}, not a directory; name a new directory`;
  if (force || isFgoOutputDir(dir) || also?.(dir)) return undefined;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (e) {
    return `${flag} ${dir}: cannot be listed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  if (entries.length === 0) return undefined;
  return `${flag} ${dir}: exists, is not empty and was not written by fgo (no ${OUTPUT_MARKER} in it), so it is left alone: name a new directory, or add --force to replace it and everything in it`;
}

/** `outputFileProblem` as an InputError (exit `exitCode`), for a command to call before any work. */
export function assertOutputFile(flag: string, file: string, force: boolean, exitCode = 1): void {
  const problem = outputFileProblem(flag, file, force);
  if (problem) throw new InputError([problem], exitCode);
}
