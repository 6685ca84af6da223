/**
 * Unit tests of engine/health.ts (signals, symptoms, the incident ladder, pool health) and of the
 * fragment state machine in engine/pools.ts. Every expected number is worked out by hand in the
 * comment beside it, from the config defaults:
 *   health: unhealthy_below 0.5, heartbeat_interval_ms 5000, heartbeat_timeout_ms 15000,
 *           error_rate_max 0.5, leak_factor 1.5, recovery_timeout_ms 30000, max_attempts 3
 *   default profile: memory_kb 262144, latency_slo_ms 1000
 */
import { describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../../engine/config.ts';
import { fragmentHealth, HealthMonitor, LADDER, poolHealth, type Strategy, type Symptom } from '../../engine/health.ts';
import { NodeLedger } from '../../engine/placement.ts';
import { canTransition, PoolSet, type Fragment, type FragmentState } from '../../engine/pools.ts';
import { buildTopology } from '../../engine/topology.ts';
import type { FragmentObservation } from '../../engine/types.ts';

const cfg: Config = parseConfig({});
const H = cfg.health;
const P = cfg.default_profile;

function frag(over: Partial<Fragment> = {}): Fragment {
  return {
    id: 'web-0',
    profile: 'web',
    adopted: false,
    node: 0,
    state: 'active',
    cpus: [0],
    exclusive_cpus: [],
    request: undefined,
    res_cpu: 0,
    res_mem_kb: 0,
    started_ms: 0,
    last_used_ms: 0,
    requests: 0,
    recent_ok: [],
    recent_latency_ms: [],
    ...over,
  };
}

/** `fails` failures among `n` outcomes, all with latency `lat`. */
function outcomes(n: number, fails: number, lat = 100): Pick<Fragment, 'recent_ok' | 'recent_latency_ms'> {
  return { recent_ok: Array.from({ length: n }, (_, i) => i >= fails), recent_latency_ms: Array(n).fill(lat) };
}

const seen = (o: Partial<FragmentObservation>): FragmentObservation => ({ id: 'web-0', ...o });

describe('config defaults the expectations rely on', () => {
  it('are the documented seeds', () => {
    expect(H).toMatchObject({
      interval_ms: 5000,
      unhealthy_below: 0.5,
      heartbeat_interval_ms: 5000,
      heartbeat_timeout_ms: 15000,
      error_rate_max: 0.5,
      leak_factor: 1.5,
      recovery_timeout_ms: 30000,
      max_attempts: 3,
      window: 20,
    });
    expect(P.memory_kb).toBe(262144);
    expect(P.latency_slo_ms).toBe(1000);
  });
});

describe('fragmentHealth: a fragment with nothing known is perfectly healthy', () => {
  it('all signals 1, score 1, no symptom', () => {
    const s = fragmentHealth(frag(), undefined, 1000, P, true, H);
    expect(s).toEqual({ errors: 1, latency: 1, heartbeat: 1, memory: 1, node: 1, score: 1 });
    expect(s.symptom).toBeUndefined();
  });
});

describe('fragmentHealth: errors signal = 1 − rate / error_rate_max', () => {
  it('5 failures of 20 → rate 0.25 → 1 − 0.25/0.5 = 0.5 (exactly at the threshold: not unhealthy)', () => {
    const s = fragmentHealth(frag(outcomes(20, 5)), undefined, 0, P, true, H);
    expect(s.errors).toBe(0.5); // 1 − (5/20)/0.5 = 1 − 0.5
    expect(s.score).toBe(0.5); // min(0.5, 1, 1, 1, 1)
    expect(s.symptom).toBeUndefined(); // 0.5 < 0.5 is false
  });
  it('6 failures of 20 → rate 0.3 → 1 − 0.3/0.5 = 0.4 → symptom errors', () => {
    const s = fragmentHealth(frag(outcomes(20, 6)), undefined, 0, P, true, H);
    expect(s.errors).toBe(0.4); // 1 − 0.6
    expect(s.score).toBe(0.4);
    expect(s.symptom).toBe('errors');
  });
  it('no failures → 1; every outcome failed → max(0, 1 − 1/0.5) = 0', () => {
    expect(fragmentHealth(frag(outcomes(10, 0)), undefined, 0, P, true, H).errors).toBe(1); // 1 − 0/0.5
    const all = fragmentHealth(frag(outcomes(4, 4)), undefined, 0, P, true, H);
    expect(all.errors).toBe(0); // 1 − 2 = −1, clamped to 0
    expect(all.symptom).toBe('errors');
  });
  it('honours a configured error_rate_max: 1 failure of 10 with max 0.2 → 1 − 0.1/0.2 = 0.5', () => {
    const h = parseConfig({ health: { error_rate_max: 0.2 } }).health;
    expect(fragmentHealth(frag(outcomes(10, 1)), undefined, 0, P, true, h).errors).toBe(0.5);
  });
});

describe('fragmentHealth: latency signal = slo / mean when mean > slo', () => {
  it('mean equal to the SLO (1000) → 1', () => {
    expect(fragmentHealth(frag(outcomes(3, 0, 1000)), undefined, 0, P, true, H).latency).toBe(1);
  });
  it('mean 2000 → 1000/2000 = 0.5, no symptom', () => {
    const s = fragmentHealth(frag(outcomes(4, 0, 2000)), undefined, 0, P, true, H);
    expect(s.latency).toBe(0.5);
    expect(s.symptom).toBeUndefined();
  });
  it('mean of [1000, 3000, 5000, 7000] = 16000/4 = 4000 → 1000/4000 = 0.25 → slow', () => {
    const f = frag({ recent_ok: [true, true, true, true], recent_latency_ms: [1000, 3000, 5000, 7000] });
    const s = fragmentHealth(f, undefined, 0, P, true, H);
    expect(s.latency).toBe(0.25);
    expect(s.score).toBe(0.25);
    expect(s.symptom).toBe('slow');
  });
  it('3× the SLO: 1000/3000 = 0.333333 (rounded to 6 places)', () => {
    expect(fragmentHealth(frag(outcomes(1, 0, 3000)), undefined, 0, P, true, H).latency).toBe(0.333333);
  });
});

describe('fragmentHealth: heartbeat signal, linear from interval (5000) to timeout (15000)', () => {
  const hb = (age: number) => fragmentHealth(frag(), seen({ heartbeat_ms: 100_000 - age }), 100_000, P, true, H);
  it.each([
    [0, 1], //       age ≤ 5000 → 1
    [5000, 1], //    age ≤ 5000 → 1
    [7500, 0.75], // 1 − (7500 − 5000)/(15000 − 5000) = 1 − 0.25
    [10000, 0.5], // 1 − 5000/10000
    [12500, 0.25], // 1 − 7500/10000
    [15000, 0], //   age ≥ timeout → 0
    [60000, 0], //   age ≥ timeout → 0
  ])('age %i ms → %f', (age, want) => {
    expect(hb(age).heartbeat).toBe(want);
  });
  it('age 10000 is healthy (0.5 is not below 0.5), age 12500 is hung', () => {
    expect(hb(10000).symptom).toBeUndefined();
    expect(hb(12500).symptom).toBe('hung');
    expect(hb(15000).score).toBe(0);
  });
  it('no heartbeat reported → 1', () => {
    expect(fragmentHealth(frag(), seen({}), 100_000, P, true, H).heartbeat).toBe(1);
  });
  it('follows configured interval/timeout: 1000/3000, age 2500 → 1 − 1500/2000 = 0.25', () => {
    const h = parseConfig({ health: { heartbeat_interval_ms: 1000, heartbeat_timeout_ms: 3000 } }).health;
    expect(fragmentHealth(frag(), seen({ heartbeat_ms: 7500 }), 10_000, P, true, h).heartbeat).toBe(0.25);
  });
});

describe('fragmentHealth: memory signal is binary, 1 while rss ≤ memory_kb × leak_factor, else 0', () => {
  // limit = 262144 × 1.5 = 393216 kB
  it('rss at the limit (393216) → 1, healthy', () => {
    const s = fragmentHealth(frag(), seen({ rss_kb: 393216 }), 0, P, true, H);
    expect(s).toEqual({ errors: 1, latency: 1, heartbeat: 1, memory: 1, node: 1, score: 1 });
  });
  it('1 kB over the limit (393217) → memory 0, score 0, leak at once', () => {
    const s = fragmentHealth(frag(), seen({ rss_kb: 393217 }), 0, P, true, H);
    expect(s).toEqual({ errors: 1, latency: 1, heartbeat: 1, memory: 0, node: 1, score: 0, symptom: 'leak' });
  });
  it('not proportional: 4 × the limit (1572864) is 0 too, as is 524288 (which used to score 0.75)', () => {
    expect(fragmentHealth(frag(), seen({ rss_kb: 1572864 }), 0, P, true, H).memory).toBe(0);
    expect(fragmentHealth(frag(), seen({ rss_kb: 524288 }), 0, P, true, H).memory).toBe(0);
  });
  it('rss not reported → 1', () => {
    expect(fragmentHealth(frag(), seen({ heartbeat_ms: 0 }), 0, P, true, H).memory).toBe(1);
  });
  it('follows a configured leak_factor: 2 → limit 524288, so 524288 → 1 and 524289 → 0', () => {
    const h = parseConfig({ health: { leak_factor: 2 } }).health;
    expect(fragmentHealth(frag(), seen({ rss_kb: 524288 }), 0, P, true, h).memory).toBe(1);
    expect(fragmentHealth(frag(), seen({ rss_kb: 524289 }), 0, P, true, h).memory).toBe(0);
  });
  it('a profile with memory_kb 0 has no limit → 1', () => {
    const p0 = parseConfig({ default_profile: { memory_kb: 0 } }).default_profile;
    expect(fragmentHealth(frag(), seen({ rss_kb: 10_000_000 }), 0, p0, true, H).memory).toBe(1);
  });
});

describe('fragmentHealth: node signal and crashes', () => {
  it('node not usable → node 0, score 0, node_offline', () => {
    const s = fragmentHealth(frag(), undefined, 0, P, false, H);
    expect(s).toEqual({ errors: 1, latency: 1, heartbeat: 1, memory: 1, node: 0, score: 0, symptom: 'node_offline' });
  });
  it('exited → score 0 and crashed, although every signal is 1', () => {
    const s = fragmentHealth(frag(), seen({ exited: true, heartbeat_ms: 0 }), 0, P, true, H);
    expect(s).toEqual({ errors: 1, latency: 1, heartbeat: 1, memory: 1, node: 1, score: 0, symptom: 'crashed' });
  });
  it('exited: false changes nothing', () => {
    expect(fragmentHealth(frag(), seen({ exited: false }), 0, P, true, H).score).toBe(1);
  });
});

describe('fragmentHealth: score is the minimum of the signals', () => {
  it('errors 0.8, latency 0.5, heartbeat 0.75, memory 1 → 0.5', () => {
    // errors: 2 failures of 20 → 1 − 0.1/0.5 = 0.8; latency 1000/2000 = 0.5;
    // heartbeat age 7500 → 0.75; memory: rss 393216 ≤ limit 393216 → 1
    const s = fragmentHealth(
      frag(outcomes(20, 2, 2000)),
      seen({ heartbeat_ms: 2500, rss_kb: 393216 }),
      10_000,
      P,
      true,
      H,
    );
    expect(s).toEqual({ errors: 0.8, latency: 0.5, heartbeat: 0.75, memory: 1, node: 1, score: 0.5 });
  });
  it('the same figures with rss 1 kB over the limit (393217) → memory 0 → score 0, leak', () => {
    const s = fragmentHealth(
      frag(outcomes(20, 2, 2000)),
      seen({ heartbeat_ms: 2500, rss_kb: 393217 }),
      10_000,
      P,
      true,
      H,
    );
    expect(s).toEqual({ errors: 0.8, latency: 0.5, heartbeat: 0.75, memory: 0, node: 1, score: 0, symptom: 'leak' });
  });
  it('a dead heartbeat is not hidden by otherwise perfect figures', () => {
    // four signals 1, heartbeat age 20000 → 0 → score 0 (a mean would have said 0.8)
    const s = fragmentHealth(frag(outcomes(20, 0, 10)), seen({ heartbeat_ms: 0 }), 20_000, P, true, H);
    expect(s.score).toBe(0);
    expect(s.symptom).toBe('hung');
  });
});

describe('fragmentHealth: symptom on ties, crashed > node_offline > hung > leak > errors > slow', () => {
  // Exact-in-binary 0.25s: errors 3 failures of 8 → 1 − 0.375/0.5 = 0.25; latency 1000/4000 = 0.25.
  // Memory is binary (1 or 0), so a leak ties only with signals that are 0 as well: heartbeat age
  // ≥ 15000 → 0; errors rate ≥ 0.5 → 0. Latency = slo/mean is never 0, so slow never ties with it.
  const errors25 = outcomes(8, 3, 4000); // errors 0.25 and latency 0.25
  const LEAKING = 393217; // 1 kB over 262144 × 1.5 = 393216 → memory 0
  it('crashed beats node_offline', () => {
    expect(fragmentHealth(frag(), seen({ exited: true }), 0, P, false, H).symptom).toBe('crashed');
  });
  it('node_offline beats hung (both 0)', () => {
    expect(fragmentHealth(frag(), seen({ heartbeat_ms: 0 }), 20_000, P, false, H).symptom).toBe('node_offline');
  });
  it('hung beats leak (both 0)', () => {
    // heartbeat age 15000 − 0 = 15000 ≥ timeout → 0; rss 393217 > 393216 → 0
    const s = fragmentHealth(frag(), seen({ heartbeat_ms: 0, rss_kb: LEAKING }), 15_000, P, true, H);
    expect([s.heartbeat, s.memory, s.score]).toEqual([0, 0, 0]);
    expect(s.symptom).toBe('hung');
  });
  it('node_offline beats leak (both 0)', () => {
    expect(fragmentHealth(frag(), seen({ rss_kb: LEAKING }), 0, P, false, H).symptom).toBe('node_offline');
  });
  it('leak beats errors (both 0), with slow above them at 0.25', () => {
    // errors: 2 failures of 4 → rate 0.5 → 1 − 0.5/0.5 = 0; latency 1000/4000 = 0.25; memory 0
    const s = fragmentHealth(frag(outcomes(4, 2, 4000)), seen({ rss_kb: LEAKING }), 0, P, true, H);
    expect([s.errors, s.latency, s.memory, s.score]).toEqual([0, 0.25, 0, 0]);
    expect(s.symptom).toBe('leak');
  });
  it('a leak beats errors and slow at 0.25: memory 0 is the weakest signal outright', () => {
    const s = fragmentHealth(frag(errors25), seen({ rss_kb: LEAKING }), 0, P, true, H);
    expect([s.errors, s.latency, s.memory, s.score]).toEqual([0.25, 0.25, 0, 0]);
    expect(s.symptom).toBe('leak');
  });
  it('errors beats slow (both 0.25)', () => {
    const s = fragmentHealth(frag(errors25), undefined, 0, P, true, H);
    expect([s.errors, s.latency]).toEqual([0.25, 0.25]);
    expect(s.symptom).toBe('errors');
  });
  it('the weakest signal names the symptom when there is no tie: slow 0.2 under errors 0.4', () => {
    // errors: 6 of 20 → 0.4; latency 1000/5000 = 0.2
    expect(fragmentHealth(frag(outcomes(20, 6, 5000)), undefined, 0, P, true, H).symptom).toBe('slow');
  });
});

describe('LADDER', () => {
  it('lists the strategies per symptom', () => {
    expect(LADDER).toEqual({
      crashed: ['restart', 'replace', 'failover'],
      hung: ['restart', 'replace', 'failover'],
      errors: ['restart', 'replace', 'failover'],
      slow: ['drain', 'replace', 'failover'],
      leak: ['restart', 'replace'],
      node_offline: ['failover'],
    });
  });
});

describe('HealthMonitor', () => {
  it('detect opens one incident per fragment and issues the first rung', () => {
    const m = new HealthMonitor(H);
    const f = frag();
    const out = m.detect(f, 'crashed', 1000);
    expect(out).toHaveLength(1);
    expect(out[0]?.kind).toBe('apply');
    const inc = m.incidentFor('web-0');
    expect(inc).toEqual({
      id: 0,
      fragment: 'web-0',
      origin: 'web-0',
      profile: 'web',
      symptom: 'crashed',
      detected_ms: 1000,
      strategy: 'restart',
      rung: 0,
      attempt: 1,
      issued_ms: 1000,
      deadline_ms: 31000, // 1000 + recovery_timeout 30000
      steps: [{ t_ms: 1000, strategy: 'restart', attempt: 1, outcome: 'issued' }],
    });
    // a second detection of the same fragment is ignored while the incident is open
    expect(m.detect(f, 'hung', 2000)).toEqual([]);
    expect(m.openIncidents()).toHaveLength(1);
    // another fragment gets its own incident with the next id; slow starts at drain
    const [it2] = m.detect(frag({ id: 'web-1' }), 'slow', 3000);
    expect(it2?.incident.id).toBe(1);
    expect(it2?.incident.strategy).toBe('drain');
    expect(m.openIncidents().map((i) => i.fragment)).toEqual(['web-0', 'web-1']);
  });

  it('expire does nothing before the deadline, then rolls back and retries the same strategy', () => {
    const m = new HealthMonitor(H);
    m.detect(frag(), 'crashed', 0);
    expect(m.expire(29_999)).toEqual([]); // deadline 0 + 30000
    const out = m.expire(30_000);
    expect(out.map((i) => i.kind)).toEqual(['rollback', 'apply']);
    expect(out[0]).toMatchObject({ kind: 'rollback', strategy: 'restart' });
    const inc = m.incidentFor('web-0')!;
    expect([inc.strategy, inc.rung, inc.attempt, inc.issued_ms, inc.deadline_ms]).toEqual([
      'restart',
      0,
      2,
      30_000,
      60_000,
    ]); // 30000 + 30000
  });

  it('walks the whole crashed ladder: 3 × restart, 3 × replace, 3 × failover, then gives up', () => {
    const m = new HealthMonitor(H);
    m.detect(frag(), 'crashed', 0);
    const seenStrategies: Array<[Strategy, number]> = [['restart', 1]];
    // attempts 2..9 are issued at 30000, 60000, …, 240000 (each deadline = issue + 30000)
    for (let k = 1; k <= 8; k++) {
      const out = m.expire(k * 30_000);
      expect(out.map((i) => i.kind)).toEqual(['rollback', 'apply']);
      const inc = m.incidentFor('web-0')!;
      expect(inc.deadline_ms).toBe(k * 30_000 + 30_000);
      seenStrategies.push([inc.strategy, inc.attempt]);
    }
    expect(seenStrategies).toEqual([
      ['restart', 1],
      ['restart', 2],
      ['restart', 3],
      ['replace', 1],
      ['replace', 2],
      ['replace', 3],
      ['failover', 1],
      ['failover', 2],
      ['failover', 3],
    ]);
    const inc = m.incidentFor('web-0')!;
    expect(inc.rung).toBe(2);
    // 9th timeout at 270000 = 9 × 30000: end of the ladder
    const last = m.expire(270_000);
    expect(last.map((i) => i.kind)).toEqual(['rollback', 'give_up']);
    expect(last[0]).toMatchObject({ strategy: 'failover' });
    expect(m.incidentFor('web-0')).toBeUndefined();
    expect(m.openIncidents()).toEqual([]);
    expect(m.closedIncidents()).toHaveLength(1);
    expect(inc.gave_up_ms).toBe(270_000);
    expect(inc.recovered_ms).toBeUndefined();
    // 9 issued + 9 timed_out + 1 gave_up = 19 steps
    expect(inc.steps).toHaveLength(19);
    expect(inc.steps.slice(0, 4)).toEqual([
      { t_ms: 0, strategy: 'restart', attempt: 1, outcome: 'issued' },
      { t_ms: 30_000, strategy: 'restart', attempt: 1, outcome: 'timed_out' },
      { t_ms: 30_000, strategy: 'restart', attempt: 2, outcome: 'issued' },
      { t_ms: 60_000, strategy: 'restart', attempt: 2, outcome: 'timed_out' },
    ]);
    // the escalation at 90000: restart attempt 3 timed out, replace attempt 1 issued
    expect(inc.steps.slice(5, 7)).toEqual([
      // steps 0–4: issued r1, timed_out r1, issued r2, timed_out r2, issued r3
      { t_ms: 90_000, strategy: 'restart', attempt: 3, outcome: 'timed_out' },
      { t_ms: 90_000, strategy: 'replace', attempt: 1, outcome: 'issued' },
    ]);
    expect(inc.steps.slice(-2)).toEqual([
      { t_ms: 270_000, strategy: 'failover', attempt: 3, outcome: 'timed_out' },
      { t_ms: 270_000, strategy: 'failover', attempt: 3, outcome: 'gave_up' },
    ]);
    // nothing more happens afterwards
    expect(m.expire(1_000_000)).toEqual([]);
  });

  it('node_offline has one rung: gives up after 3 failovers at 3 × 30000 = 90000', () => {
    const m = new HealthMonitor(H);
    m.detect(frag(), 'node_offline', 0);
    expect(m.expire(30_000).map((i) => i.kind)).toEqual(['rollback', 'apply']);
    expect(m.expire(60_000).map((i) => i.kind)).toEqual(['rollback', 'apply']);
    expect(m.incidentFor('web-0')).toMatchObject({ strategy: 'failover', attempt: 3 });
    const out = m.expire(90_000);
    expect(out.map((i) => i.kind)).toEqual(['rollback', 'give_up']);
    expect(out[1]?.incident.gave_up_ms).toBe(90_000);
  });

  it('max_attempts 1 escalates at every timeout; leak (2 rungs) gives up at the 2nd', () => {
    const m = new HealthMonitor(parseConfig({ health: { max_attempts: 1 } }).health);
    m.detect(frag(), 'leak', 0);
    const a = m.expire(30_000);
    expect(a.map((i) => i.kind)).toEqual(['rollback', 'apply']);
    expect(a[0]).toMatchObject({ strategy: 'restart' }); // the rollback names the strategy that timed out
    expect(m.incidentFor('web-0')).toMatchObject({ strategy: 'replace', rung: 1, attempt: 1 });
    expect(m.expire(60_000).map((i) => i.kind)).toEqual(['rollback', 'give_up']);
  });

  it('a late expire handles the deadline once, counting the new timeout from the late instant', () => {
    const m = new HealthMonitor(H);
    m.detect(frag(), 'hung', 0);
    m.expire(45_000); // deadline was 30000, the attempt is re-issued at 45000
    expect(m.incidentFor('web-0')).toMatchObject({ attempt: 2, issued_ms: 45_000, deadline_ms: 75_000 }); // 45000 + 30000
  });

  it('expires several incidents in id order', () => {
    const m = new HealthMonitor(H);
    m.detect(frag({ id: 'b' }), 'crashed', 0); // id 0
    m.detect(frag({ id: 'a' }), 'crashed', 0); // id 1
    const out = m.expire(30_000);
    expect(out.map((i) => `${i.kind}:${i.incident.fragment}`)).toEqual([
      'rollback:b',
      'apply:b',
      'rollback:a',
      'apply:a',
    ]);
  });

  it('recovered sets recovered_ms, records the step and closes the incident', () => {
    const m = new HealthMonitor(H);
    m.detect(frag(), 'crashed', 1000);
    expect(m.recovered('nope', 2000)).toBeUndefined();
    const inc = m.recovered('web-0', 2500)!;
    expect(inc.recovered_ms).toBe(2500); // MTTR = 2500 − 1000 = 1500
    expect(inc.steps.at(-1)).toEqual({ t_ms: 2500, strategy: 'restart', attempt: 1, outcome: 'recovered' });
    expect(m.incidentFor('web-0')).toBeUndefined();
    expect(m.closedIncidents()).toEqual([inc]);
    // a closed incident no longer expires, and a new detection opens incident 1
    expect(m.expire(100_000)).toEqual([]);
    expect(m.detect(frag(), 'hung', 3000)[0]?.incident.id).toBe(1);
  });

  it('follow moves the incident to the replacement fragment', () => {
    const m = new HealthMonitor(H);
    const [it0] = m.detect(frag(), 'crashed', 0);
    m.follow(it0!.incident, 'web-7');
    expect(m.incidentFor('web-0')).toBeUndefined();
    expect(m.incidentFor('web-7')?.id).toBe(0);
    expect(m.recovered('web-7', 10)?.recovered_ms).toBe(10);
  });

  it('each symptom opens on the first rung of its ladder', () => {
    const first: Record<Symptom, Strategy> = {
      crashed: 'restart',
      hung: 'restart',
      errors: 'restart',
      slow: 'drain',
      leak: 'restart',
      node_offline: 'failover',
    };
    const m = new HealthMonitor(H);
    for (const [s, want] of Object.entries(first) as Array<[Symptom, Strategy]>) {
      expect(m.detect(frag({ id: s }), s, 0)[0]?.incident.strategy).toBe(want);
    }
  });
});

describe('poolHealth', () => {
  it('is the mean of the scores, 1 for an empty pool', () => {
    expect(poolHealth([])).toBe(1);
    expect(poolHealth([0.5, 0])).toBe(0.25); // (0.5 + 0)/2
    expect(poolHealth([1, 0.5, 0])).toBe(0.5); // 1.5/3
    expect(poolHealth([1, 0, 0])).toBe(0.333333); // 1/3 rounded to 6 places
    expect(poolHealth([0.8])).toBe(0.8);
  });
});

describe('fragment state machine (pools.ts)', () => {
  const STATES: FragmentState[] = ['starting', 'warm', 'active', 'draining', 'stopped', 'failed'];
  // The table by hand: rows are `from`, columns `to` in the order of STATES.
  const LEGAL: Record<FragmentState, FragmentState[]> = {
    starting: ['warm', 'active', 'failed', 'stopped'],
    warm: ['active', 'draining', 'failed', 'stopped'],
    active: ['warm', 'draining', 'failed', 'stopped'],
    draining: ['stopped', 'failed', 'warm', 'active'],
    stopped: [],
    failed: ['starting', 'stopped'],
  };
  const cases = STATES.flatMap((from) => STATES.map((to) => [from, to, LEGAL[from].includes(to)] as const));
  it('covers all 36 pairs, 18 of them legal', () => {
    expect(cases).toHaveLength(36); // 6 × 6
    expect(cases.filter((c) => c[2])).toHaveLength(18); // 4 + 4 + 4 + 4 + 0 + 2
  });
  it.each(cases)('%s → %s legal: %s', (from, to, legal) => {
    expect(canTransition(from, to)).toBe(legal);
  });
  it('no state may transition to itself', () => {
    for (const s of STATES) expect(canTransition(s, s)).toBe(false);
  });

  const topo = buildTopology({
    nodes: [
      { id: 0, cpus: [0, 1, 2, 3], memory_kb: 8_388_608, distances: [10, 21] },
      { id: 1, cpus: [4, 5, 6, 7], memory_kb: 8_388_608, distances: [21, 10] },
    ],
  });
  const setup = () => {
    const ledger = new NodeLedger(topo, 1);
    return { ledger, pools: new PoolSet(cfg, ledger) };
  };

  it('PoolSet.transition throws on an illegal transition and leaves the fragment as it was', () => {
    const { pools } = setup();
    const f = pools.create('web', 0, [0, 1, 2, 3], 0);
    expect(f.id).toBe('web-0');
    expect(() => pools.transition(f, 'draining')).toThrow('fragment web-0: illegal transition starting → draining');
    expect(f.state).toBe('starting');
    expect(pools.pool('web').count.starting).toBe(1);
    pools.transition(f, 'failed');
    expect(() => pools.transition(f, 'active')).toThrow('illegal transition failed → active');
    expect(() => pools.transition(f, 'warm')).toThrow('illegal transition failed → warm');
    pools.transition(f, 'stopped');
    expect(() => pools.transition(f, 'starting')).toThrow('illegal transition stopped → starting');
  });

  it('PoolSet.transition keeps counts, warm lists and the node ledger exact along a life', () => {
    const { pools, ledger } = setup();
    const pool = pools.pool('web');
    const f = pools.create('web', 0, [0, 1, 2, 3], 0);
    // creation reserves the profile memory: 8388608 − 262144 = 8126464 kB free
    expect(ledger.memFree_kb(0)).toBe(8_126_464);
    expect([pool.size, ledger.fragmentsOn(0)]).toEqual([1, 1]);
    pools.transition(f, 'warm');
    expect([pool.count.warm, pool.warmOn(0), pool.popWarm(0)?.id]).toEqual([1, 1, 'web-0']);
    pools.transition(f, 'active');
    expect([pool.count.active, pool.warmOn(0), ledger.activeOn(0)]).toEqual([1, 0, 1]);
    pools.transition(f, 'draining');
    expect([pool.size, ledger.activeOn(0)]).toEqual([0, 0]); // draining is not live and not active
    pools.transition(f, 'active'); // rollback of a drain
    expect(ledger.activeOn(0)).toBe(1);
    pools.transition(f, 'failed');
    // failed releases the reservation: all 8388608 kB free again, no active fragment
    expect([ledger.memFree_kb(0), ledger.activeOn(0), ledger.fragmentsOn(0)]).toEqual([8_388_608, 0, 1]);
    pools.transition(f, 'starting'); // restart in place re-reserves 262144 kB
    expect(ledger.memFree_kb(0)).toBe(8_126_464);
    pools.transition(f, 'stopped');
    expect([pools.get('web-0'), pools.liveCount, ledger.fragmentsOn(0), ledger.memFree_kb(0)]).toEqual([
      undefined,
      0,
      0,
      8_388_608,
    ]);
    expect(pool.count).toEqual({ starting: 0, warm: 0, active: 0, draining: 0, stopped: 1, failed: 0 });
  });
});

describe('fragmentHealth: latency against peers', () => {
  it('a fragment over 3 × its pool mean is slow even inside the SLO (SLO 1000 ms)', () => {
    // mean 600 ms, pool mean 150 → ref = min(1000, 3 × 150) = 450 → 450/600 = 0.75
    expect(fragmentHealth(frag(outcomes(10, 0, 600)), undefined, 0, P, true, H, 150).latency).toBe(0.75);
    // mean 1200, pool mean 150 → 450/1200 = 0.375 < 0.5 → slow
    const s = fragmentHealth(frag(outcomes(10, 0, 1200)), undefined, 0, P, true, H, 150);
    expect(s.latency).toBe(0.375);
    expect(s.symptom).toBe('slow');
    // Peers slower than a third of the SLO: the SLO is the bar (1000/1200 = 0.833333).
    expect(fragmentHealth(frag(outcomes(10, 0, 1200)), undefined, 0, P, true, H, 800).latency).toBe(0.833333);
    // No track record (0): SLO only.
    expect(fragmentHealth(frag(outcomes(10, 0, 600)), undefined, 0, P, true, H, 0).latency).toBe(1);
  });
});
