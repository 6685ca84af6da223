/**
 * A crashed worker restarted from the engine's `restart` command alone, in process (the real
 * Agent and PoolMode, real echo workers, this host's /proc, dry run): the command names the
 * profile, node and CPUs to start the new process with, so pool mode reads nothing of the engine
 * to carry it out. The journal keeps the command in its recorded form (engine/record.ts) and the
 * whole run replays with no difference.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Command } from '../../engine/types.ts';
import { Agent } from '../../live/agent.ts';
import { parseLiveConfig } from '../../live/config.ts';
import { readJournal } from '../../live/journal.ts';
import type { JournalEntry } from '../../live/port.ts';
import { replay } from '../../live/replay.ts';
import { resolveRoots } from '../../formats/host/roots.ts';
import { ECHO_WORKER, until } from './pool-helpers.ts';

const dirs: string[] = [];
const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

type PoolState = { pool: { workers: { fragment: string; pid: number; state: string }[] } };

describe('a crashed pool worker', () => {
  it('is restarted where the restart command says; the journal records it as before and replays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fgo-restart-'));
    dirs.push(dir);
    const cfg = parseLiveConfig(
      {
        mode: 'pool',
        interval_ms: 200,
        state_dir: join(dir, 'state'),
        cgroup_parent: `fgo-restart-${process.pid}`,
        triggers: [],
        // stable_ms 0: the crash is the engine's to heal, not a start failure the guard backs off from.
        pool: {
          workers: { echo: { command: [process.execPath, ECHO_WORKER], ready_timeout_ms: 10_000 } },
          start_backoff: { stable_ms: 0 },
        },
        engine: { profiles: { echo: { cpus: 0.5, memory_kb: 65_536, pool: { min: 1, target: 1, max: 1 } } } },
      },
      dir,
    );
    const a = new Agent({ config: cfg, roots: resolveRoots(), enforce: false, version: 'test', log: () => {} });
    agents.push(a);
    a.start();
    const workers = () => (a.state() as PoolState).pool.workers;
    const first = await until(() => workers().find((w) => w.state === 'ready'), 20_000, 'a ready worker');

    process.kill(first.pid, 'SIGKILL');
    const second = await until(
      () => workers().find((w) => w.fragment === first.fragment && w.pid !== first.pid && w.state === 'ready'),
      20_000,
      'the restarted worker, ready',
    );
    const served = await a.schedule({ profile: 'echo', priority: 1, payload: { n: 1 }, wait: true });
    expect(served).toMatchObject({
      status: 200,
      body: { fragment: first.fragment, ok: true, result: { echo: { n: 1 } } },
    });
    await a.stop();

    const entries = readJournal(join(cfg.state_dir, 'journal')).entries as JournalEntry[];
    const calls = entries.filter((e): e is Extract<JournalEntry, { type: 'call' }> => e.type === 'call');
    const crash = calls.find((c) => c.op === 'failed' && c.args[0] === first.fragment);
    const restart = (crash?.out as Command[] | undefined)?.find((c) => c.type === 'restart');
    // Recorded as it always was: no profile, node or CPUs (they follow from the engine's state).
    expect(restart && Object.keys(restart)).toEqual(['type', 'fragment', 'reason', 'timeout_ms']);
    expect(calls.some((c) => c.op === 'started' && c.args[0] === second.fragment)).toBe(true);
    const report = replay(entries);
    expect(report).toMatchObject({ differences: [], problems: [], unchecked: [] });
    expect(report.calls).toBe(calls.length);
  }, 40_000);
});
