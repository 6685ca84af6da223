/**
 * The fragment graph in the live agent's pool mode, end to end on this host: a `front` worker
 * (live/examples/echo-worker.mjs) calls a `back` worker through its own pipe (live/pool-calls.ts),
 * the agent schedules the call with the engine and answers it; a call the config does not declare
 * is refused; the journal, `calling` entries included, replays byte for byte.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJournal } from '../../live/journal.ts';
import type { JournalEntry } from '../../live/port.ts';
import {
  ECHO_WORKER,
  eachHarness,
  FGO,
  http,
  startAgent,
  state,
  stopAgent,
  until,
  writePoolConfig,
  type AgentProc,
} from './pool-helpers.ts';

const TEST_MS = 60_000;

const harnessNow = eachHarness();

const worker = { command: [process.execPath, ECHO_WORKER], ready_timeout_ms: 10_000, stop_grace_ms: 2_000 };

/** front calls back (sync); both echo workers, one warm each. */
function graphConfig(): void {
  writePoolConfig(harnessNow(), {
    pool: { workers: { echo: undefined, front: worker, back: worker } },
    engine: {
      profiles: {
        echo: undefined,
        front: {
          cpus: 0.5,
          memory_kb: 65_536,
          pool: { min: 1, target: 1, max: 2 },
          calls: [{ profile: 'back', bytes: 1024 }],
        },
        back: { cpus: 0.5, memory_kb: 65_536, pool: { min: 1, target: 1, max: 2 } },
      },
    },
  });
}

function ready(
  a: AgentProc,
  profiles: string[],
): Promise<{ pool: { workers: Array<{ profile: string; pid: number; state: string }> } }> {
  return until(
    async () => {
      const s = await state(harnessNow(), a);
      return profiles.every((p) =>
        s.pool.workers.some((w: { profile: string; state: string }) => w.profile === p && w.state === 'ready'),
      )
        ? s
        : undefined;
    },
    20_000,
    `ready workers of ${profiles.join(', ')}`,
  );
}

describe('fgo live, pool mode: calls between workers', () => {
  it(
    'a worker calls its declared callee through its pipe; an undeclared call is refused; the journal replays',
    async () => {
      graphConfig();
      const h = harnessNow();
      const a = await startAgent(h);
      const s = await ready(a, ['front', 'back']);
      const backPids = s.pool.workers.filter((w) => w.profile === 'back').map((w) => w.pid);

      const r = await http(a.url, 'POST', '/v1/schedule', {
        token: a.token,
        body: {
          profile: 'front',
          priority: 'normal',
          wait: true,
          payload: { x: 1, calls: [{ profile: 'back', payload: { y: 2 } }] },
        },
      });
      expect(r.status, r.text).toBe(200);
      expect(r.body).toMatchObject({ ok: true, result: { echo: { x: 1 }, calls: [{ echo: { y: 2 } }] } });
      expect(backPids).toContain(r.body?.result?.calls[0]?.pid);
      expect(r.body?.result?.calls[0]?.pid).not.toBe(r.body?.result?.pid);

      // back declares no calls: front may not make back call front, nor call itself.
      const bad = await http(a.url, 'POST', '/v1/schedule', {
        token: a.token,
        body: { profile: 'front', priority: 'normal', wait: true, payload: { calls: [{ profile: 'front' }] } },
      });
      expect(bad.status, bad.text).toBe(200);
      expect(bad.body).toMatchObject({
        ok: false,
        error: 'a call failed: profile front does not call front (its calls: back)',
      });

      expect(await stopAgent(a)).toEqual({ code: 0, signal: null });
      const journal = join(h.stateDir, 'journal');
      const entries = readJournal(journal).entries as JournalEntry[];
      const ops = entries.filter((e): e is Extract<JournalEntry, { type: 'call' }> => e.type === 'call');
      const callOf = ops.find((e) => e.op === 'schedule' && (e.args[0] as { caller?: string }).caller !== undefined);
      expect(callOf?.args[0]).toMatchObject({ profile: 'back', caller: expect.stringMatching(/^front-/) });
      expect(ops.some((e) => e.op === 'calling')).toBe(true);
      const rep = spawnSync(process.execPath, [FGO, 'replay', journal, '--json'], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(rep.status, rep.stderr).toBe(0);
      expect(JSON.parse(rep.stdout)).toMatchObject({ differences: [] });
    },
    TEST_MS,
  );
});
