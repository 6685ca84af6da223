/**
 * The kernel's two ways of writing a set of CPU (or node) numbers, parsed as the kernel writes
 * them and as real dumps contain them:
 *
 * - a list (`cpulist`, `online`, `cpuset.cpus`, `Cpus_allowed_list`): "0-3,8,10-11", possibly
 *   empty, with a trailing newline and sometimes trailing NUL bytes (seen in hwloc's dumps). The
 *   kernel's parser (lib/bitmap.c, bitmap_parselist) also takes a stride "0-15:2/4" (the first 2
 *   of every group of 4); we accept it too, though the kernel never prints it.
 * - a mask (`cpumap`, `local_cpus`): comma-separated 32-bit hex words, most significant first,
 *   "00000000,0000ffff" (older kernels print a single word, "ff").
 */

export class CpuListError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CpuListError';
  }
}

/** Largest id accepted unless told otherwise: far above any kernel's NR_CPUS (8192) and MAX_NUMNODES (1024). */
export const DEFAULT_MAX_ID = (1 << 20) - 1;

/** Drop NUL bytes (a sysfs buffer copied whole) and surrounding whitespace. */
export function cleanSysfsText(text: string): string {
  return text.replace(/\0/g, '').trim();
}

const TOKEN = /^(\d+)(?:-(\d+)(?::(\d+)\/(\d+))?)?$/;

/** Parse a kernel list ("0-3,8,10-11", "" → []) into sorted, distinct numbers. Throws CpuListError. */
export function parseCpuList(text: string, opts: { maxId?: number } = {}): number[] {
  const maxId = opts.maxId ?? DEFAULT_MAX_ID;
  const clean = cleanSysfsText(text);
  if (clean === '') return [];
  const out = new Set<number>();
  for (const token of clean.split(/\s*,\s*|\s+/)) {
    if (token === '') continue;
    const m = TOKEN.exec(token);
    if (!m) throw new CpuListError(`'${token}' is not a number or a range (in '${clean}')`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new CpuListError(`range '${token}' runs backwards`);
    if (hi > maxId) throw new CpuListError(`'${token}' exceeds the largest accepted id ${maxId}`);
    const used = m[3] === undefined ? 1 : Number(m[3]);
    const group = m[4] === undefined ? 1 : Number(m[4]);
    if (group === 0 || used === 0 || used > group) throw new CpuListError(`stride '${token}' needs 0 < used ≤ group`);
    for (let start = lo; start <= hi; start += group) {
      for (let i = start; i < start + used && i <= hi; i++) out.add(i);
    }
  }
  return [...out].sort((a, b) => a - b);
}

/** Parse a kernel hex mask ("00000000,0000ffff", "ff", "0x3") into sorted bit numbers. Throws CpuListError. */
export function parseCpuMask(text: string, opts: { maxId?: number } = {}): number[] {
  const maxId = opts.maxId ?? DEFAULT_MAX_ID;
  // "0x" may prefix the mask or each word (hwloc prints "0xffffffff,,0x0"); inside a word it is not
  // hex. An empty word is a zero word, as hwloc writes runs of them.
  const clean = cleanSysfsText(text);
  const words = clean.split(',').map((w) => w.trim().replace(/^0x/i, ''));
  if (words.length === 1 && words[0] === '') return [];
  const out: number[] = [];
  words.reverse().forEach((word, k) => {
    if (!/^[0-9a-fA-F]*$/.test(word)) throw new CpuListError(`'${word}' is not a hex word (in '${clean}')`);
    // Each comma-separated word holds 32 bits; a lone word may be any length.
    if (words.length > 1 && word.length > 8) throw new CpuListError(`hex word '${word}' holds more than 32 bits`);
    for (let j = 0; j < word.length; j++) {
      const digit = parseInt(word[word.length - 1 - j] as string, 16);
      for (let b = 0; b < 4; b++) {
        if (digit & (1 << b)) {
          const id = 32 * k + 4 * j + b;
          if (id > maxId) throw new CpuListError(`bit ${id} exceeds the largest accepted id ${maxId}`);
          out.push(id);
        }
      }
    }
  });
  return out.sort((a, b) => a - b);
}

/** Write numbers as the kernel does: sorted runs, "0-3,8,10-11"; [] → "". */
export function formatCpuList(ids: Iterable<number>): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] as number) + 1) j++;
    parts.push(j === i ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
