/**
 * Fuzz: the JSON reader every JSON input goes through (formats/jsonfile.ts readJson / parseJsonText
 * and locate), and the config and scenario readers on top of it. Whatever the input — arbitrary
 * text, random bytes in a file, brackets nested thousands deep, random JSON documents — the result
 * is a value or an InputError with at least one problem naming the file; never another exception
 * (a RangeError from a stack overflow, a TypeError from a null), never a hang.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { locate, parseJsonText, readJson, valuePositions } from '../../formats/jsonfile.ts';
import { loadConfig } from '../../cli/load.ts';
import { InputError } from '../../formats/errors.ts';
import { loadScenario } from '../../sim/scenario.ts';

const FUZZ = { numRuns: Number(process.env.FGO_FUZZ_RUNS ?? 400) };
const FILE_RUNS = { numRuns: Math.min(150, FUZZ.numRuns) };
const TMP = mkdtempSync(join(tmpdir(), 'fgo-fuzz-json-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** Run `fn`: fine if it returns; an InputError must name `file`; anything else fails the property. */
function valueOrInputError(file: string, fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    expect(e.problems.length).toBeGreaterThan(0);
    for (const p of e.problems) expect(p.startsWith(file)).toBe(true);
  }
}

/** Text of brackets and keys nested up to `depth` deep, possibly unbalanced or truncated. */
const deepText = fc
  .record({
    depth: fc.integer({ min: 0, max: 20_000 }),
    open: fc.constantFrom('[', '{"a":', '[{"b":['),
    close: fc.boolean(),
    cut: fc.nat(),
  })
  .map(({ depth, open, close, cut }) => {
    const closer = open === '[' ? ']' : open === '{"a":' ? '}' : ']}]';
    const t = `${open.repeat(depth)}1${close ? closer.repeat(depth) : ''}`;
    return cut % 3 === 0 ? t.slice(0, cut % (t.length + 1)) : t;
  });

describe('parseJsonText and locate', () => {
  it('arbitrary text: a value or an InputError', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (t) =>
        valueOrInputError('f.json', () => parseJsonText('f.json', t)),
      ),
      FUZZ,
    );
  });

  it('deep nesting, balanced or not: a value (64 levels or fewer) or an InputError at a line and column', () => {
    fc.assert(
      fc.property(deepText, (t) => {
        try {
          parseJsonText('f.json', t);
        } catch (e) {
          if (!(e instanceof InputError)) throw e;
          expect(e.problems[0]).toMatch(/^f\.json(:\d+:\d+)?: /);
        }
      }),
      FUZZ,
    );
  });

  it('any JSON document up to 80 levels: locate never throws, and names a line for every path it finds', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 80 }), fc.string({ maxLength: 20 }), (v, path) => {
        const text = JSON.stringify(v, null, 1) ?? 'null';
        const located = locate('f.json', text, [`${path}: wrong`, 'no path here']);
        expect(located).toHaveLength(2);
        for (const l of located) expect(l.startsWith('f.json')).toBe(true);
        expect(valuePositions(text).size).toBeGreaterThanOrEqual(0);
      }),
      FUZZ,
    );
  });
});

describe('readJson, loadConfig and loadScenario on files', () => {
  let k = 0;
  const write = (data: string | Uint8Array) => {
    const f = join(TMP, `in${k++}.json`);
    writeFileSync(f, data);
    return f;
  };

  it('random bytes: a value or an InputError naming the file', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        const f = write(b);
        valueOrInputError(f, () => readJson(f));
      }),
      FILE_RUNS,
    );
  });

  it('random JSON documents as configs and scenarios: a value or an InputError naming the file', () => {
    const doc = fc.oneof(
      fc.jsonValue({ maxDepth: 6 }),
      fc.dictionary(
        fc.constantFrom(
          'name',
          'duration',
          'profiles',
          'faults',
          'pressure',
          'placement',
          'topology',
          'seed',
          'engine',
        ),
        fc.jsonValue({ maxDepth: 4 }),
      ),
    );
    fc.assert(
      fc.property(doc, (v) => {
        const f = write(JSON.stringify(v) ?? 'null');
        valueOrInputError(f, () => loadConfig(f));
        valueOrInputError(f, () => loadScenario(f));
      }),
      FILE_RUNS,
    );
  });
});
