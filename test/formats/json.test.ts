import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { lineColAt, nestingTooDeep } from '../../formats/json.ts';

describe('nestingTooDeep', () => {
  it('finds the bracket that goes one level too deep, worked by hand', () => {
    expect(nestingTooDeep('{"a":[[1]]}', 2)).toEqual({ offset: 6, depth: 3 });
    expect(nestingTooDeep('{"a":[1]}', 2)).toBeUndefined();
  });
  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(nestingTooDeep('["[[[[", "\\"[[[["]', 1)).toBeUndefined();
  });
  it('handles 30,000 nested arrays without recursion', () => {
    const deep = '['.repeat(30_000) + ']'.repeat(30_000);
    expect(nestingTooDeep(deep, 64)).toEqual({ offset: 64, depth: 65 });
  });
  it('agrees with the depth of any JSON value (property)', () => {
    const depthOf = (v: unknown): number =>
      v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v as object).map(depthOf)) : 0;
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 0, max: 8 }), (v, limit) => {
        const text = JSON.stringify(v);
        expect(nestingTooDeep(text, limit) === undefined).toBe(depthOf(v) <= limit);
      }),
    );
  });
});

describe('lineColAt', () => {
  it('counts lines and columns from 1', () => {
    expect(lineColAt('ab\ncd', 0)).toEqual({ line: 1, col: 1 });
    expect(lineColAt('ab\ncd', 4)).toEqual({ line: 2, col: 2 });
  });
});
