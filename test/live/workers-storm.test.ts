/**
 * A worker command that cannot start, against the real `fgo live` agent in pool mode on loopback
 * (test/live/pool-helpers.ts). Before the start guard, `/bin/false` plus one `wait: true` request
 * gave thousands of spawns in seconds, a deaf /healthz, growing memory, an ignored SIGTERM and no
 * reason in the log. Now, with the default backoff (0.5 s doubling, breaker open after 5 failures):
 *
 * - failures 1–5 come ≈ 0, 0, 0.4–0.5, 1.2–1.5, 2.9–3.5 s apart at most (two first starts at once,
 *   then one trial at a time), so about 6 s after start the breaker is open with exactly 5 spawns;
 * - each failure is logged with its reason (exit code or ENOENT);
 * - a waiting request is answered 503 with Retry-After as the breaker opens, later ones at once;
 * - /healthz answers throughout and SIGTERM ends the agent with exit 0.
 *
 * Counts are bounded from above by the backoff arithmetic, never by how fast this machine is: a
 * slower machine only spawns less. A third test has the command start working while the breaker
 * is open: the half-open trial succeeds, the breaker closes and requests are served again.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  eachHarness,
  ECHO_WORKER,
  http,
  startAgent,
  state,
  stopAgent,
  until,
  writePoolConfig,
  type AgentProc,
  type Harness,
} from './pool-helpers.ts';

const TEST_MS = 90_000;
const SCHEDULE = '/v1/schedule';
const request = { profile: 'echo', priority: 'normal', payload: { x: 1 }, wait: true };

let h: Harness;
eachHarness((x) => (h = x));

const failures = (a: AgentProc) =>
  a
    .stderr()
    .split('\n')
    .filter((l) => / failed to start: /.test(l));

/** Every /healthz of `n` answered 200 (sequentially, each within the helper's 20 s). */
async function healthy(a: AgentProc, n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect((await http(a.url, 'GET', '/healthz')).status).toBe(200);
}

/** The breaker opens; a waiting request and later ones get 503 + Retry-After; SIGTERM ends it cleanly. */
async function stormIsContained(a: AgentProc, reason: RegExp): Promise<void> {
  const t0 = Date.now();
  const waiting = await http(a.url, 'POST', SCHEDULE, { token: a.token, body: request });
  expect(waiting.status, waiting.text).toBe(503);
  expect(Number(waiting.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(waiting.body).toMatchObject({
    action: 'unavailable',
    profile: 'echo',
    retry_after_s: Number(waiting.headers['retry-after']),
  });
  expect(waiting.body?.error).toMatch(reason);
  const open = (await state(h, a)).pool.breakers.echo;
  expect(open).toMatchObject({ state: 'open', failures: 5 });

  // open: answered at once, the engine not even asked (no new request id)
  const again = await http(a.url, 'POST', SCHEDULE, { token: a.token, body: request });
  expect(again.status).toBe(503);
  expect(again.body?.request_id).toBeUndefined();
  await healthy(a, 20);

  // 5 spawns opened it; in the time since at most ⌈elapsed / 6.4 s⌉ more trials can have begun
  // (the 5th delay is ≥ 0.8 · 8 s), and every one of them was logged with its reason.
  const lines = failures(a);
  expect(lines.length).toBeGreaterThanOrEqual(5);
  expect(lines.length).toBeLessThanOrEqual(5 + Math.ceil((Date.now() - t0) / 6_400));
  for (const l of lines) expect(l).toMatch(reason);
  expect(a.stderr()).toMatch(
    /circuit open for profile echo after 5 start failures in a row: its requests are answered 503/,
  );

  expect(await stopAgent(a, 'SIGTERM', 20_000)).toEqual({ code: 0, signal: null });
}

describe('a worker command that cannot start', () => {
  it(
    '/bin/false: backoff, breaker open after 5, 503 + Retry-After, reason logged, healthz up, SIGTERM honoured',
    async () => {
      writePoolConfig(h, { pool: { workers: { echo: { command: ['/bin/false'] } } } });
      const a = await startAgent(h, { enforce: true });
      await stormIsContained(a, /exited with code 1/);
    },
    TEST_MS,
  );

  it(
    'a program that does not exist: the same, the reason is ENOENT',
    async () => {
      writePoolConfig(h, { pool: { workers: { echo: { command: ['/nonexistent/prog'] } } } });
      const a = await startAgent(h, { enforce: true });
      await stormIsContained(a, /cannot start '\/nonexistent\/prog': no such program .*\(ENOENT\)/);
    },
    TEST_MS,
  );

  it(
    'once the command works again the half-open trial closes the breaker and requests are served',
    async () => {
      const flag = join(h.dir, 'fixed');
      // fails, saying why on stderr, until the flag file exists; then it is the echo worker
      const script = `test -e '${flag}' && exec '${process.execPath}' '${ECHO_WORKER}'; echo "not configured yet" >&2; exit 7`;
      writePoolConfig(h, {
        pool: {
          start_backoff: { initial_ms: 200, max_ms: 1_000, open_after: 3 },
          workers: { echo: { command: ['/bin/sh', '-c', script] } },
        },
      });
      const a = await startAgent(h);
      const refused = await until(
        async () => {
          const r = await http(a.url, 'POST', SCHEDULE, { token: a.token, body: request });
          return r.status === 503 ? r : undefined;
        },
        30_000,
        'the breaker to open',
        100,
      );
      expect(refused.body?.error).toMatch(/exited with code 7; stderr: "not configured yet"/);
      writeFileSync(flag, '');
      const served = await until(
        async () => {
          const r = await http(a.url, 'POST', SCHEDULE, { token: a.token, body: request });
          return r.status === 200 ? r : undefined;
        },
        30_000,
        'a request served after the fix',
        200,
      );
      expect(served.body).toMatchObject({ action: 'place', ok: true, result: { echo: { x: 1 } } });
      expect((await state(h, a)).pool.breakers.echo?.state).toBe('closed');
    },
    TEST_MS,
  );
});
