/**
 * The API's start and stop on the real CLI: SIGTERM under load drains (every client that was
 * waiting gets an answer, 200 or 503, never a reset; requests arriving meanwhile get 503 with
 * Retry-After), a taken port fails in one line with exit 1 before anything is started, and a bad
 * `sim --serve` address is a usage error (exit 2).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CPUSET_ROOT,
  FGO,
  harness,
  http,
  spawnAgent,
  startAgent,
  state,
  teardown,
  until,
  writePoolConfig,
  type Harness,
} from './pool-helpers.ts';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(() => teardown(h), 40_000);

/** A request's status, or the error code when the connection failed (a reset would show as ECONNRESET). */
const outcome = (p: Promise<{ status: number; headers: Record<string, unknown> }>) =>
  p.then(
    (r) => ({ status: r.status, retry: r.headers['retry-after'] }),
    (e: NodeJS.ErrnoException) => ({ status: e.code ?? String(e), retry: undefined }),
  );

describe('SIGTERM under load', () => {
  it('answers every waiting client (200 or 503), refuses new work with 503 + Retry-After, then exits 0', async () => {
    writePoolConfig(h);
    const a = await startAgent(h);
    await until(
      async () => (await state(h, a)).pool.workers.filter((w: { state: string }) => w.state === 'ready').length >= 2,
      30_000,
      'two ready workers',
    );
    const work = { profile: 'echo', payload: { work_ms: 1_500 }, wait: true };
    const waiting = Array.from({ length: 6 }, () =>
      outcome(http(a.url, 'POST', '/v1/schedule', { token: a.token, body: work })),
    );
    await until(async () => (await state(h, a)).pool.pending >= 6, 10_000, 'six requests in the agent');
    a.child.kill('SIGTERM');
    await until(() => a.stderr().includes('SIGTERM: draining'), 10_000, 'the drain to begin', 20);
    const late = await outcome(http(a.url, 'POST', '/v1/schedule', { token: a.token, body: work }));
    expect(late).toEqual({ status: 503, retry: '5' });
    const answers = await Promise.all(waiting);
    for (const r of answers) expect([200, 503]).toContain(r.status);
    expect(answers.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(2); // the two warm workers finish theirs
    expect(await a.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe('a taken port', () => {
  let blocker: Server | undefined;
  afterEach(() => new Promise<void>((r) => (blocker ? blocker.close(() => r()) : r())));

  it('fails in one line with exit 1, having started no worker, journal or cgroup', async () => {
    writePoolConfig(h);
    blocker = createServer();
    await new Promise<void>((r) => blocker!.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as { port: number }).port;
    const a = spawnAgent(h, ['--listen', `127.0.0.1:${taken}`]);
    expect(await a.exited).toEqual({ code: 1, signal: null });
    expect(a.stderr()).toBe(
      `cannot listen on 127.0.0.1:${taken}: address already in use (another process listens there)\n`,
    );
    expect(existsSync(join(h.stateDir, 'journal'))).toBe(false);
    expect(existsSync(join(CPUSET_ROOT, h.parent))).toBe(false);
  }, 30_000);
});

describe('fgo sim --serve', () => {
  it('refuses an address that is not host:port with a usage error (exit 2) before running anything', () => {
    const out = join(h.dir, 'run');
    const r = spawnSync(process.execPath, [FGO, 'sim', '--duration', '1s', '--serve', 'nonsense', '--out', out], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect([r.status, r.stderr]).toEqual([
      2,
      '--serve: listen address "nonsense": expected host:port, e.g. 127.0.0.1:9464 or [::1]:9464 (IPv6 in brackets)\n',
    ]);
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});
