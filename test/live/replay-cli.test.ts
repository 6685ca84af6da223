/**
 * `fgo replay` as a user runs it, on real journals: a clean one (exit 0, how many calls were
 * compared), a damaged header (exit 1, file:line, the epoch's entries not checked), a journal
 * whose oldest segments retention removed (exit 3: it cannot check, and says why), junk of all
 * kinds (file:line, exit 1, never a stack trace), and an empty directory (exit 3, nothing compared).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeLine } from '../../live/journal-line.ts';
import { fgo } from './fixtures.ts';
import { writeRealJournal } from './journal-fixture.ts';

const temps: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fgo-replay-'));
  temps.push(d);
  return d;
}
afterEach(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at |TypeError|RangeError|SyntaxError/);

describe('fgo replay', () => {
  it('a clean journal: exit 0, and the summary says how many calls were compared', () => {
    const dir = tempDir();
    const calls = writeRealJournal(dir);
    const n = readdirSync(dir).length;
    const r = fgo(['replay', dir]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(
      new RegExp(
        `^${n} segment\\(s\\), 2 epoch\\(s\\): ${calls} engine calls \\(40 decisions\\) re-run: 0 difference\\(s\\); every entry checked\\n$`,
      ),
    );
    expect(r.err).toBe('');
  }, 60_000);

  it("a damaged first header: exit 1, the line named, the epoch's entries counted as not checked", () => {
    const dir = tempDir();
    writeRealJournal(dir);
    const first = join(dir, '000001.jsonl');
    writeFileSync(first, readFileSync(first, 'utf8').replace('"seed":"s1"', '"seed":"s9"'));
    const r = fgo(['replay', dir, '--json']);
    expect(r.code).toBe(1);
    const rep = JSON.parse(r.out) as { epochs: number; problems: string[]; unchecked: string[]; status: number };
    expect(rep.status).toBe(1);
    expect(rep.epochs).toBe(1);
    expect(rep.problems).toEqual([expect.stringMatching(new RegExp(`^${first}:1: check mismatch`))]);
    expect(rep.unchecked).toEqual([
      expect.stringMatching(
        new RegExp(
          `^\\d+ entries \\(\\d+ engine calls\\) from ${first}:2 to \\S+ not checked: they follow the damaged line ${first}:1$`,
        ),
      ),
    ]);
    noStack(r.err);
  }, 60_000);

  it('the header\'s segment removed by retention: exit 3, "not checked" with the reason, never "every entry checked"', () => {
    const dir = tempDir();
    writeRealJournal(dir, { epochs: 1, requests: 40, max_bytes: 2_048, keep: 3 });
    expect(readdirSync(dir)).not.toContain('000001.jsonl');
    const r = fgo(['replay', dir]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(
      /^not checked:\n {2}\d+ entries \(\d+ engine calls\) from \S+:1 to \S+ not checked: their epoch's start entry is not in the journal \(its segment was removed by retention\)\n$/,
    );
    expect(r.out).toBe(
      `${readdirSync(dir).length} segment(s), 0 epoch(s): no engine call could be checked — nothing was compared\n`,
    );
  }, 60_000);

  it('junk lines, a FIFO segment, an over-deep entry: each named file:line, exit 1, no stack trace', () => {
    const dir = tempDir();
    let chk = 0;
    const line = (body: string) => {
      const l = encodeLine(body, chk);
      chk = l.chk;
      return l.line;
    };
    const deep = `{"type":"note","data":${'['.repeat(100)}${']'.repeat(100)}}`;
    writeFileSync(
      join(dir, '000001.jsonl'),
      [
        line('{"type":"note"}'),
        'not json\n',
        line(deep),
        line('{"type":"call","op":"tick"}'),
        line('{"type":"bogus"}'),
        '{"x"',
      ].join(''),
    );
    execFileSync('mkfifo', [join(dir, '000002.jsonl')]);
    const f = join(dir, '000001.jsonl');
    const r = fgo(['replay', dir]);
    expect(r.code).toBe(1);
    expect(r.err.split('\n')).toEqual([
      'notes:',
      `  ${f}:6: torn last line (4 bytes) skipped — written during a crash`,
      'problems:',
      `  ${f}:2: no "chk" check at the end of the line (damaged, or not written by fgo)`,
      `  ${f}:3: nests deeper than 64 levels (column 86)`, // 22 characters before the first '[', the 64th '[' makes depth 65
      `  ${join(dir, '000002.jsonl')}: not a regular file`,
      `  ${f}:4: call entry lacks a known op, an args array or an integer obs`,
      `  ${f}:5: not a journal entry (type "bogus")`,
      '',
    ]);
    noStack(r.err);
  }, 60_000);

  it('an empty directory: exit 3, nothing compared; a missing path: exit 1, one clear line', () => {
    const dir = tempDir();
    const r = fgo(['replay', dir]);
    expect(r.code).toBe(3);
    expect(r.out).toBe('0 segment(s), 0 epoch(s): no engine call could be checked — nothing was compared\n');
    const missing = fgo(['replay', join(dir, 'nope')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/cannot be read: ENOENT/);
    noStack(missing.err);
  }, 60_000);
});
