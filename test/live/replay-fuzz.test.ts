/**
 * Fuzz target for the journal reader and replay: random corruption of a real journal (one or more
 * byte flips, insertions, deletions in any segment). Replay must never throw, and must exit 0 only
 * when nothing was changed. Out of the model: appending after a segment's final newline or cutting
 * into its end — that is exactly what a crash leaves (a torn last line), which replay must accept.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { checkJournal } from '../../cli/replay.ts';
import { writeRealJournal } from './journal-fixture.ts';

const base = mkdtempSync(join(tmpdir(), 'fgo-replay-fuzz-'));
const original = join(base, 'original');
writeRealJournal(original, { epochs: 2, requests: 8, max_bytes: 2_000 });
const files = readdirSync(original).sort();
afterAll(() => rmSync(base, { recursive: true, force: true }));

type Mutation =
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; len: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
);

/** Apply a mutation within the model: every position strictly before the final newline (flips may hit it). */
function apply(data: Buffer, m: Mutation): Buffer {
  const at = m.at % data.length;
  if (m.kind === 'flip') {
    const out = Buffer.from(data);
    out[at] = (out[at] as number) ^ m.xor;
    return out;
  }
  const before = at % (data.length - 1); // keeps the final newline last
  if (m.kind === 'insert')
    return Buffer.concat([data.subarray(0, before), Buffer.from(m.bytes), data.subarray(before)]);
  const end = Math.min(before + m.len, data.length - 1);
  return Buffer.concat([data.subarray(0, before), data.subarray(end)]);
}

let run = 0;
describe('fuzz: corrupted real journals', () => {
  it('the unchanged journal replays with exit 0, every entry checked', () => {
    const c = checkJournal(original);
    expect(c.report).toMatchObject({ epochs: 2, differences: [], problems: [], unchecked: [] });
    expect(c.status).toBe(0);
    expect(files.length).toBeGreaterThan(2);
  });

  it('replay never throws, and exits 0 only when no byte changed', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(mutation, { minLength: 0, maxLength: 3 }), (which, mutations) => {
        const dir = join(base, `run${run++}`);
        cpSync(original, dir, { recursive: true });
        const file = join(dir, files[which % files.length] as string);
        const before = readFileSync(file);
        const after = mutations.reduce(apply, before);
        writeFileSync(file, after);
        let status: number;
        try {
          status = checkJournal(dir).status;
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        expect(status === 0).toBe(after.equals(before));
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});
