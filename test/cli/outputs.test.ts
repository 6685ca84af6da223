/**
 * The output rule end to end, through the real bin/fgo.mjs: fgo never replaces or deletes what
 * it cannot prove it wrote (a directory holding its .fgo-output marker, or anything with
 * --force), names from inputs never leave the output folder, and Ctrl-C during a run leaves
 * neither a run directory nor a temporary one.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT_MS, fgoAsync, ROOT } from './fgo.ts';

const TMP = mkdtempSync(join(tmpdir(), 'fgo-cli-outputs-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const fgo = (...args: string[]) => fgoAsync(args, { cwd: TMP });
let n = 0;
/** A fresh directory holding someone's notes. */
function theirs(): string {
  const d = join(TMP, `theirs${n++}`);
  mkdirSync(d);
  writeFileSync(join(d, 'notes'), 'x\n');
  return d;
}
const SHORT = ['--duration', '2s', '--scenario', 'psi-replay-1n'];

describe('fgo sim and compare --out', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('a directory fgo did not write is left alone (exit 2); --force replaces it', async () => {
    const d = theirs();
    const r = await fgo('sim', ...SHORT, '--out', d);
    expect([r.code, r.err.trim()]).toEqual([
      2,
      `--out ${d}: exists, is not empty and was not written by fgo (no .fgo-output in it), so it is left alone: name a new directory, or add --force to replace it and everything in it`,
    ]);
    expect(readdirSync(d)).toEqual(['notes']);
    expect(readdirSync(TMP).filter((x) => x.includes('.tmp-'))).toEqual([]);
    const c = await fgo('compare', ...SHORT, '--policies', 'engine,numad', '--out', d);
    expect([c.code, c.err.trim()]).toEqual([
      2,
      `--out ${d}: exists, is not empty and was not written by fgo (no .fgo-output in it), so it is left alone: name a new directory, or add --force to replace it and everything in it`,
    ]);
    expect(readFileSync(join(d, 'notes'), 'utf8')).toBe('x\n');
    const f = await fgo('sim', ...SHORT, '--out', d, '--force');
    expect(f.code, f.err).toBe(0);
    expect(readdirSync(d)).not.toContain('notes');
    expect(readdirSync(d)).toContain('metrics.json');
  });

  it('an existing file is never replaced by a run directory, even with --force', async () => {
    const f = join(TMP, 'a-file');
    writeFileSync(f, 'keep\n');
    const r = await fgo('sim', ...SHORT, '--out', f, '--force');
    expect([r.code, r.err.trim()]).toEqual([
      2,
      `--out ${f}: exists and is a file, not a directory; name a new directory`,
    ]);
    expect(readFileSync(f, 'utf8')).toBe('keep\n');
  });

  it('its own earlier output is replaced without --force (sim and compare)', async () => {
    const out = join(TMP, 'again');
    for (let i = 0; i < 2; i++) {
      const r = await fgo('sim', ...SHORT, '--out', out);
      expect(r.code, r.err).toBe(0);
    }
    expect(JSON.parse(readFileSync(join(out, '.fgo-output'), 'utf8'))).toEqual({
      format: 'fgo-output/1',
      kind: 'sim-run',
    });
    const cmp = join(TMP, 'cmp');
    for (let i = 0; i < 2; i++) {
      const r = await fgo('compare', ...SHORT, '--policies', 'engine,numad', '--out', cmp);
      expect(r.code, r.err).toBe(0);
    }
    expect(readdirSync(cmp).sort()).toEqual(['.fgo-output', 'comparison.json', 'engine', 'numad', 'report.html']);
    expect(readdirSync(TMP).filter((x) => x.includes('.tmp-'))).toEqual([]);
  });

  it('a scenario named ../../../../victim is refused before anything is written (sim and compare)', async () => {
    const s = join(TMP, 'evil.json');
    writeFileSync(s, '{\n  "name": "../../../../victim",\n  "duration": "2s"\n}\n');
    for (const cmd of ['sim', 'compare']) {
      const r = await fgo(cmd, '--scenario', s);
      expect(r.code).toBe(2);
      expect(r.err.trim()).toBe(
        `${s}:2:11: name: 1 to 64 letters, digits, '_', '.' or '-' (not '.' or '..'): it names the output directory`,
      );
    }
    expect(existsSync(join(TMP, 'out'))).toBe(false);
  });
});

describe('single-file outputs', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('record and trace import: --out naming a directory is a one-line error, exit 1', async () => {
    const d = theirs();
    const rec = await fgo('record', '--duration', '1s', '--out', d);
    expect([rec.code, rec.err.trim()]).toEqual([1, `--out ${d}: exists and is a directory; name a new file`]);
    const imp = await fgo('trace', 'import', '--format', 'nab', join(ROOT, 'traces/nab/nyc_taxi.csv'), '--out', d);
    expect([imp.code, imp.err.trim()]).toEqual([1, `--out ${d}: exists and is a directory; name a new file`]);
    expect(readdirSync(d)).toEqual(['notes']);
  });

  it('record: an existing file is kept unless --force', async () => {
    const f = join(TMP, 'host.csv');
    writeFileSync(f, 'precious\n');
    const r = await fgo('record', '--duration', '1s', '--interval', '500ms', '--out', f);
    expect([r.code, r.err.trim()]).toEqual([
      1,
      `--out ${f}: exists; fgo does not replace a file it cannot prove it wrote: name a new file, or add --force to replace it`,
    ]);
    expect(readFileSync(f, 'utf8')).toBe('precious\n');
  });

  it('report: an existing --out and a foreign --images directory are kept unless --force', async () => {
    const run = join(TMP, 'for-report');
    expect((await fgo('sim', ...SHORT, '--out', run)).code).toBe(0);
    const html = join(TMP, 'r.html');
    writeFileSync(html, 'mine');
    const r = await fgo('report', run, '--out', html);
    expect([r.code, r.err.trim()]).toEqual([
      1,
      `--out ${html}: exists; fgo does not replace a file it cannot prove it wrote: name a new file, or add --force to replace it`,
    ]);
    const img = theirs();
    const i = await fgo('report', run, '--out', join(TMP, 'r2.html'), '--images', img);
    expect(i.code).toBe(1);
    expect(i.err).toContain(`--images ${img}: exists, is not empty and was not written by fgo`);
    expect(readFileSync(html, 'utf8')).toBe('mine');
    expect(existsSync(join(TMP, 'r2.html'))).toBe(false);
  });
});

describe('Ctrl-C during a run', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('SIGINT removes the temporary run directory; the process dies of the signal; nothing is left', async () => {
    const parent = join(TMP, 'sigint');
    mkdirSync(parent);
    const out = join(parent, 'run');
    // diurnal-8n for 24 h takes minutes: long enough to be interrupted mid-run.
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin/fgo.mjs'), 'sim', '--scenario', 'diurnal-8n', '--out', out],
      { cwd: TMP, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1' } },
    );
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
      child.on('exit', (code, signal) => done({ code, signal })),
    );
    // Wait (polling, no fixed delay) until the run has made its temporary directory: the run is under way.
    const tmpOf = () => readdirSync(parent).find((x) => x.startsWith(`run.tmp-${child.pid}-`));
    for (let i = 0; i < 6000 && !tmpOf() && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
    expect(tmpOf(), err).toBeDefined();
    child.kill('SIGINT');
    const { code, signal } = await exited;
    expect({ code, signal, err }).toEqual({ code: null, signal: 'SIGINT', err: '' });
    expect(readdirSync(parent)).toEqual([]);
  });
});
