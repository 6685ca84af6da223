/**
 * Self-healing end to end through the Orchestrator: every scenario feeds observations, reports and
 * ticks at chosen instants and asserts the exact commands, plus the incident's detected_ms and
 * recovered_ms so MTTD (detected − fault) and MTTR (recovered − detected) can be read off.
 *
 * Set-up used throughout (numbers in comments are worked out by hand from it):
 *   topology: node 0 = CPUs 0–3, node 1 = CPUs 4–7, 8388608 kB each, SLIT [[10,21],[21,10]]
 *   profile web: cpus 1, memory_kb 262144, latency_slo_ms 1000, cold_start_ms 500,
 *                preferred_nodes [1], pool min 1 / target 1 / max 64 unless a test says otherwise
 *   requests: cpus 1, memory_kb 262144, allowed_nodes [0] — served fragments live on node 0
 *   health defaults: interval 5000, heartbeat 5000/15000, recovery_timeout 30000, max_attempts 3
 *   pressure 0 everywhere, so only the placement score terms matter.
 *
 * Placement of an idle (footprint) fragment, score = 0.4·resource + 0.3·locality + 0.2·affinity +
 * 0.1·balance, resource = 0.6·(1 − reserved_cpu/4) + 0.4·(mem_free/8388608), locality 1:
 *   empty node 1 (preferred, affinity 0.5, balance 1):  0.4 + 0.3 + 0.1 + 0.1 = 0.9
 *   empty node 0 (affinity 0, balance 1):                0.4 + 0.3 + 0   + 0.1 = 0.8
 * so replacements and rescales go to node 1 whenever it wins by more than the 0.02 margin.
 */
import { describe, expect, it } from 'vitest';
import { buildTopology, Orchestrator, parseConfig, type Observation, type Request } from '../../engine/index.ts';
import { recordedCommands } from '../../engine/record.ts';
import type { PsiSet } from '../../engine/types.ts';

const TOPO = buildTopology({
  nodes: [
    { id: 0, cpus: [0, 1, 2, 3], memory_kb: 8_388_608, distances: [10, 21] },
    { id: 1, cpus: [4, 5, 6, 7], memory_kb: 8_388_608, distances: [21, 10] },
  ],
});
const NODE0 = [0, 1, 2, 3];
const NODE1 = [4, 5, 6, 7];
const ALL = [...NODE0, ...NODE1];

const zero = { some: { avg10: 0, avg60: 0, avg300: 0 } };
const PSI0: PsiSet = { cpu: zero, memory: zero, io: zero };

function engine(
  web: Record<string, unknown> = {},
  health: Record<string, unknown> = {},
  scaling: Record<string, unknown> = {},
): Orchestrator {
  const config = parseConfig({
    health,
    scaling,
    profiles: {
      web: {
        cpus: 1,
        memory_kb: 262_144,
        latency_slo_ms: 1000,
        cold_start_ms: 500,
        preferred_nodes: [1],
        pool: { min: 1, target: 1, max: 64 },
        ...web,
      },
    },
  });
  return new Orchestrator({ config, topology: TOPO, seed: 'healing-test' });
}

const obs = (t_ms: number, more: Omit<Partial<Observation>, 't_ms'> = {}): Observation => ({
  t_ms,
  psi: PSI0,
  ...more,
});
const req = (id: string): Request => ({
  id,
  profile: 'web',
  cpus: 1,
  memory_kb: 262_144,
  priority: 1,
  allowed_nodes: [0],
});
const hb = (id: string, heartbeat_ms: number) => ({ id, heartbeat_ms });

/** Cold-start web-N for `id` at t on node 0 and report it started at t + 500: it is then active. */
function serve(o: Orchestrator, id: string, t: number): string {
  const d = o.schedule(req(id), obs(t));
  expect(d.action).toBe('place');
  expect(d.start).toBe('cold');
  expect(d.node).toBe(0);
  const f = d.fragment as string;
  expect(d.commands).toEqual([
    {
      type: 'start',
      fragment: f,
      profile: 'web',
      node: 0,
      cpus: NODE0,
      memory_kb: 262_144,
      reason: `cold start for ${id}`,
    },
  ]);
  expect(o.started(f, obs(t + 500))).toEqual([]);
  expect(o.pools.get(f)?.state).toBe('active');
  return f;
}

const stateOf = (o: Orchestrator, id: string) => o.pools.get(id)?.state;
const onlyIncident = (o: Orchestrator) => {
  const { open, closed } = o.incidents();
  expect(open.length + closed.length).toBe(1);
  return (open[0] ?? closed[0])!;
};

describe('(1) crash reported by the shell through failed()', () => {
  it('restarts at once; recovered when the fragment reports started', () => {
    const o = engine();
    serve(o, 'r1', 0); // web-0 active from 500
    expect(o.tick(obs(1000))).toEqual([]); // first tick: health check (healthy) + scaling (size 1 = target 1)

    const crash_ms = 2000;
    const cmds = o.failed('web-0', 'exit code 139', obs(crash_ms));
    // the request it was serving goes back for a retry first, with the shell's reason, then the restart
    expect(recordedCommands(cmds)).toEqual([
      { type: 'retry', request: req('r1'), reason: 'web-0 lost it: exit code 139' },
      { type: 'restart', fragment: 'web-0', reason: 'crashed (incident 0, restart attempt 1)', timeout_ms: 30_000 },
    ]);
    expect(stateOf(o, 'web-0')).toBe('starting');
    expect(o.pools.get('web-0')?.request).toBeUndefined();
    // The restart itself carries what an executor needs, so it reads nothing of the engine: the
    // fragment's profile, the node it runs on and the CPUs it is pinned to (records leave them out).
    const web0 = o.pools.get('web-0');
    expect(cmds[1]).toMatchObject({ type: 'restart', profile: 'web', node: web0?.node, cpus: web0?.cpus });
    expect(web0?.node).toBe(0);
    expect(web0?.cpus.length).toBeGreaterThan(0);
    expect(NODE0).toEqual(expect.arrayContaining([...(web0?.cpus ?? [])]));
    const inc = onlyIncident(o);
    expect(inc).toMatchObject({ symptom: 'crashed', strategy: 'restart', detected_ms: 2000, deadline_ms: 32_000 }); // 2000 + 30000
    expect(inc.detected_ms - crash_ms).toBe(0); // MTTD 0: the shell told us

    expect(o.started('web-0', obs(2600))).toEqual([]);
    expect(stateOf(o, 'web-0')).toBe('warm'); // its request died with it
    expect(inc.recovered_ms).toBe(2600);
    expect(inc.recovered_ms! - inc.detected_ms).toBe(600); // MTTR = 2600 − 2000
    expect(o.incidents()).toEqual({ open: [], closed: [inc] });
    expect(inc.steps).toEqual([
      { t_ms: 2000, strategy: 'restart', attempt: 1, outcome: 'issued' },
      { t_ms: 2600, strategy: 'restart', attempt: 1, outcome: 'recovered' },
    ]);
    // a later check of the healthy fragment opens nothing new
    expect(o.tick(obs(6000))).toEqual([]);
    expect(o.incidents().open).toEqual([]);
  });

  it('a second failure while the restart is running waits for the deadline, then restarts again', () => {
    const o = engine();
    serve(o, 'r1', 0);
    o.tick(obs(1000)); // scaling next due at 1000 + 30000 = 31000
    o.failed('web-0', 'exit 1', obs(2000)); // restart attempt 1, deadline 32000
    expect(o.failed('web-0', 'failed to start', obs(3000))).toEqual([]); // incident open: its deadline decides
    expect(stateOf(o, 'web-0')).toBe('failed');
    // 31999: no deadline yet; the scaling cycle (due 31000) sees size 0 (failed is not live) < min 1
    // and starts one on node 1 (0.9 vs 0.8 for node 0, whose reservation the failure released).
    expect(o.tick(obs(31_999))).toEqual([
      {
        type: 'start',
        fragment: 'web-1',
        profile: 'web',
        node: 1,
        cpus: NODE1,
        memory_kb: 262_144,
        reason: 'scale up (high): configured target 1: 0 → 1',
      },
    ]);
    // 32000 = 2000 + 30000: the attempt timed out, restart attempt 2 (failed → starting)
    expect(recordedCommands(o.tick(obs(32_000)))).toEqual([
      { type: 'restart', fragment: 'web-0', reason: 'crashed (incident 0, restart attempt 2)', timeout_ms: 30_000 },
    ]);
    const inc = onlyIncident(o);
    expect([inc.attempt, inc.issued_ms, inc.deadline_ms]).toEqual([2, 32_000, 62_000]);
    o.started('web-0', obs(33_000));
    expect(inc.recovered_ms).toBe(33_000); // MTTR = 33000 − 2000 = 31000
  });
});

describe('(2) crash seen only in an observation', () => {
  it('is detected at the next health check, not at the tick that first shows it', () => {
    const o = engine();
    serve(o, 'r1', 0);
    o.complete('web-0', { ok: true, latency_ms: 100 }, obs(800)); // warm
    expect(o.tick(obs(1000, { fragments: [hb('web-0', 1000)] }))).toEqual([]); // check at 1000; next due 6000
    const crash_ms = 3000;
    // 3000 < 6000: no health check at this tick, the exit goes unnoticed
    expect(o.tick(obs(crash_ms, { fragments: [{ id: 'web-0', heartbeat_ms: 2000, exited: true }] }))).toEqual([]);
    expect(o.incidents().open).toEqual([]);
    const cmds = o.tick(obs(6000, { fragments: [{ id: 'web-0', heartbeat_ms: 2000, exited: true }] }));
    expect(recordedCommands(cmds)).toEqual([
      { type: 'restart', fragment: 'web-0', reason: 'crashed (incident 0, restart attempt 1)', timeout_ms: 30_000 },
    ]);
    expect(stateOf(o, 'web-0')).toBe('starting');
    const inc = onlyIncident(o);
    expect(inc.detected_ms).toBe(6000);
    expect(inc.detected_ms - crash_ms).toBe(3000); // MTTD = 6000 − 3000

    o.started('web-0', obs(6400, { fragments: [hb('web-0', 6400)] }));
    expect(inc.recovered_ms).toBe(6400);
    expect(inc.recovered_ms! - inc.detected_ms).toBe(400); // MTTR = 6400 − 6000
  });

  it('a restarted fragment still reported exited when it starts is not recovered; the deadline restarts it again', () => {
    const o = engine();
    serve(o, 'r1', 0);
    o.complete('web-0', { ok: true, latency_ms: 100 }, obs(800));
    o.tick(obs(1000));
    const dead = { fragments: [{ id: 'web-0', exited: true }] };
    expect(o.tick(obs(6000, dead)).map((c) => c.type)).toEqual(['restart']); // deadline 36000
    o.started('web-0', obs(7000, dead)); // score 0 (exited): not recovered
    expect(o.incidents().open).toHaveLength(1);
    expect(o.tick(obs(11_000, dead))).toEqual([]); // warm, still exited, incident open: wait for the deadline
    // 36000: restart attempt 2 (warm → failed → starting); scaling due 31000 also runs: size 1 = target 1
    expect(recordedCommands(o.tick(obs(36_000, dead)))).toEqual([
      { type: 'restart', fragment: 'web-0', reason: 'crashed (incident 0, restart attempt 2)', timeout_ms: 30_000 },
    ]);
    o.started('web-0', obs(37_000));
    expect(onlyIncident(o).recovered_ms).toBe(37_000); // MTTR = 37000 − 6000 = 31000
  });
});

describe('(2b) crash of a fragment that is still starting', () => {
  it('exited while starting is crashed at the next check (not hung 15500 ms later); its request goes back first', () => {
    const o = engine();
    const d = o.schedule(req('r1'), obs(0)); // cold start of web-0 for r1, never reported started
    expect([d.fragment, stateOf(o, 'web-0')]).toEqual(['web-0', 'starting']);
    const crash_ms = 500;
    // check at 1000: starting for 1000 ms, far below the 500 + 15000 start timeout, but exited → crashed.
    // scaling: size 1 (starting) = target 1.
    expect(recordedCommands(o.tick(obs(1000, { fragments: [{ id: 'web-0', exited: true }] })))).toEqual([
      { type: 'retry', request: req('r1'), reason: 'web-0 lost it: restarted' },
      { type: 'restart', fragment: 'web-0', reason: 'crashed (incident 0, restart attempt 1)', timeout_ms: 30_000 },
    ]);
    const inc = onlyIncident(o);
    expect(inc).toMatchObject({ symptom: 'crashed', strategy: 'restart', detected_ms: 1000, deadline_ms: 31_000 }); // 1000 + 30000
    expect(inc.detected_ms - crash_ms).toBe(500); // MTTD = 1000 − 500 (it used to wait for the hang at 16000)
    expect(o.pools.get('web-0')).toMatchObject({ state: 'starting', started_ms: 1000, request: undefined });
    o.started('web-0', obs(1500));
    expect(stateOf(o, 'web-0')).toBe('warm'); // r1 was handed back: nothing to serve
    expect(inc.recovered_ms).toBe(1500); // MTTR = 1500 − 1000 = 500
  });

  it('exited first seen at the check that also passes the start timeout is still crashed, not hung', () => {
    const o = engine();
    o.schedule(req('r1'), obs(0)); // web-0 starting since 0
    expect(o.tick(obs(1000))).toEqual([]);
    expect(o.tick(obs(6000))).toEqual([]);
    expect(o.tick(obs(11_000))).toEqual([]);
    // 16000 − 0 = 16000 > 500 + 15000 (a hang), but the shell reports the process gone: crashed wins
    expect(recordedCommands(o.tick(obs(16_000, { fragments: [{ id: 'web-0', exited: true }] })))).toEqual([
      { type: 'retry', request: req('r1'), reason: 'web-0 lost it: restarted' },
      { type: 'restart', fragment: 'web-0', reason: 'crashed (incident 0, restart attempt 1)', timeout_ms: 30_000 },
    ]);
    expect(onlyIncident(o)).toMatchObject({ symptom: 'crashed', detected_ms: 16_000 });
  });
});

describe('(3) hang: heartbeats stop', () => {
  it('is hung at the first check where the heartbeat age reaches the 15000 timeout', () => {
    const o = engine();
    serve(o, 'r1', 0);
    o.complete('web-0', { ok: true, latency_ms: 100 }, obs(800));
    expect(o.tick(obs(1000, { fragments: [hb('web-0', 1000)] }))).toEqual([]);
    const last = 6000; // the last heartbeat; the process hangs right after it
    expect(o.tick(obs(6000, { fragments: [hb('web-0', last)] }))).toEqual([]); // age 0 → 1
    expect(o.tick(obs(11_000, { fragments: [hb('web-0', last)] }))).toEqual([]); // age 5000 → 1
    expect(o.tick(obs(16_000, { fragments: [hb('web-0', last)] }))).toEqual([]); // age 10000 → 0.5, not below 0.5
    expect(o.incidents().open).toEqual([]);
    const cmds = o.tick(obs(21_000, { fragments: [hb('web-0', last)] })); // age 15000 → 0 → hung
    expect(recordedCommands(cmds)).toEqual([
      { type: 'restart', fragment: 'web-0', reason: 'hung (incident 0, restart attempt 1)', timeout_ms: 30_000 },
    ]);
    const inc = onlyIncident(o);
    expect(inc).toMatchObject({ symptom: 'hung', detected_ms: 21_000 });
    expect(inc.detected_ms - last).toBe(15_000); // MTTD = heartbeat timeout

    o.started('web-0', obs(23_000, { fragments: [hb('web-0', 23_000)] }));
    expect(inc.recovered_ms).toBe(23_000); // MTTR = 23000 − 21000 = 2000
  });

  it('between checks the age is not looked at: a tick at 19000 (age 13000) does nothing', () => {
    const o = engine();
    serve(o, 'r1', 0);
    o.complete('web-0', { ok: true, latency_ms: 100 }, obs(800));
    o.tick(obs(1000, { fragments: [hb('web-0', 1000)] })); // check; next due 6000
    o.tick(obs(15_000, { fragments: [hb('web-0', 6000)] })); // check at 15000: age 9000 → 0.6; next due 20000
    expect(o.tick(obs(19_000, { fragments: [hb('web-0', 6000)] }))).toEqual([]); // 19000 < 20000: no check
    expect(o.tick(obs(20_000, { fragments: [hb('web-0', 6000)] })).map((c) => c.type)).toEqual(['restart']); // age 14000 → 0.1
    expect(onlyIncident(o).detected_ms).toBe(20_000);
  });

  it('a cold start that never reports started is hung after cold_start_ms + timeout = 500 + 15000', () => {
    const o = engine();
    const d = o.schedule(req('r1'), obs(0)); // web-0 starting since 0, never reported started
    expect(d.fragment).toBe('web-0');
    expect(o.tick(obs(1000))).toEqual([]);
    expect(o.tick(obs(6000))).toEqual([]);
    expect(o.tick(obs(11_000))).toEqual([]);
    // 16000 − 0 = 16000 > 15500 → hung; the restart hands r1 (it was starting for it) back first
    expect(recordedCommands(o.tick(obs(16_000)))).toEqual([
      { type: 'retry', request: req('r1'), reason: 'web-0 lost it: restarted' },
      { type: 'restart', fragment: 'web-0', reason: 'hung (incident 0, restart attempt 1)', timeout_ms: 30_000 },
    ]);
    const inc = onlyIncident(o);
    expect(inc.detected_ms).toBe(16_000);
    expect(o.pools.get('web-0')?.started_ms).toBe(16_000); // the restart starts the clock again
    o.started('web-0', obs(17_000));
    expect(stateOf(o, 'web-0')).toBe('warm'); // the request it was starting for went back for a retry
    expect(inc.recovered_ms).toBe(17_000);
  });
});

describe('(4) slow fragment: drain, then replace', () => {
  /** web-0 serves r1 with latency 3000 (3× SLO), then takes r2 (warm): active with mean latency 3000. */
  function slowActive(o: Orchestrator): void {
    serve(o, 'r1', 0);
    expect(o.tick(obs(1000))).toEqual([]); // healthy (no outcomes yet)
    expect(o.complete('web-0', { ok: true, latency_ms: 3000 }, obs(3500))).toEqual([]);
    const d = o.schedule(req('r2'), obs(4000));
    expect([d.action, d.start, d.fragment]).toEqual(['place', 'warm', 'web-0']);
  }

  it('drains while active; on completion stops the slow one and starts a replacement; recovered when it starts', () => {
    const o = engine();
    slowActive(o);
    // check at 6000: latency 1000/3000 = 0.333333 < 0.5 → slow → drain
    expect(o.tick(obs(6000))).toEqual([
      { type: 'drain', fragment: 'web-0', reason: 'slow (incident 0, drain attempt 1)', timeout_ms: 30_000 },
    ]);
    expect(stateOf(o, 'web-0')).toBe('draining');
    const inc = onlyIncident(o);
    expect(inc).toMatchObject({ symptom: 'slow', strategy: 'drain', detected_ms: 6000 });
    // MTTD: the first slow completion was at 3500 → 6000 − 3500 = 2500

    // r2 completes: web-0 is stopped first, then the replacement is placed by footprint on an empty
    // host: node 0 0.8, node 1 0.9 → node 1. (r2 completed, so there is nothing to retry.)
    expect(o.complete('web-0', { ok: true, latency_ms: 3000 }, obs(7000))).toEqual([
      { type: 'stop', fragment: 'web-0', reason: 'drain complete' },
      {
        type: 'start',
        fragment: 'web-1',
        profile: 'web',
        node: 1,
        cpus: NODE1,
        memory_kb: 262_144,
        reason: 'replaces drained web-0',
      },
    ]);
    expect(o.pools.get('web-0')).toBeUndefined();
    expect(inc.fragment).toBe('web-1'); // the incident follows the replacement
    expect(inc.recovered_ms).toBeUndefined();

    o.started('web-1', obs(7600));
    expect(inc.recovered_ms).toBe(7600); // MTTR = 7600 − 6000 = 1600
    expect(inc.steps.map((s) => s.outcome)).toEqual(['issued', 'recovered']);
    expect(o.incidents().open).toEqual([]);
  });

  it('a slow fragment that is warm at the check is replaced at once', () => {
    const o = engine();
    serve(o, 'r1', 0);
    o.tick(obs(1000));
    o.complete('web-0', { ok: true, latency_ms: 3000 }, obs(3500)); // warm, mean latency 3000
    // warm: nothing to drain, finished at once. web-0 is stopped first, so both nodes are empty:
    // node 0 0.8, node 1 0.9 → web-1 on node 1
    expect(o.tick(obs(6000))).toEqual([
      { type: 'stop', fragment: 'web-0', reason: 'drain complete' },
      {
        type: 'start',
        fragment: 'web-1',
        profile: 'web',
        node: 1,
        cpus: NODE1,
        memory_kb: 262_144,
        reason: 'replaces drained web-0',
      },
    ]);
    const inc = onlyIncident(o);
    expect([inc.fragment, inc.detected_ms]).toEqual(['web-1', 6000]);
    o.started('web-1', obs(6500));
    expect(inc.recovered_ms).toBe(6500); // MTTR 500
  });

  it('a drain that does not finish in time is rolled back (undrain) and drained again', () => {
    // Target 0 and one scaling cycle a day: the pool's demand would otherwise pre-warm a
    // replacement for the draining fragment; this test follows the drain alone.
    const o = engine({ pool: { min: 0, target: 0, max: 64 } }, {}, { interval_ms: 86_400_000 });
    slowActive(o);
    expect(o.tick(obs(6000)).map((c) => c.type)).toEqual(['drain']); // deadline 36000
    expect(o.tick(obs(35_999))).toEqual([]);
    expect(o.tick(obs(36_000))).toEqual([
      { type: 'undrain', fragment: 'web-0', reason: 'rollback: drain timed out (incident 0)' },
      { type: 'drain', fragment: 'web-0', reason: 'slow (incident 0, drain attempt 2)', timeout_ms: 30_000 },
    ]);
    expect(stateOf(o, 'web-0')).toBe('draining');
    expect(o.ledger.activeOn(0)).toBe(0); // active again for the rollback, then draining again
    // stop first, then the replacement on the now empty host: node 1 (0.9 vs 0.8)
    expect(o.complete('web-0', { ok: true, latency_ms: 3000 }, obs(37_000))).toEqual([
      { type: 'stop', fragment: 'web-0', reason: 'drain complete' },
      {
        type: 'start',
        fragment: 'web-1',
        profile: 'web',
        node: 1,
        cpus: NODE1,
        memory_kb: 262_144,
        reason: 'replaces drained web-0',
      },
    ]);
    o.started('web-1', obs(37_500));
    const inc = onlyIncident(o);
    expect([inc.detected_ms, inc.recovered_ms]).toEqual([6000, 37_500]); // MTTR 31500
    expect(inc.steps.map((s) => `${s.strategy}${s.attempt}:${s.outcome}@${s.t_ms}`)).toEqual([
      'drain1:issued@6000',
      'drain1:timed_out@36000',
      'drain2:issued@36000',
      'drain2:recovered@37500',
    ]);
  });
});

describe('(5) node goes offline', () => {
  it('fails a warm fragment over to the other node, recovered at the next check', () => {
    const o = engine();
    serve(o, 'r1', 0);
    o.complete('web-0', { ok: true, latency_ms: 100 }, obs(1000));
    expect(o.tick(obs(2000, { online_cpus: ALL }))).toEqual([]); // check; next due 7000
    const offline_ms = 5000;
    expect(o.tick(obs(offline_ms, { online_cpus: NODE1 }))).toEqual([]); // not a check time
    expect(o.tick(obs(7000, { online_cpus: NODE1 }))).toEqual([
      {
        type: 'migrate',
        fragment: 'web-0',
        from: 0,
        to: 1,
        cpus: NODE1,
        reason: 'node_offline (incident 0, failover attempt 1)',
      },
    ]);
    const f = o.pools.get('web-0')!;
    expect([f.node, f.state, f.cpus]).toEqual([1, 'warm', NODE1]);
    expect([o.ledger.fragmentsOn(0), o.ledger.fragmentsOn(1)]).toEqual([0, 1]);
    expect(o.pools.pool('web').warmOn(1)).toBe(1);
    const inc = onlyIncident(o);
    expect(inc).toMatchObject({ symptom: 'node_offline', strategy: 'failover', detected_ms: 7000 });
    expect(inc.detected_ms - offline_ms).toBe(2000); // MTTD = 7000 − 5000
    expect(o.tick(obs(12_000, { online_cpus: NODE1 }))).toEqual([]); // usable node again → recovered
    expect(inc.recovered_ms).toBe(12_000); // MTTR = 12000 − 7000 = 5000
  });

  it('fails over an active fragment with the ledger following it', () => {
    const o = engine();
    serve(o, 'r1', 0); // active on node 0 with 1 CPU reserved
    o.tick(obs(1000));
    expect(o.tick(obs(6000, { online_cpus: NODE1 }))).toEqual([
      {
        type: 'migrate',
        fragment: 'web-0',
        from: 0,
        to: 1,
        cpus: NODE1,
        reason: 'node_offline (incident 0, failover attempt 1)',
      },
    ]);
    expect([o.ledger.activeOn(0), o.ledger.activeOn(1), o.ledger.reservedCpu(0), o.ledger.reservedCpu(1)]).toEqual([
      0, 1, 0, 1,
    ]);
    expect(o.complete('web-0', { ok: true, latency_ms: 100 }, obs(8000))).toEqual([]);
    expect([stateOf(o, 'web-0'), o.ledger.activeOn(1), o.ledger.reservedCpu(1)]).toEqual(['warm', 0, 0]);
    o.tick(obs(11_000));
    expect(onlyIncident(o).recovered_ms).toBe(11_000);
  });

  it('with no other usable node it alerts and keeps trying until the ladder gives up', () => {
    const o = engine();
    serve(o, 'r1', 0);
    o.complete('web-0', { ok: true, latency_ms: 100 }, obs(800));
    o.tick(obs(1000));
    const why = 'no other node can take it';
    const none = { online_cpus: [] }; // every CPU offline, reported at each tick
    expect(o.tick(obs(6000, none))).toEqual([
      { type: 'alert', subject: 'web-0', reason: `node_offline (incident 0, failover attempt 1): ${why}` },
    ]);
    // 36000, 66000: attempts 2 and 3 (scaling at 36000: size 1 = target 1)
    expect(o.tick(obs(36_000, none))).toEqual([
      { type: 'alert', subject: 'web-0', reason: `node_offline (incident 0, failover attempt 2): ${why}` },
    ]);
    expect(o.tick(obs(66_000, none))).toEqual([
      { type: 'alert', subject: 'web-0', reason: `node_offline (incident 0, failover attempt 3): ${why}` },
    ]);
    // 96000: ladder exhausted: issued ×3 + timed_out ×3 + gave_up = 7 steps; the scaling cycle
    // (due 66000 + 30000) then finds no node to refill the pool on.
    expect(o.tick(obs(96_000, none))).toEqual([
      { type: 'stop', fragment: 'web-0', reason: 'recovery gave up after 7 steps' },
      { type: 'alert', subject: 'web-0', reason: 'node_offline: every strategy failed; fragment stopped' },
    ]);
    expect(onlyIncident(o).gave_up_ms).toBe(96_000);
  });
});

describe('(6) a restart that never completes walks the whole ladder', () => {
  it('restart ×3, replace ×3 (rolling back replacements that never start), failover ×3, then stop + alert', () => {
    const o = engine();
    serve(o, 'r1', 0);
    expect(o.tick(obs(1000))).toEqual([]); // scaling next due 31000
    expect(recordedCommands(o.failed('web-0', 'exit 1', obs(2000)))).toEqual([
      { type: 'retry', request: req('r1'), reason: 'web-0 lost it: exit 1' },
      { type: 'restart', fragment: 'web-0', reason: 'crashed (incident 0, restart attempt 1)', timeout_ms: 30_000 },
    ]);
    const inc = onlyIncident(o);
    expect(o.tick(obs(31_999))).toEqual([]); // deadline 32000 not reached; scaling: size 1 (starting) = target 1
    expect(recordedCommands(o.tick(obs(32_000)))).toEqual([
      { type: 'restart', fragment: 'web-0', reason: 'crashed (incident 0, restart attempt 2)', timeout_ms: 30_000 },
    ]);
    expect(recordedCommands(o.tick(obs(62_000)))).toEqual([
      { type: 'restart', fragment: 'web-0', reason: 'crashed (incident 0, restart attempt 3)', timeout_ms: 30_000 },
    ]);
    // 92000: 3 timeouts of restart → replace. web-0 is stopped first (r1 already went back at the
    // crash: no retry), which empties node 0: 0.8 < node 1's 0.9 → web-1 on node 1
    expect(o.tick(obs(92_000))).toEqual([
      { type: 'stop', fragment: 'web-0', reason: 'replaced: crashed (incident 0, replace attempt 1)' },
      {
        type: 'start',
        fragment: 'web-1',
        profile: 'web',
        node: 1,
        cpus: NODE1,
        memory_kb: 262_144,
        reason: 'replaces web-0: crashed (incident 0, replace attempt 1)',
      },
    ]);
    expect(inc).toMatchObject({ fragment: 'web-1', strategy: 'replace', rung: 1, attempt: 1, deadline_ms: 122_000 });
    // 122000: the replacement never started → rolled back (stopped); replace attempt 2 on an empty host → node 1 again
    expect(o.tick(obs(122_000))).toEqual([
      { type: 'stop', fragment: 'web-1', reason: 'rollback: replacement did not start in time (incident 0)' },
      {
        type: 'start',
        fragment: 'web-2',
        profile: 'web',
        node: 1,
        cpus: NODE1,
        memory_kb: 262_144,
        reason: 'replaces web-1: crashed (incident 0, replace attempt 2)',
      },
    ]);
    expect(o.tick(obs(152_000))).toEqual([
      { type: 'stop', fragment: 'web-2', reason: 'rollback: replacement did not start in time (incident 0)' },
      {
        type: 'start',
        fragment: 'web-3',
        profile: 'web',
        node: 1,
        cpus: NODE1,
        memory_kb: 262_144,
        reason: 'replaces web-2: crashed (incident 0, replace attempt 3)',
      },
    ]);
    // 182000: replace exhausted → failover: the stuck replacement web-3 moves off node 1
    expect(o.tick(obs(182_000))).toEqual([
      {
        type: 'migrate',
        fragment: 'web-3',
        from: 1,
        to: 0,
        cpus: NODE0,
        reason: 'crashed (incident 0, failover attempt 1)',
      },
    ]);
    expect(o.pools.get('web-3')).toMatchObject({ state: 'starting', started_ms: 182_000 }); // a fresh start on node 0
    expect(o.tick(obs(212_000))).toEqual([
      {
        type: 'migrate',
        fragment: 'web-3',
        from: 0,
        to: 1,
        cpus: NODE1,
        reason: 'crashed (incident 0, failover attempt 2)',
      },
    ]);
    expect(o.tick(obs(242_000))).toEqual([
      {
        type: 'migrate',
        fragment: 'web-3',
        from: 1,
        to: 0,
        cpus: NODE0,
        reason: 'crashed (incident 0, failover attempt 3)',
      },
    ]);
    // 272000: ladder exhausted. 9 issued + 9 timed_out + 1 gave_up = 19 steps. Then the scaling
    // cycle (due 272000) refills the empty pool: both nodes empty → node 1 (0.9 vs 0.8).
    expect(o.tick(obs(272_000))).toEqual([
      { type: 'stop', fragment: 'web-3', reason: 'recovery gave up after 19 steps' },
      { type: 'alert', subject: 'web-3', reason: 'crashed: every strategy failed; fragment stopped' },
      {
        type: 'start',
        fragment: 'web-4',
        profile: 'web',
        node: 1,
        cpus: NODE1,
        memory_kb: 262_144,
        reason: 'scale up (high): configured target 1: 0 → 1',
      },
    ]);
    expect(inc.gave_up_ms).toBe(272_000); // 2000 + 9 × 30000
    expect(inc.recovered_ms).toBeUndefined();
    expect(o.incidents()).toEqual({ open: [], closed: [inc] });
    expect(inc.steps.filter((s) => s.outcome === 'issued').map((s) => `${s.strategy}${s.attempt}@${s.t_ms}`)).toEqual([
      'restart1@2000',
      'restart2@32000',
      'restart3@62000',
      'replace1@92000',
      'replace2@122000',
      'replace3@152000',
      'failover1@182000',
      'failover2@212000',
      'failover3@242000',
    ]);
    // the books balance: only web-4 is left, on node 1
    expect([o.pools.liveCount, o.ledger.fragmentsOn(0), o.ledger.fragmentsOn(1), o.ledger.memFree_kb(0)]).toEqual([
      1, 0, 1, 8_388_608,
    ]);
  });

  it('when replace is the last rung (leak), the never-started replacement is stopped by the rollback, then the alert', () => {
    const o = engine({}, { max_attempts: 1 }); // one attempt per rung
    serve(o, 'r1', 0);
    o.complete('web-0', { ok: true, latency_ms: 100 }, obs(800));
    o.tick(obs(1000));
    // 1048576 > 393216 → memory 0 → leak → restart (warm: no request to retry), deadline 36000
    expect(o.tick(obs(6000, { fragments: [{ id: 'web-0', rss_kb: 1_048_576 }] })).map((c) => c.type)).toEqual([
      'restart',
    ]);
    // 36000: restart timed out → replace: web-0 is stopped first, emptying node 0 (0.8; node 1: 0.9)
    expect(o.tick(obs(36_000))).toEqual([
      { type: 'stop', fragment: 'web-0', reason: 'replaced: leak (incident 0, replace attempt 1)' },
      {
        type: 'start',
        fragment: 'web-1',
        profile: 'web',
        node: 1,
        cpus: NODE1,
        memory_kb: 262_144,
        reason: 'replaces web-0: leak (incident 0, replace attempt 1)',
      },
    ]);
    // 66000: replace timed out, no rung left: rollback stops web-1, give-up only alerts (nothing left to
    // stop); the scaling cycle (due 36000 + 30000) refills the empty pool on node 1.
    expect(o.tick(obs(66_000))).toEqual([
      { type: 'stop', fragment: 'web-1', reason: 'rollback: replacement did not start in time (incident 0)' },
      { type: 'alert', subject: 'web-1', reason: 'leak: every strategy failed; fragment stopped' },
      {
        type: 'start',
        fragment: 'web-2',
        profile: 'web',
        node: 1,
        cpus: NODE1,
        memory_kb: 262_144,
        reason: 'scale up (high): configured target 1: 0 → 1',
      },
    ]);
    const inc = onlyIncident(o);
    expect([inc.detected_ms, inc.gave_up_ms, inc.recovered_ms]).toEqual([6000, 66_000, undefined]); // 6000 + 2 × 30000
  });

  it('a replacement that does start closes the incident', () => {
    const o = engine();
    serve(o, 'r1', 0);
    o.tick(obs(1000));
    o.failed('web-0', 'exit 1', obs(2000));
    o.tick(obs(32_000));
    o.tick(obs(62_000));
    // replace: the sick fragment is stopped first, then its replacement started
    expect(o.tick(obs(92_000)).map((c) => `${c.type}:${'fragment' in c ? c.fragment : ''}`)).toEqual([
      'stop:web-0',
      'start:web-1',
    ]);
    o.started('web-1', obs(93_000));
    const inc = onlyIncident(o);
    expect([inc.fragment, inc.recovered_ms]).toEqual(['web-1', 93_000]); // MTTR = 93000 − 2000 = 91000
    expect(o.tick(obs(122_000))).toEqual([]); // nothing left to expire
  });
});

describe('(7) memory leak', () => {
  it('rss above 262144 × 1.5 = 393216 kB is a leak at once → restart', () => {
    const o = engine();
    serve(o, 'r1', 0);
    o.complete('web-0', { ok: true, latency_ms: 100 }, obs(800));
    expect(o.tick(obs(1000, { fragments: [{ id: 'web-0', rss_kb: 300_000 }] }))).toEqual([]); // ≤ 393216 → 1
    // exactly at the limit: 393216 ≤ 393216 → 1, healthy
    expect(o.tick(obs(6000, { fragments: [{ id: 'web-0', rss_kb: 393_216 }] }))).toEqual([]);
    // 393217 > 393216 → memory 0 → leak (warm: no request to retry)
    expect(recordedCommands(o.tick(obs(11_000, { fragments: [{ id: 'web-0', rss_kb: 393_217 }] })))).toEqual([
      { type: 'restart', fragment: 'web-0', reason: 'leak (incident 0, restart attempt 1)', timeout_ms: 30_000 },
    ]);
    const inc = onlyIncident(o);
    expect(inc).toMatchObject({ symptom: 'leak', detected_ms: 11_000 });
    o.started('web-0', obs(11_500, { fragments: [{ id: 'web-0', rss_kb: 200_000 }] }));
    expect(inc.recovered_ms).toBe(11_500); // MTTR 500
  });
});

describe('(8) pool rescale', () => {
  it('adds fragments when ≥ 2 live fragments average below 0.5, and not again within recovery_timeout_ms', () => {
    const o = engine({ pool: { min: 2, target: 2, max: 64 } });
    expect(o.schedule(req('r1'), obs(0)).fragment).toBe('web-0');
    expect(o.schedule(req('r2'), obs(0)).fragment).toBe('web-1'); // node 0 now holds 2 of 4 CPUs
    o.started('web-0', obs(500));
    o.started('web-1', obs(500));
    o.complete('web-0', { ok: true, latency_ms: 100 }, obs(800));
    o.complete('web-1', { ok: true, latency_ms: 100 }, obs(800));
    const beats = (a: number, b: number) => ({ fragments: [hb('web-0', a), hb('web-1', b)] });
    expect(o.tick(obs(1000, beats(1000, 1000)))).toEqual([]); // scaling: size 2 = target 2; next due 31000
    expect(o.tick(obs(6000, beats(6000, 1000)))).toEqual([]); // ages 0, 5000 → 1, 1
    expect(o.tick(obs(11_000, beats(6000, 1000)))).toEqual([]); // ages 5000, 10000 → 1, 0.5: pool 0.75
    // 16000: ages 10000 → 0.5 and 15000 → 0 (hung). Pool (0.5 + 0)/2 = 0.25 < 0.5 with 1 unhealthy → 1 more.
    // node 0: warm web-0 + restarted web-1, 0 CPU, 524288 kB: 0.4·(0.6 + 0.4·0.9375) + 0.3 + 0.1 = 0.79; node 1 0.9
    expect(recordedCommands(o.tick(obs(16_000, beats(6000, 1000))))).toEqual([
      { type: 'restart', fragment: 'web-1', reason: 'hung (incident 0, restart attempt 1)', timeout_ms: 30_000 },
      {
        type: 'start',
        fragment: 'web-2',
        profile: 'web',
        node: 1,
        cpus: NODE1,
        memory_kb: 262_144,
        reason: 'rescale: pool web health 0.25 < 0.5, 1 fragments unhealthy',
      },
    ]);
    o.started('web-1', obs(16_500, { fragments: [hb('web-1', 16_500)] }));
    o.started('web-2', obs(16_500));
    expect(onlyIncident(o).recovered_ms).toBe(16_500);

    // 21000: all three sick (web-0 age 15000 → hung; web-1, web-2 exited). Pool 0 < 0.5, but the
    // rescale of 16000 holds until 16000 + 30000 = 46000: only restarts.
    expect(
      recordedCommands(
        o.tick(
          obs(21_000, { fragments: [hb('web-0', 6000), { id: 'web-1', exited: true }, { id: 'web-2', exited: true }] }),
        ),
      ),
    ).toEqual([
      { type: 'restart', fragment: 'web-0', reason: 'hung (incident 1, restart attempt 1)', timeout_ms: 30_000 },
      { type: 'restart', fragment: 'web-1', reason: 'crashed (incident 2, restart attempt 1)', timeout_ms: 30_000 },
      { type: 'restart', fragment: 'web-2', reason: 'crashed (incident 3, restart attempt 1)', timeout_ms: 30_000 },
    ]);
    // 41000: none reported started; 41000 − 21000 = 20000 > 500 + 15000 → each scores 0 (hung start).
    // Pool 0, still 41000 < 46000 → no rescale. Scaling (due 31000): size 3 > 2 but nothing warm to stop.
    expect(o.tick(obs(41_000))).toEqual([]);
    // 46000: check due (41000 + 5000); rescale allowed again (46000 is not before 46000): 3 unhealthy → 3 starts.
    // node 0: web-0, web-1 starting (524288 kB) → 0.79; node 1 with k fragments of 262144 kB:
    // k=1: 0.4·(0.6 + 0.4·0.96875) + 0.5 = 0.895, k=2: 0.4·0.975 + 0.5 = 0.89, k=3: 0.4·0.9625 + 0.5 = 0.885 → all node 1
    const why = 'rescale: pool web health 0 < 0.5, 3 fragments unhealthy';
    expect(o.tick(obs(46_000))).toEqual([
      { type: 'start', fragment: 'web-3', profile: 'web', node: 1, cpus: NODE1, memory_kb: 262_144, reason: why },
      { type: 'start', fragment: 'web-4', profile: 'web', node: 1, cpus: NODE1, memory_kb: 262_144, reason: why },
      { type: 'start', fragment: 'web-5', profile: 'web', node: 1, cpus: NODE1, memory_kb: 262_144, reason: why },
    ]);
    expect(o.incidents().open.map((i) => [i.id, i.fragment, i.detected_ms])).toEqual([
      [1, 'web-0', 21_000],
      [2, 'web-1', 21_000],
      [3, 'web-2', 21_000],
    ]);
  });

  it('a single unhealthy fragment is healed but never rescaled (fewer than 2 live)', () => {
    const o = engine();
    serve(o, 'r1', 0);
    o.complete('web-0', { ok: true, latency_ms: 100 }, obs(800));
    o.tick(obs(1000));
    expect(o.tick(obs(6000, { fragments: [{ id: 'web-0', exited: true }] })).map((c) => c.type)).toEqual(['restart']);
  });
});

describe('requests of lost fragments', () => {
  it('drain keeps the request (undrain puts it back to work); replace hands it back before stop and start', () => {
    // Target 0 and one scaling cycle a day: no refill while draining (see the rollback test above).
    const o = engine({ pool: { min: 0, target: 0, max: 64 } }, {}, { interval_ms: 86_400_000 });
    serve(o, 'r1', 0);
    expect(o.tick(obs(1000))).toEqual([]);
    o.complete('web-0', { ok: true, latency_ms: 3000 }, obs(3500)); // mean latency 3000
    expect(o.schedule(req('r2'), obs(4000)).fragment).toBe('web-0'); // warm → active for r2
    // 6000: latency 1000/3000 = 0.333333 → slow → drain attempt 1, deadline 36000
    expect(o.tick(obs(6000)).map((c) => c.type)).toEqual(['drain']);
    expect(o.pools.get('web-0')?.request?.id).toBe('r2'); // draining keeps r2
    // 36000, 66000: the drain timed out → undrain (active again: it still holds r2) → drain again
    expect(o.tick(obs(36_000)).map((c) => c.type)).toEqual(['undrain', 'drain']);
    expect(o.tick(obs(66_000)).map((c) => c.type)).toEqual(['undrain', 'drain']);
    expect(o.pools.get('web-0')?.request?.id).toBe('r2');
    // 96000 = 6000 + 3 × 30000: drain ×3 failed → undrain (rollback), then replace: r2 goes back for a
    // retry, web-0 is stopped (emptying node 0: 0.8 vs node 1's 0.9), then web-1 starts on node 1.
    // Scaling (due 96000): size 1 (web-1 starting) > target 0, but nothing warm to stop.
    expect(o.tick(obs(96_000))).toEqual([
      { type: 'undrain', fragment: 'web-0', reason: 'rollback: drain timed out (incident 0)' },
      { type: 'retry', request: req('r2'), reason: 'web-0 lost it: replaced' },
      { type: 'stop', fragment: 'web-0', reason: 'replaced: slow (incident 0, replace attempt 1)' },
      {
        type: 'start',
        fragment: 'web-1',
        profile: 'web',
        node: 1,
        cpus: NODE1,
        memory_kb: 262_144,
        reason: 'replaces web-0: slow (incident 0, replace attempt 1)',
      },
    ]);
    expect(o.pools.get('web-0')).toBeUndefined();
    expect([o.ledger.activeOn(0), o.ledger.fragmentsOn(0), o.ledger.memFree_kb(0)]).toEqual([0, 0, 8_388_608]);
    const inc = onlyIncident(o);
    expect([inc.fragment, inc.strategy, inc.detected_ms]).toEqual(['web-1', 'replace', 6000]);
    o.started('web-1', obs(96_500));
    expect(stateOf(o, 'web-1')).toBe('warm'); // the replacement starts empty: r2 is the shell's to retry
    expect(inc.recovered_ms).toBe(96_500); // MTTR = 96500 − 6000 = 90500
  });
});

describe('crash reports for commands in flight', () => {
  it('a crash during a drain is replaced when the drain deadline passes', () => {
    const o = engine({ pool: { min: 0, target: 0, max: 64 } });
    serve(o, 'r1', 0);
    o.tick(obs(1000));
    o.complete('web-0', { ok: true, latency_ms: 3000 }, obs(3500));
    o.schedule(req('r2'), obs(4000));
    expect(o.tick(obs(6000)).map((c) => c.type)).toEqual(['drain']);
    // draining → failed: r2, which it was finishing, goes back for a retry; the drain's deadline decides the rest
    expect(o.failed('web-0', 'exit 1', obs(7000))).toEqual([
      { type: 'retry', request: req('r2'), reason: 'web-0 lost it: exit 1' },
    ]);
    // 36000: drain attempt 2 on a failed fragment → replace it: stop web-0 (nothing left to retry),
    // then start web-1 (node 1: 0.9 vs node 0 0.8)
    expect(o.tick(obs(36_000))).toEqual([
      { type: 'stop', fragment: 'web-0', reason: 'replaced: slow (incident 0, drain attempt 2)' },
      {
        type: 'start',
        fragment: 'web-1',
        profile: 'web',
        node: 1,
        cpus: NODE1,
        memory_kb: 262_144,
        reason: 'replaces web-0: slow (incident 0, drain attempt 2)',
      },
    ]);
    o.started('web-1', obs(36_500));
    expect(onlyIncident(o).recovered_ms).toBe(36_500);
  });
});
