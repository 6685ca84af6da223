/**
 * Running the real `bin/fgo.mjs` from tests, one process at a time per test file, with no tight
 * timeout: on a 2-CPU machine with both CPUs busy (`stress-ng --cpu 4` beside the suite) a node
 * start alone takes several seconds, and a dozen started at once used to outlast vitest's timeout.
 * Tests assert what a command does, never how fast.
 */
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = new URL('../../', import.meta.url).pathname;
/** A child still running after this long is hung, not slow: killed, and its test fails. */
export const FGO_TIMEOUT_MS = 600_000;
/** vitest's timeout for a test that runs a few CLI processes (the config's default is 120 s). */
export const CLI_TEST_TIMEOUT_MS = 900_000;

export interface FgoResult {
  code: number | null;
  out: string;
  err: string;
  signal?: NodeJS.Signals | null;
}

const env = (extra?: Record<string, string>) => ({ ...process.env, CI: '1', ...extra });

/** `fgo ARGS…`, synchronously. */
export function fgoSync(args: readonly string[], o: { cwd?: string; env?: Record<string, string> } = {}): FgoResult {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/fgo.mjs'), ...args], {
    cwd: o.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: FGO_TIMEOUT_MS,
    env: env(o.env),
  });
  return { code: r.status, out: r.stdout, err: r.stderr, signal: r.signal };
}

// One child at a time: calls made together (Promise.all, concurrent tests) wait their turn.
let queue: Promise<unknown> = Promise.resolve();

/** `fgo ARGS…` as a promise, queued behind every earlier call of this file's tests. */
export function fgoAsync(
  args: readonly string[],
  o: { cwd?: string; env?: Record<string, string> } = {},
): Promise<FgoResult> {
  const run = () =>
    new Promise<FgoResult>((resolve) => {
      execFile(
        process.execPath,
        [join(ROOT, 'bin/fgo.mjs'), ...args],
        { cwd: o.cwd ?? ROOT, encoding: 'utf8', timeout: FGO_TIMEOUT_MS, maxBuffer: 256 << 20, env: env(o.env) },
        (e, out, err) => {
          resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, out, err, signal: e?.signal ?? null });
        },
      );
    });
  const p = queue.then(run, run);
  queue = p;
  return p;
}
