/**
 * Bit masks: cpu_set_t and nodemask_t are arrays of unsigned long, bit i in word i/64 at i%64,
 * exactly as glibc's CPU_SET (__CPUELT/__CPUMASK) and the kernel's bitmaps lay them out.
 */

/** Default mask width: glibc's CPU_SETSIZE, and the kernel's usual MAX_NUMNODES ceiling. */
export const MASK_BITS = 1024;

/** Words needed for `ids`, at least MASK_BITS wide (a multiple of 64 bits). */
export function maskWords(ids: readonly number[], minBits = MASK_BITS): number {
  const top = ids.reduce((m, id) => Math.max(m, id), -1);
  return Math.ceil(Math.max(minBits, top + 1) / 64);
}

/** Encode ids as the kernel's bitmap (CPU_SET's layout). Exported for tests. */
export function encodeMask(ids: readonly number[], words = maskWords(ids)): BigUint64Array {
  const mask = new BigUint64Array(words);
  for (const id of ids) {
    const w = Math.floor(id / 64);
    if (w >= words) throw new RangeError(`id ${id} does not fit a ${words * 64}-bit mask`);
    mask[w] = (mask[w] as bigint) | (1n << BigInt(id % 64));
  }
  return mask;
}

/** Decode a kernel bitmap into sorted ids. Exported for tests. */
export function decodeMask(mask: BigUint64Array): number[] {
  const out: number[] = [];
  for (let w = 0; w < mask.length; w++) {
    let word = mask[w] as bigint;
    for (let b = 0; word !== 0n; b++, word >>= 1n) if (word & 1n) out.push(w * 64 + b);
  }
  return out;
}
