/**
 * The journal on real files in a temp dir: order across opens, modes, nothing written before
 * flush, rotation and retention, torn tails versus corruption, a real SIGKILL of a writer, and a
 * property over random entries split into random batches (and random reopens).
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Journal, MAX_LINE_BYTES, readJournal } from '../../live/journal.ts';
import { encodeLine } from '../../live/journal-line.ts';

/** A segment's text as the journal writes it: each entry a line carrying the running check. */
function segmentText(...entries: object[]): string {
  let chk = 0;
  return entries
    .map((e) => {
      const l = encodeLine(JSON.stringify(e), chk);
      chk = l.chk;
      return l.line;
    })
    .join('');
}

const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fgo-journal-'));
  temps.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const mode = (path: string): number => statSync(path).mode & 0o777;

describe('Journal', () => {
  it('keeps entries in order across two opens, one segment each, with private modes', () => {
    const dir = join(tempDir(), 'journal');
    const logged: string[] = [];
    const a = Journal.open(dir, { log: (l) => logged.push(l) });
    a.append({ i: 1 });
    a.append({ i: 2 });
    a.flush();
    a.append({ i: 3 });
    a.close();
    a.close(); // idempotent
    expect(a.batches).toBe(2);
    expect(a.entries).toBe(3);
    // After close: dropped and logged once, never thrown (a late caller must not crash the agent).
    a.append({ i: 4 });
    a.append({ i: 5 });
    expect(a.flush()).toBe(false);
    expect(a.dropped_after_close).toBe(3);
    expect(logged).toEqual([
      `journal ${dir}: an entry {"i":4} arrived after close and was dropped — a caller outlived the agent's stop (a bug; later ones are only counted)`,
    ]);

    const b = Journal.open(dir);
    expect(b.segment).toBe(join(dir, '000002.jsonl'));
    b.append({ i: 4 });
    b.close();

    expect(mode(dir)).toBe(0o700);
    expect(readdirSync(dir).sort()).toEqual(['000001.jsonl', '000002.jsonl']);
    for (const name of readdirSync(dir)) expect(mode(join(dir, name))).toBe(0o600);
    const read = readJournal(dir);
    expect(read.entries).toEqual([{ i: 1 }, { i: 2 }, { i: 3 }, { i: 4 }]);
    expect(read.segments).toEqual([join(dir, '000001.jsonl'), join(dir, '000002.jsonl')]);
    expect(read.problems).toEqual([]);
    expect(readJournal(join(dir, '000002.jsonl')).entries).toEqual([{ i: 4 }]);
  });

  it('writes nothing before flush, everything after, one batch per flush', () => {
    const j = Journal.open(tempDir());
    for (let i = 0; i < 100; i++) j.append({ i, text: 'é'.repeat(i) });
    expect(statSync(j.segment).size).toBe(0);
    expect(j.bytes_written).toBe(0);
    j.flush();
    j.flush(); // nothing buffered: no batch
    expect(j.batches).toBe(1);
    expect(j.entries).toBe(100);
    expect(statSync(j.segment).size).toBe(j.bytes_written);
    expect(readJournal(j.segment).entries).toHaveLength(100);
    j.close();
  });

  it('rejects entries that do not serialise or exceed the line limit, keeping the rest', () => {
    const j = Journal.open(tempDir());
    j.append({ ok: 1 });
    expect(() => j.append({ big: 'x'.repeat(MAX_LINE_BYTES) })).toThrow(/line limit/);
    expect(() => j.append({ toJSON: () => undefined })).toThrow(/JSON/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => j.append(cyclic)).toThrow();
    j.close();
    expect(readJournal(j.dir).entries).toEqual([{ ok: 1 }]);
  });

  it('rejects nonsense options', () => {
    expect(() => Journal.open(tempDir(), { max_bytes: 0 })).toThrow(/max_bytes/);
    expect(() => Journal.open(tempDir(), { keep: 0 })).toThrow(/keep/);
  });

  it('rotates at max_bytes and keeps only the newest segments', () => {
    const dir = tempDir();
    const j = Journal.open(dir, { max_bytes: 100, keep: 2 });
    const all: object[] = [];
    for (let batch = 0; batch < 10; batch++) {
      for (let k = 0; k < 3; k++) {
        const entry = { batch, k, pad: 'p'.repeat(20) };
        all.push(entry);
        j.append(entry);
      }
      j.flush(); // 3 lines > 100 bytes: every flush rotates
    }
    j.close();
    // 10 full segments were written and an empty 11th opened, keeping 000010 and 000011; close
    // removes the 11th, which never got a line.
    expect(readdirSync(dir).sort()).toEqual(['000010.jsonl']);
    expect(j.segment).toBe(join(dir, '000011.jsonl'));
    const read = readJournal(dir);
    expect(read.entries).toEqual(all.slice(-3));
    expect(read.problems).toEqual([]);
  });

  it('never deletes the current segment, even with keep = 1, and does not rotate on close', () => {
    const dir = tempDir();
    const j = Journal.open(dir, { max_bytes: 10, keep: 1 });
    j.append({ a: 'long enough to rotate' });
    j.flush();
    j.append({ b: 'long enough to rotate' });
    j.flush();
    j.append({ c: 'also long enough, but close does not rotate' });
    j.close();
    expect(readdirSync(dir)).toEqual(['000003.jsonl']);
    expect(readJournal(dir).entries).toEqual([{ c: 'also long enough, but close does not rotate' }]);
  });

  it('prunes old runs on open as well', () => {
    const dir = tempDir();
    for (let run = 0; run < 5; run++) {
      const j = Journal.open(dir, { keep: 3 });
      j.append({ run });
      j.close();
    }
    expect(readdirSync(dir).sort()).toEqual(['000003.jsonl', '000004.jsonl', '000005.jsonl']);
    expect(readJournal(dir).entries).toEqual([{ run: 2 }, { run: 3 }, { run: 4 }]);
  });
});

describe('readJournal', () => {
  it('skips a torn last line and names file and line', () => {
    const dir = tempDir();
    const j = Journal.open(dir);
    j.append({ i: 1 });
    j.append({ i: 2 });
    j.close();
    appendFileSync(j.segment, '{"i":3,"tr');
    const later = Journal.open(dir); // the next run must not append after the torn line
    later.append({ i: 4 });
    later.close();

    const read = readJournal(dir);
    expect(read.entries).toEqual([{ i: 1 }, { i: 2 }, { i: 4 }]);
    expect(read.problems).toEqual([`${j.segment}:3: torn last line (10 bytes) skipped — written during a crash`]);
  });

  it('skips an unterminated last line only when it could be the start of a line', () => {
    const dir = tempDir();
    const whole = segmentText({ a: 1 }, { a: 2 });
    writeFileSync(join(dir, '000001.jsonl'), `${whole}{"a":3,"ch`);
    writeFileSync(join(dir, '000002.jsonl'), whole.slice(0, -1)); // a whole line missing only its newline
    expect(readJournal(dir).entries).toEqual([{ a: 1 }, { a: 2 }, { a: 1 }]);
    expect(readJournal(dir).problems).toEqual([
      `${join(dir, '000001.jsonl')}:3: torn last line (10 bytes) skipped — written during a crash`,
      `${join(dir, '000002.jsonl')}:2: torn last line (${whole.split('\n')[1]!.length} bytes) skipped — written during a crash`,
    ]);
    // A crash leaves a prefix of a line: not "12", not a whole line with more after it, not NULs ending in a newline.
    writeFileSync(join(dir, '000001.jsonl'), `${whole}12`);
    writeFileSync(join(dir, '000002.jsonl'), `${whole.slice(0, -1)}x`);
    writeFileSync(join(dir, '000003.jsonl'), `${whole}\0\0\0\n`);
    expect(() => readJournal(dir)).toThrow(
      [
        `journal ${dir} is damaged:`,
        `${join(dir, '000001.jsonl')}:3: unterminated last line of 2 bytes that is not the start of an entry`,
        `${join(dir, '000002.jsonl')}:2: unterminated last line of ${whole.split('\n')[1]!.length + 1} bytes that is not the start of an entry`,
        `${join(dir, '000003.jsonl')}:3: no "chk" check at the end of the line (damaged, or not written by fgo)`,
      ].join('\n'),
    );
  });

  it('names every damaged line file:line: a changed byte, a lost line, a moved line, a plain JSON line', () => {
    const dir = tempDir();
    const file = join(dir, '000001.jsonl');
    const lines = segmentText({ a: 1 }, { a: 2 }, { a: 3 }, { a: 4 }).split('\n');
    writeFileSync(file, [lines[0], lines[1]!.replace('2', '7'), lines[2], lines[3], ''].join('\n'));
    expect(() => readJournal(dir)).toThrow(
      new RegExp(`^journal ${dir} is damaged:\n${file}:2: check mismatch [^\n]*$`),
    );
    writeFileSync(file, [lines[0], lines[2], lines[3], ''].join('\n')); // line 2 lost: line 3 (now 2) no longer follows
    expect(() => readJournal(file)).toThrow(`${file}:2: check mismatch`);
    writeFileSync(file, [lines[0], lines[2], lines[1], lines[3], ''].join('\n'));
    expect(() => readJournal(file)).toThrow(
      new RegExp(`${file}:2: check mismatch.*\n${file}:3: check mismatch.*\n${file}:4: check mismatch`),
    );
    writeFileSync(file, '{"a":1}\n');
    expect(() => readJournal(file)).toThrow(`${file}:1: no "chk" check at the end of the line`);
  });

  it('reads segments in numeric order, ignoring other files', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '000010.jsonl'), segmentText({ n: 10 }));
    writeFileSync(join(dir, '000009.jsonl'), segmentText({ n: 9 }));
    writeFileSync(join(dir, '1000000.jsonl'), segmentText({ n: 1000000 }));
    writeFileSync(join(dir, 'notes.txt'), 'not a segment\n');
    expect(readJournal(dir).entries).toEqual([{ n: 9 }, { n: 10 }, { n: 1000000 }]);
  });

  it('reports a missing path and an empty directory', () => {
    const dir = tempDir();
    const missing = join(dir, 'nope');
    expect(() => readJournal(missing)).toThrow(missing);
    expect(readJournal(dir)).toEqual({ entries: [], segments: [], problems: [`no journal segments in ${dir}`] });
  });
});

describe('crash', () => {
  it('keeps every flushed entry when the writer is SIGKILLed', () => {
    const dir = tempDir();
    const journalDir = join(dir, 'journal');
    const script = join(dir, 'writer.ts');
    const modulePath = fileURLToPath(new URL('../../live/journal.ts', import.meta.url));
    const N = 500;
    writeFileSync(
      script,
      `import { Journal } from ${JSON.stringify(modulePath)};
const j = Journal.open(${JSON.stringify(journalDir)}, { max_bytes: 4096 });
for (let i = 0; i < ${N}; i++) {
  j.append({ i });
  if (i % 7 === 6) j.flush();
}
j.flush();
j.append({ lost: true }); // buffered, never flushed
process.kill(process.pid, 'SIGKILL');
`,
    );
    const repo = fileURLToPath(new URL('../..', import.meta.url));
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: repo, encoding: 'utf8' });
    expect(child.signal, child.stderr).toBe('SIGKILL');

    const read = readJournal(journalDir);
    expect(read.entries).toEqual(Array.from({ length: N }, (_, i) => ({ i })));
    expect(read.segments.length).toBeGreaterThan(1);
    // The next run starts after the crashed run's last segment instead of appending to it.
    const after = Journal.open(journalDir);
    expect(Number(basename(after.segment, '.jsonl'))).toBe(Number(basename(read.segments.at(-1)!, '.jsonl')) + 1);
    after.close();
  });
});

describe('property', () => {
  it('returns exactly what was appended, whatever the batches, rotations and reopens', () => {
    const batch = fc.record({
      entries: fc.array(fc.record({ v: fc.jsonValue() }), { maxLength: 8 }),
      reopen: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(batch, { maxLength: 10 }), fc.integer({ min: 1, max: 2048 }), (batches, max_bytes) => {
        const dir = tempDir();
        let j = Journal.open(dir, { max_bytes, keep: 1_000_000 });
        const appended: object[] = [];
        for (const { entries, reopen } of batches) {
          for (const e of entries) j.append(e);
          appended.push(...entries);
          if (reopen) {
            j.close();
            j = Journal.open(dir, { max_bytes, keep: 1_000_000 });
          } else {
            j.flush();
          }
        }
        j.close();
        const read = readJournal(dir);
        // A run that never wrote a line leaves no segment behind.
        expect(read.problems).toEqual(appended.length ? [] : [`no journal segments in ${dir}`]);
        // JSON's own round trip is the oracle: it turns -0 into 0, and that is what a journal keeps.
        expect(read.entries).toEqual(JSON.parse(JSON.stringify(appended)));
        rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 60 },
    );
  });
});
