/**
 * Fuzz: formats/duration.ts parseDuration_s, behind every duration flag and scenario field. Any
 * text gives a finite number of seconds in [0, MAX_DURATION_S] or a RangeError; a duration built
 * from a number and a unit gives that number times the unit's seconds, or a RangeError naming the
 * limit when it is over it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_DURATION_S, parseDuration_s } from '../../formats/duration.ts';

const FUZZ = { numRuns: Number(process.env.FGO_FUZZ_RUNS ?? 1000) };
const UNIT_S: Record<string, number> = { '': 1, ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

describe('parseDuration_s', () => {
  it('any text or number: seconds within the bounds, or a RangeError', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 40 }), fc.double(), fc.stringMatching(/^\d{0,20}(\.\d{0,20})?(ms|s|m|h|d)?$/)),
        (v) => {
          try {
            const s = parseDuration_s(v);
            expect(Number.isFinite(s) && s >= 0 && s <= MAX_DURATION_S).toBe(true);
          } catch (e) {
            expect(e).toBeInstanceOf(RangeError);
          }
        },
      ),
      FUZZ,
    );
  });

  it('a number and a unit: that many seconds, or over the limit of 366 days', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 ** 9 }), fc.constantFrom(...Object.keys(UNIT_S)), (n, unit) => {
        const want = n * (UNIT_S[unit] as number);
        if (want <= MAX_DURATION_S) expect(parseDuration_s(`${n}${unit}`)).toBeCloseTo(want, 6);
        else
          expect(() => parseDuration_s(`${n}${unit}`)).toThrow(
            `'${n}${unit}' is over the limit of 366 days (31622400 s)`,
          );
      }),
      FUZZ,
    );
  });

  it('examples, by hand', () => {
    expect(parseDuration_s('1.5m')).toBe(90);
    expect(parseDuration_s('250ms')).toBe(0.25);
    expect(parseDuration_s('366d')).toBe(31_622_400);
    expect(() => parseDuration_s('367d')).toThrow(RangeError);
    expect(() => parseDuration_s('1e9h')).toThrow("'1e9h' is not a duration (examples: 90s, 30m, 24h)");
    expect(() => parseDuration_s(-1)).toThrow(RangeError);
    expect(() => parseDuration_s(Number.NaN)).toThrow(RangeError);
  });
});
