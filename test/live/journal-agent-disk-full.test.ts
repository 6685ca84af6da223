/**
 * The real `fgo live` agent (pool mode, dry run) with its state dir on a small real tmpfs: filled
 * to ENOSPC under a running agent, and restarted on the full disk. The agent must stay up, answer
 * /healthz, refuse new work with 503 + Retry-After naming the errno, say so once in its log, leave
 * no empty segment, recover by itself once space returns, and its journal must replay clean.
 * Skipped, saying why, where tmpfs cannot be mounted (not root).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fgo } from './fixtures.ts';
import {
  harness,
  http,
  startAgent,
  state,
  stopAgent,
  teardown,
  until,
  writePoolConfig,
  type AgentProc,
  type Harness,
} from './pool-helpers.ts';
import { smallDisk, tmpfsUnavailable, type SmallDisk } from './tmpfs.ts';

const why = tmpfsUnavailable();
if (why) console.warn(`agent full-disk tests skipped: ${why}`);

const SCHEDULE = '/v1/schedule';
const echo = { profile: 'echo', priority: 'normal', payload: { x: 1 } };
let h: Harness;
let disk: SmallDisk | undefined;

beforeEach(() => {
  h = harness();
});
afterEach(async () => {
  await teardown(h);
  disk?.remove();
  disk = undefined;
});

/** Every segment of the journal, with its size: none may be empty. */
const segments = (journal: string) =>
  readdirSync(journal)
    .sort()
    .map((n) => ({ n, bytes: statSync(join(journal, n)).size }));

async function degraded(a: AgentProc): Promise<{ code: string } | null> {
  return (await state(h, a)).journal.degraded;
}

async function refusedWith503(a: AgentProc): Promise<void> {
  const r = await http(a.url, 'POST', SCHEDULE, { token: a.token, body: echo });
  expect(r.status, r.text).toBe(503);
  expect(r.headers['retry-after']).toBe('1');
  expect(r.body).toMatchObject({ error: 'journal cannot write: ENOSPC', retry_after_s: 1 });
  expect((await http(a.url, 'GET', '/healthz')).status).toBe(200);
}

describe.skipIf(why !== undefined)('the agent on a full disk (real tmpfs as state_dir)', () => {
  it('stays up and refuses new work while the disk is full, recovers when space returns, replays clean; restarts on a full disk leave no empty segment', async () => {
    disk = smallDisk(2048);
    h.stateDir = disk.dir;
    writePoolConfig(h);
    const journal = join(disk.dir, 'journal');

    const a = await startAgent(h);
    await until(
      async () => (await http(a.url, 'POST', SCHEDULE, { token: a.token, body: echo })).status === 200,
      30_000,
      'a first request placed',
    );
    expect(await degraded(a)).toBeNull();

    disk.fill();
    await until(async () => (await degraded(a))?.code === 'ENOSPC', 20_000, 'the journal to report ENOSPC');
    await refusedWith503(a);
    expect(a.exit).toBeUndefined();
    const complaints = a
      .stderr()
      .split('\n')
      .filter((l) => / journal \S+: cannot write \S+\.jsonl: ENOSPC/.test(l));
    expect(complaints).toHaveLength(1);
    expect(a.stderr()).not.toMatch(/\n\s+at /); // no stack trace

    disk.free();
    await until(async () => (await degraded(a)) === null, 20_000, 'the journal to write again');
    expect(a.stderr()).toMatch(/ journal \S+: writing again/);
    expect((await http(a.url, 'POST', SCHEDULE, { token: a.token, body: echo })).status).toBe(200);
    expect(await stopAgent(a)).toEqual({ code: 0, signal: null });

    // Two restarts on a full disk: each starts, refuses, stops cleanly, and leaves the journal as it was.
    const before = segments(journal);
    disk.fill();
    for (let run = 0; run < 2; run++) {
      const b = await startAgent(h);
      await until(async () => (await degraded(b))?.code === 'ENOSPC', 20_000, 'the restarted journal to report ENOSPC');
      await refusedWith503(b);
      expect(await stopAgent(b)).toEqual({ code: 0, signal: null });
      expect(b.stderr()).toMatch(/closing with \d+ entries never written \(ENOSPC\): they are lost/);
      expect(segments(journal)).toEqual(before);
    }
    disk.free();

    expect(before.every((s) => s.bytes > 0)).toBe(true);
    const r = fgo(['replay', journal, '--json']);
    expect(r.code, r.err).toBe(0);
    const rep = JSON.parse(r.out) as {
      epochs: number;
      calls: number;
      decisions: number;
      differences: unknown[];
      problems: string[];
      unchecked: string[];
    };
    expect(rep).toMatchObject({ epochs: 1, differences: [], problems: [], unchecked: [] });
    expect(rep.decisions).toBeGreaterThanOrEqual(2);
  }, 180_000);
});
