/**
 * The kernel's list ("0-3,8,10-11") and mask ("00000000,0000ffff") notations, including what real
 * sysfs dumps contain: trailing newlines and NUL bytes, empty files, long multi-word masks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CpuListError, formatCpuList, parseCpuList, parseCpuMask } from '../../formats/host/cpulist.ts';

describe('parseCpuList', () => {
  it('reads single ids, ranges and mixtures, sorted and distinct', () => {
    expect(parseCpuList('0-3,8,10-11')).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(parseCpuList('7')).toEqual([7]);
    expect(parseCpuList('5,1-2,2,0')).toEqual([0, 1, 2, 5]);
    expect(parseCpuList('0,8,250-255')).toEqual([0, 8, 250, 251, 252, 253, 254, 255]);
  });

  it('reads an empty file (a CPU-less node, an empty has_cpu) as no ids', () => {
    expect(parseCpuList('')).toEqual([]);
    expect(parseCpuList('\n')).toEqual([]);
    expect(parseCpuList('\0')).toEqual([]);
    expect(parseCpuList('  \n\0\0')).toEqual([]);
  });

  it('tolerates trailing newlines and NUL bytes as found in real dumps', () => {
    expect(parseCpuList('0-7\n\0')).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(parseCpuList('0-3\n\0\0\0\0')).toEqual([0, 1, 2, 3]);
    expect(parseCpuList('1\n')).toEqual([1]);
    expect(parseCpuList(' 0-1 , 4 \n')).toEqual([0, 1, 4]);
  });

  it("reads the kernel's stride form used/group", () => {
    expect(parseCpuList('0-15:2/4')).toEqual([0, 1, 4, 5, 8, 9, 12, 13]);
    expect(parseCpuList('0-6:1/2')).toEqual([0, 2, 4, 6]);
  });

  it('rejects what the kernel would reject, naming the bad token', () => {
    expect(() => parseCpuList('3-1')).toThrow(CpuListError);
    expect(() => parseCpuList('a-b')).toThrow(/'a-b'/);
    expect(() => parseCpuList('1-')).toThrow(CpuListError);
    expect(() => parseCpuList('-1')).toThrow(CpuListError);
    expect(() => parseCpuList('0-7:0/4')).toThrow(CpuListError);
    expect(() => parseCpuList('0-7:5/4')).toThrow(CpuListError);
    expect(() => parseCpuList('0x3')).toThrow(CpuListError);
  });

  it('refuses absurd ranges instead of allocating them', () => {
    expect(() => parseCpuList('0-4294967295')).toThrow(/exceeds/);
    expect(() => parseCpuList('0-100', { maxId: 63 })).toThrow(/exceeds/);
    expect(parseCpuList('0-63', { maxId: 63 })).toHaveLength(64);
  });
});

describe('parseCpuMask', () => {
  it('reads comma-separated 32-bit words, most significant first', () => {
    expect(parseCpuMask('00000000,0000ffff')).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(parseCpuMask('00000001,00000000')).toEqual([32]);
    expect(parseCpuMask('00000000,00000000,00000000,000aaaa0\n')).toEqual([5, 7, 9, 11, 13, 15, 17, 19]);
    expect(parseCpuMask('f0000000,00000001')).toEqual([0, 60, 61, 62, 63]);
  });

  it('reads a lone word of any length (old kernels), with or without 0x', () => {
    expect(parseCpuMask('ff\n')).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(parseCpuMask('0x3')).toEqual([0, 1]);
    expect(parseCpuMask('100000000')).toEqual([32]);
  });

  it('reads an all-zero or empty mask as no ids, and NUL bytes are ignored', () => {
    expect(parseCpuMask('00000000,00000000\n')).toEqual([]);
    expect(parseCpuMask('')).toEqual([]);
    expect(parseCpuMask('0000000f\n\0')).toEqual([0, 1, 2, 3]);
  });

  it('rejects non-hex text and over-long words', () => {
    expect(() => parseCpuMask('0-3')).toThrow(CpuListError);
    expect(() => parseCpuMask('123456789,00000000')).toThrow(/32 bits/);
  });
});

describe('formatCpuList', () => {
  it('writes runs as the kernel does', () => {
    expect(formatCpuList([0, 1, 2, 3, 8, 10, 11])).toBe('0-3,8,10-11');
    expect(formatCpuList([])).toBe('');
    expect(formatCpuList([5, 3, 3, 4])).toBe('3-5');
    expect(formatCpuList([1, 3])).toBe('1,3');
  });

  it('round-trips with parseCpuList, and a mask of the same bits reads the same', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { maxLength: 80 }), (ids) => {
        const sorted = [...ids].sort((a, b) => a - b);
        expect(parseCpuList(formatCpuList(ids))).toEqual(sorted);
        // build the kernel's mask text: 32-bit words, most significant first
        const words = Array.from({ length: 10 }, () => 0);
        for (const id of ids)
          words[Math.floor(id / 32)] = ((words[Math.floor(id / 32)] as number) | (1 << (id % 32))) >>> 0;
        const mask = words
          .map((w) => w.toString(16).padStart(8, '0'))
          .reverse()
          .join(',');
        expect(parseCpuMask(`${mask}\n`)).toEqual(sorted);
      }),
    );
  });
});
