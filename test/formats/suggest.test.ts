import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closest, didYouMean, editDistance } from '../../formats/suggest.ts';

describe('editDistance', () => {
  it('counts insertions, deletions, substitutions and neighbour swaps as one edit each (worked by hand)', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3); // k→s, e→i, +g
    expect(editDistance('2n-23c', '2n-32c')).toBe(1); // one swap
    expect(editDistance('faults8n', 'faults-8n')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('property: a metric on these strings — zero only for equals, symmetric, at most the longer length', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b) => {
        const d = editDistance(a, b);
        expect(d === 0).toBe(a === b);
        expect(editDistance(b, a)).toBe(d);
        expect(d).toBeLessThanOrEqual(Math.max(a.length, b.length));
      }),
    );
  });
});

describe('closest and didYouMean', () => {
  const presets = ['1n-2c', '2n-32c', '4n-64c', '8n-128c', '64n-256c'];
  it('suggests a name a typo away, and nothing for a name far from all', () => {
    expect(closest('2n-23c', presets)).toBe('2n-32c');
    expect(didYouMean('faults8n', ['default', 'faults-8n'])).toBe(" (did you mean 'faults-8n'?)");
    expect(didYouMean('zzzzzzzz', presets)).toBe('');
  });
});
