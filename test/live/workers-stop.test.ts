/**
 * The agent's stop and the workers' exits, in process (the real Agent and PoolMode, real worker
 * processes, this host's /proc, dry run): a worker the engine had told to stop, still exiting when
 * the agent stops, used to report its exit after the journal was closed — an unhandled "journal …
 * is closed" error (seen in the test suite). stop() now waits for every worker, those already
 * stopping included, and worker events after it change nothing. A request whose payload cannot be
 * encoded is refused (400) before the engine places it, and the agent keeps serving.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../live/agent.ts';
import { parseLiveConfig } from '../../live/config.ts';
import { resolveRoots } from '../../formats/host/roots.ts';
import { ECHO_WORKER, running, until } from './pool-helpers.ts';

/** Ready at once; on stdin EOF it takes 400 ms to exit (a worker finishing its work). */
const SLOW_EXIT =
  'process.stdout.write(JSON.stringify({type:"ready"})+"\\n"); process.stdin.resume(); process.stdin.on("end",()=>setTimeout(()=>process.exit(0),400))';

const dirs: string[] = [];
const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function agent(command: string[]): { a: Agent; log: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'fgo-stop-'));
  dirs.push(dir);
  const cfg = parseLiveConfig(
    {
      mode: 'pool',
      interval_ms: 200,
      state_dir: join(dir, 'state'),
      cgroup_parent: `fgo-stop-${process.pid}`,
      triggers: [],
      pool: { workers: { w: { command, ready_timeout_ms: 10_000, stop_grace_ms: 4_000 } } },
      engine: { profiles: { w: { cpus: 0.5, memory_kb: 65_536, pool: { min: 1, target: 1, max: 2 } } } },
    },
    dir,
  );
  const log: string[] = [];
  const a = new Agent({
    config: cfg,
    roots: resolveRoots(),
    enforce: false,
    version: 'test',
    log: (l) => void log.push(l),
  });
  agents.push(a);
  a.start();
  return { a, log };
}

type PoolState = { pool: { workers: { fragment: string; pid: number; state: string }[] } };
const readyWorker = (a: Agent) =>
  until(() => (a.state() as PoolState).pool.workers.find((w) => w.state === 'ready'), 20_000, 'a ready worker');

describe('stopping the agent while workers exit', () => {
  it('a worker told to stop just before the agent stops is waited for: no write to a closed journal', async () => {
    const { a } = agent([process.execPath, '-e', SLOW_EXIT]);
    const w = await readyWorker(a);
    a.mode.command({ type: 'stop', fragment: w.fragment, reason: 'test: stop now' }, a.observationNow());
    await a.stop();
    expect(running(w.pid)).toBe(false); // exited before stop() resolved
    await new Promise((r) => setTimeout(r, 600)); // an unhandled error from a late exit would fail this file
  }, 30_000);

  it('a payload JSON.stringify cannot encode is refused with 400 before the engine sees it; the next request is served', async () => {
    const { a } = agent([process.execPath, ECHO_WORKER]);
    await readyWorker(a);
    const deep = JSON.parse('['.repeat(30_000) + ']'.repeat(30_000));
    const r = await a.schedule({ profile: 'w', priority: 1, payload: deep, wait: true } as never);
    expect(r.status).toBe(400);
    expect((r.body as { error: string }).error).toMatch(
      /^payload cannot be encoded as JSON: Maximum call stack size exceeded/,
    );
    const ok = await a.schedule({ profile: 'w', priority: 1, payload: { n: 1 }, wait: true } as never);
    expect(ok).toMatchObject({ status: 200, body: { ok: true, result: { echo: { n: 1 } } } });
    // nothing is left active: the refused request never held a fragment
    expect([...a.engine.engine.pools.fragments()].filter((f) => f.state === 'active').map((f) => f.id)).toEqual([]);
  }, 30_000);
});
