/**
 * formats/files.ts, formats/outputs.ts and formats/inputs.ts on real files: atomic writes leave
 * the whole new file or the old one and no temporary; the output rule (replace only what fgo
 * marked, or with --force); names that may become path components; inputs refused before they
 * are read when they are not regular files or are too large.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commitDir, makeTempDir, writeFileAtomic } from '../../formats/files.ts';
import { openInput, readInputText } from '../../formats/inputs.ts';
import {
  markerText,
  OUTPUT_MARKER,
  outputDirProblem,
  outputFileProblem,
  unsafeNameProblem,
} from '../../formats/outputs.ts';
import { readJson } from '../../formats/jsonfile.ts';
import { inputProblems } from '../helpers.ts';

const TMP = mkdtempSync(join(tmpdir(), 'fgo-files-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const dir = (name: string) => {
  const d = join(TMP, name);
  mkdirSync(d, { recursive: true });
  return d;
};

describe('writeFileAtomic', () => {
  it('writes the whole file, creates its directory, replaces an earlier one, leaves no temporary', () => {
    const f = join(TMP, 'a', 'b', 'out.txt');
    writeFileAtomic(f, 'one\n');
    writeFileAtomic(f, new Uint8Array([0x74, 0x77, 0x6f]));
    expect(readFileSync(f, 'utf8')).toBe('two');
    expect(readdirSync(join(TMP, 'a', 'b'))).toEqual(['out.txt']);
  });

  it('gives a new file the mode asked for (umask permitting)', () => {
    const f = join(dir('mode'), 'secret');
    writeFileAtomic(f, 'x', 0o600);
    expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  it('fails on a target that is a directory, leaving it and no temporary', () => {
    const d = dir('isdir');
    mkdirSync(join(d, 'out'));
    expect(() => writeFileAtomic(join(d, 'out'), 'x')).toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(readdirSync(d)).toEqual(['out']);
  });
});

describe('makeTempDir / commitDir', () => {
  it('puts a directory in place whole, replacing an earlier one and removing it', () => {
    const parent = dir('dirs');
    const target = join(parent, 'run');
    const t1 = makeTempDir(target);
    writeFileSync(join(t1, 'a'), '1');
    commitDir(t1, target);
    const t2 = makeTempDir(target);
    expect(t2.startsWith(`${target}.tmp-${process.pid}-`)).toBe(true);
    writeFileSync(join(t2, 'b'), '2');
    commitDir(t2, target);
    expect(readdirSync(target)).toEqual(['b']);
    expect(readdirSync(parent)).toEqual(['run']);
  });
});

describe('the output rule', () => {
  it('a file output: new is fine; an existing file only with --force; never a directory, link or device', () => {
    const d = dir('rule-file');
    writeFileSync(join(d, 'f'), 'mine');
    mkdirSync(join(d, 'sub'));
    symlinkSync('/etc/passwd', join(d, 'link'));
    expect(outputFileProblem('--out', join(d, 'new'), false)).toBeUndefined();
    expect(outputFileProblem('--out', join(d, 'f'), false)).toBe(
      `--out ${join(d, 'f')}: exists; fgo does not replace a file it cannot prove it wrote: name a new file, or add --force to replace it`,
    );
    expect(outputFileProblem('--out', join(d, 'f'), true)).toBeUndefined();
    expect(outputFileProblem('--out', join(d, 'sub'), true)).toBe(
      `--out ${join(d, 'sub')}: exists and is a directory; name a new file`,
    );
    expect(outputFileProblem('--out', join(d, 'link'), true)).toBe(
      `--out ${join(d, 'link')}: exists and is a symbolic link; name a new file`,
    );
    expect(outputFileProblem('--out', '/dev/null', true)).toBe(
      '--out /dev/null: exists and is a special file (device, FIFO or socket); name a new file',
    );
  });

  it('a directory output: new, empty or marked by fgo is fine; anything else only with --force; never a file', () => {
    const d = dir('rule-dir');
    mkdirSync(join(d, 'empty'));
    mkdirSync(join(d, 'theirs'));
    writeFileSync(join(d, 'theirs', 'notes'), 'x');
    mkdirSync(join(d, 'ours'));
    writeFileSync(join(d, 'ours', OUTPUT_MARKER), markerText('sim-run'));
    writeFileSync(join(d, 'ours', 'metrics.json'), '{}');
    mkdirSync(join(d, 'fake'));
    writeFileSync(join(d, 'fake', OUTPUT_MARKER), 'not the marker');
    writeFileSync(join(d, 'file'), 'x');
    for (const ok of ['absent', 'empty', 'ours']) expect(outputDirProblem('--out', join(d, ok), false)).toBeUndefined();
    expect(outputDirProblem('--out', join(d, 'theirs'), false)).toBe(
      `--out ${join(d, 'theirs')}: exists, is not empty and was not written by fgo (no .fgo-output in it), so it is left alone: name a new directory, or add --force to replace it and everything in it`,
    );
    expect(outputDirProblem('--out', join(d, 'fake'), false)).toMatch(/was not written by fgo/);
    expect(outputDirProblem('--out', join(d, 'theirs'), true)).toBeUndefined();
    expect(outputDirProblem('--out', join(d, 'file'), true)).toBe(
      `--out ${join(d, 'file')}: exists and is a file, not a directory; name a new directory`,
    );
  });

  it('names from inputs: only 1–64 of [A-Za-z0-9_.-], never . or ..', () => {
    for (const ok of ['default', 'faults-8n', 'a.b_c', 'x'.repeat(64), '...'])
      expect(unsafeNameProblem('name', ok)).toBeUndefined();
    for (const bad of ['../../../../victim', 'a/b', '/etc', '..', '.', '', 'a\u0000b', 'x'.repeat(65), 'sp ace', 'é']) {
      expect(unsafeNameProblem('name', bad)).toMatch(
        /^name: .* cannot name a file or directory: use 1 to 64 letters, digits, '_', '\.' or '-' \(not '\.' or '\.\.'\)$/,
      );
    }
    // A very long name is cut in the message, not echoed whole.
    expect((unsafeNameProblem('name', 'y'.repeat(10_000)) as string).length).toBeLessThan(200);
  });
});

describe('bounded inputs', () => {
  it('refuses a FIFO at once (opening it does not wait for a writer), a device and a directory', () => {
    const fifo = join(dir('special'), 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(inputProblems(() => readInputText(fifo, 1024, 'JSON input'))).toEqual([
      `${fifo}: a FIFO, not a regular file: fgo reads JSON input only from regular files`,
    ]);
    expect(inputProblems(() => readInputText('/dev/zero', 1024, 'CSV input'))).toEqual([
      '/dev/zero: a character device, not a regular file: fgo reads CSV input only from regular files',
    ]);
    expect(inputProblems(() => readInputText(TMP, 1024, 'JSON input'))).toEqual([
      `${TMP}: a directory, not a regular file: fgo reads JSON input only from regular files`,
    ]);
  });

  it('refuses a file over its limit before reading it, and names a missing one', () => {
    const f = join(dir('size'), 'big.json');
    writeFileSync(f, 'x'.repeat(1025));
    expect(inputProblems(() => readInputText(f, 1024, 'JSON input'))).toEqual([
      `${f}: 1025 bytes, over the limit of 1024 bytes for JSON input`,
    ]);
    expect(readInputText(f, 1025, 'JSON input')).toHaveLength(1025);
    expect(inputProblems(() => openInput(join(TMP, 'nope'), 1, 'JSON input'))).toEqual([
      `${join(TMP, 'nope')}: cannot read: ENOENT`,
    ]);
  });

  it('readJson refuses JSON nested deeper than 64 at the bracket that goes too deep, without a stack overflow', () => {
    const f = join(dir('deep'), 'deep.json');
    writeFileSync(f, `{"a":\n${'['.repeat(30_000)}${']'.repeat(30_000)}}`);
    expect(inputProblems(() => readJson(f))).toEqual([`${f}:2:64: JSON nested deeper than 64 levels`]);
    writeFileSync(f, `${'['.repeat(64)}${']'.repeat(64)}`);
    expect(readJson(f).value).toBeInstanceOf(Array);
  });

  it('reading a FIFO through the CLI ends at once with exit 1 (no hang)', () => {
    const fifo = join(dir('cli-fifo'), 'config.json');
    execFileSync('mkfifo', [fifo]);
    const r = spawnSync(
      process.execPath,
      [new URL('../../bin/fgo.mjs', import.meta.url).pathname, 'config', 'check', fifo],
      { encoding: 'utf8', timeout: 600_000 },
    );
    expect([r.status, r.stderr.trim()]).toEqual([
      1,
      `${fifo}: a FIFO, not a regular file: fgo reads JSON input only from regular files`,
    ]);
  }, 900_000);
});
