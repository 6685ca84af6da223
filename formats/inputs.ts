/**
 * Reading input files with their size bounded before a byte is parsed: only regular files are
 * read (a FIFO, a device or a directory is refused — reading /dev/zero never ends, and opening a
 * FIFO waits for a writer, so files are opened non-blocking and checked with fstat first), and a
 * file larger than its kind's limit is refused with the size and the limit.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { InputError } from './errors.ts';

const MiB = 1024 * 1024;
/** Largest JSON input (config, scenario, topology, observation, request, shard): real ones are a few KB. */
export const MAX_JSON_BYTES = 16 * MiB;
/**
 * Largest CSV input (traces, public trace formats): the largest bundled one is a few hundred KB;
 * a whole file is held as one string, and V8 strings stop at about 512 M characters.
 */
export const MAX_CSV_BYTES = 256 * MiB;

const cannotRead = (file: string, e: unknown) =>
  new InputError([`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`]);

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Open `file` for reading after checking it is a regular file of at most `max_bytes`; returns the
 * descriptor and size. Opened with O_NONBLOCK so a FIFO does not wait for a writer (for a regular
 * file the flag changes nothing).
 */
export function openInput(file: string, max_bytes: number, what: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw cannotRead(file, e);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new InputError([`${file}: ${kindOf(st)}, not a regular file: fgo reads ${what} only from regular files`]);
    if (st.size > max_bytes)
      throw new InputError([`${file}: ${st.size} bytes, over the limit of ${max_bytes} bytes for ${what}`]);
    return { fd, size: st.size };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** The bytes of a regular file of at most `max_bytes` (a file growing while read is refused). */
export function readInputBytes(file: string, max_bytes: number, what: string): Buffer {
  const { fd, size } = openInput(file, max_bytes, what);
  try {
    // One byte more than fstat said: reading it means the file grew while being read.
    const buf = Buffer.alloc(size + 1);
    let n = 0;
    for (let k: number; (k = readSync(fd, buf, n, buf.length - n, null)) > 0; ) {
      n += k;
      if (n === buf.length)
        throw new InputError([`${file}: grew while being read (past its ${size} bytes); read it when it is complete`]);
    }
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw cannotRead(file, e);
  } finally {
    closeSync(fd);
  }
}

/** `readInputBytes` as UTF-8 text. */
export function readInputText(file: string, max_bytes: number, what: string): string {
  return readInputBytes(file, max_bytes, what).toString('utf8');
}
