/**
 * Reading a run directory's large files within bounds: line by line in chunks, each line at most
 * MAX_RUN_LINE_BYTES, from regular files only. A run directory that cannot be reported on is an
 * InputError naming each file and what is wrong.
 */
import { closeSync, readSync } from 'node:fs';
import { InputError } from '../formats/errors.ts';
import { openInput } from '../formats/inputs.ts';

/** Longest line a report reads from a run directory's JSONL or CSV files. */
const MAX_RUN_LINE_BYTES = 16 << 20;

/**
 * Calls `fn` for each line of a file read in 4-MB chunks: flat memory, however large the file.
 * Only a line's first `prefix` bytes are decoded (the compact journal puts every field the report
 * needs first); `full` decodes the whole line when those are not enough.
 */
export function forEachLine(file: string, fn: (head: string, full: () => string) => void, prefix = 400): void {
  // A regular file only (a FIFO would wait for a writer); run files are streamed, so only a line's
  // length needs a bound in memory.
  const { fd } = openInput(file, Number.MAX_SAFE_INTEGER, 'run files');
  try {
    let buf = Buffer.alloc(4 << 20);
    let carry = 0;
    for (;;) {
      const n = readSync(fd, buf, carry, buf.length - carry, null);
      const end = carry + n;
      let start = 0;
      for (let nl = buf.indexOf(10, start); nl !== -1 && nl < end; nl = buf.indexOf(10, start)) {
        if (nl > start) {
          const s = start,
            e = nl;
          fn(buf.toString('utf8', s, Math.min(e, s + prefix)), () => buf.toString('utf8', s, e));
        }
        start = nl + 1;
      }
      if (n === 0) {
        if (end > start)
          fn(buf.toString('utf8', start, Math.min(end, start + prefix)), () => buf.toString('utf8', start, end));
        break;
      }
      carry = end - start;
      if (carry === buf.length) {
        if (buf.length >= MAX_RUN_LINE_BYTES)
          throw new InputError([`${file}: a line longer than ${MAX_RUN_LINE_BYTES} bytes`]);
        const bigger = Buffer.alloc(buf.length * 2); // a line longer than the buffer
        buf.copy(bigger, 0, 0, carry);
        buf = bigger;
      } else buf.copy(buf, 0, start, end);
    }
  } finally {
    closeSync(fd);
  }
}
