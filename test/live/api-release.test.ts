/**
 * Behind the API: a request placed on a warm worker that cannot be handed to it (its payload
 * cannot be encoded — what a 30,000-deep payload did before the API bounded depth) must give the
 * fragment back and answer the client, not leave the fragment "active" for good. The API no longer
 * lets such a payload through, so this calls the in-process pool-mode agent (dry run, real echo
 * workers) directly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Agent } from '../../live/agent.ts';
import { parseLiveConfig } from '../../live/config.ts';
import { resolveRoots } from '../../live/roots.ts';
import { ECHO_WORKER, QUIET_PRESSURE, removeCgroups, until } from './pool-helpers.ts';

let agent: Agent, dir = '';
const parent = `fgo-api-release-${process.pid}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fgo-api-release-'));
  const cfg = parseLiveConfig({
    mode: 'pool', interval_ms: 200, state_dir: join(dir, 'state'), cgroup_parent: parent, triggers: [],
    pool: { workers: { echo: { command: [process.execPath, ECHO_WORKER], ready_timeout_ms: 10_000, stop_grace_ms: 2_000 } } },
    engine: { pressure: QUIET_PRESSURE, profiles: { echo: { cpus: 0.5, memory_kb: 65_536, pool: { min: 1, target: 1, max: 1 } } } },
  }, dir);
  agent = new Agent({ config: cfg, roots: resolveRoots(), enforce: false, version: 'test', log: () => {} });
  agent.start();
  await until(() => agent.engine.engine.status().pools.some((p) => p.warm >= 1), 30_000, 'a warm echo worker');
}, 60_000);

afterAll(async () => {
  await agent.stop();
  removeCgroups(parent);
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

it('completes a request its worker cannot be handed as failed, answers 500, and serves the next one on the same worker', async () => {
  let deep: unknown = 0;
  for (let i = 0; i < 30_000; i++) deep = [deep];
  const r = await agent.schedule({ profile: 'echo', priority: 1, payload: deep, wait: true });
  expect(r.status).toBe(500);
  expect((r.body as { error: string }).error).toMatch(/^request could not be handed to a worker: Maximum call stack size exceeded/);
  const echo = () => agent.engine.engine.status().pools.find((p) => p.profile === 'echo');
  expect([echo()?.active, echo()?.warm]).toEqual([0, 1]); // the only worker is free again
  const ok = await agent.schedule({ profile: 'echo', priority: 1, payload: { n: 2 }, wait: true });
  expect([ok.status, (ok.body as { result: unknown }).result]).toMatchObject([200, { echo: { n: 2 } }]);
}, 30_000);
