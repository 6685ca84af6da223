/**
 * `fgo demo` (and `npm start` until the twin exists): a scripted tour of the engine on the built-in
 * `2n-32c` topology. It plays a shell by hand — feeding observations, carrying out commands by
 * reporting them done — and prints every decision and command, so a newcomer sees placement,
 * deferral, shedding, scaling and healing happen, each with its reason.
 */
import {
  Orchestrator,
  parseConfig,
  type Command,
  type Decision,
  type Observation,
  type PsiSet,
  type Request,
} from '../engine/index.ts';
import { presetTopology } from '../sim/topologies.ts';

const psiAt = (cpu: number, memory: number, io: number): PsiSet => {
  const line = (v: number) => ({
    some: { avg10: v, avg60: v, avg300: v },
    full: { avg10: v / 2, avg60: v / 2, avg300: v / 2 },
  });
  return { cpu: line(cpu), memory: line(memory), io: line(io) };
};

const DEMO_CONFIG = {
  profiles: {
    api: {
      cpus: 0.5,
      memory_kb: 262_144,
      cold_start_ms: 300,
      latency_slo_ms: 200,
      preferred_nodes: [0],
      pool: { min: 1, target: 2, max: 8 },
    },
    batch: {
      cpus: 2,
      memory_kb: 1_048_576,
      io_intensive: true,
      cold_start_ms: 800,
      latency_slo_ms: 5_000,
      pool: { min: 0, target: 0, max: 4 },
    },
    db: {
      cpus: 4,
      memory_kb: 4_194_304,
      cold_start_ms: 2_000,
      latency_slo_ms: 500,
      pool: { min: 0, target: 0, max: 2 },
    },
    hog: {
      cpus: 8,
      memory_kb: 1_048_576,
      cold_start_ms: 500,
      latency_slo_ms: 60_000,
      pool: { min: 0, target: 0, max: 8 },
    },
  },
};

export function runDemo(seed: string, json: boolean, print: (line: string) => void): void {
  const topology = presetTopology('2n-32c');
  const engine = new Orchestrator({ config: parseConfig(DEMO_CONFIG), topology, seed });
  let t_ms = 0;
  let psi = psiAt(0.05, 0.02, 0.01);
  let online: number[] | undefined;
  let nodes: Observation['nodes'];
  const obs = (): Observation => ({
    t_ms,
    psi,
    ...(online ? { online_cpus: online } : {}),
    ...(nodes ? { nodes } : {}),
  });
  const counts: Record<string, number> = {};

  const say = (text: string) => {
    if (!json) print(text);
  };
  const emit = (kind: string, v: unknown) => {
    if (json) print(JSON.stringify({ kind, t_ms, ...(v as object) }));
  };
  const fmtCpus = (c: readonly number[] = []) =>
    c.length > 1 && c[c.length - 1]! - c[0]! === c.length - 1 ? `${c[0]}-${c.at(-1)}` : c.join(',');
  const commands = (cs: readonly Command[]) => {
    for (const c of cs) {
      emit('command', c);
      const target =
        'fragment' in c ? c.fragment : c.type === 'retry' ? c.request.id : c.type === 'shed' ? c.request_id : c.subject;
      say(
        `           ↳ ${c.type.padEnd(7)} ${target}${'node' in c ? ` on node ${c.node}` : ''}${c.type === 'migrate' ? ` → node ${c.to}` : ''}: ${c.reason}`,
      );
      // Play the shell: starts and restarts complete after the profile's cold-start time.
      if (c.type === 'start' || c.type === 'restart') pendingStarts.push(c.fragment);
      if (c.type === 'retry') retries.push(c.request);
    }
  };
  const pendingStarts: string[] = [];
  const retries: Request[] = [];
  const finishStarts = () => {
    for (const id of pendingStarts.splice(0)) if (engine.pools.get(id)?.state === 'starting') engine.started(id, obs());
  };
  const schedule = (r: Request): Decision => {
    const d = engine.schedule(r, obs());
    counts[d.action] = (counts[d.action] ?? 0) + 1;
    emit('decision', d);
    const where =
      d.action === 'place'
        ? `${d.start} → node ${d.node} cpus ${fmtCpus(d.cpus)}${d.exclusive ? ' (exclusive)' : ''} as ${d.fragment}`
        : d.retry_after_ms
          ? `retry in ${d.retry_after_ms} ms`
          : '';
    say(
      `${`t=${(t_ms / 1000).toFixed(1)}s`.padEnd(10)} ${r.id.padEnd(4)} ${r.profile.padEnd(6)} p${r.priority} ${d.action.toUpperCase().padEnd(6)} ${where}`,
    );
    say(`           why: ${d.reason} (confidence ${d.confidence})`);
    commands(d.commands);
    return d;
  };
  const tick = (label: string, predictions?: Parameters<Orchestrator['tick']>[1]) => {
    say(`${`t=${(t_ms / 1000).toFixed(1)}s`.padEnd(10)} tick: ${label}`);
    commands(engine.tick(obs(), predictions));
  };
  const section = (title: string) => say(`\n== ${title}`);
  let n = 0;
  const req = (profile: string, priority: 0 | 1 | 2 | 3, extra: Partial<Request> = {}): Request => ({
    id: `r${++n}`,
    profile,
    cpus: profile === 'batch' ? 2 : 0.5,
    memory_kb: 131_072,
    priority,
    ...extra,
  });

  say(`fgo demo on topology 2n-32c (2 nodes × 16 CPUs, SLIT 10/21), seed "${seed}"`);
  section('Calm host: the first tick fills pools to their targets, requests find warm fragments');
  tick('first scaling cycle');
  t_ms = 400;
  finishStarts();
  const d1 = schedule(req('api', 1));
  const d2 = schedule(req('api', 1, { memory_home: 1 }));
  const d3 = schedule(req('db', 1, { cpus: 4, memory_kb: 2_097_152, exclusive_cpus: 4 }));
  t_ms = 520;
  for (const d of [d1, d2]) if (d.fragment) commands(engine.complete(d.fragment, { ok: true, latency_ms: 120 }, obs()));
  t_ms = 2_500;
  finishStarts();
  if (d3.fragment) commands(engine.complete(d3.fragment, { ok: true, latency_ms: 100 }, obs()));

  section(
    "A neighbour stalls the CPUs (0.84, none of it fgo's): holding requests back would relieve nothing, so nothing waits",
  );
  t_ms = 10_000;
  psi = psiAt(0.84, 0.1, 0.05);
  schedule(req('api', 1));
  schedule(req('api', 2));
  schedule(req('batch', 1));

  section(
    'Node 0 runs out of memory (under 2 % free) at memory pressure 0.75: batch, with seconds of SLO to spare, waits; the api cannot afford to',
  );
  t_ms = 11_000;
  psi = psiAt(0.1, 0.75, 0.05);
  nodes = [
    { id: 0, mem_free_kb: 100_000 },
    { id: 1, mem_free_kb: 40_000_000 },
  ];
  schedule(req('batch', 1));
  schedule(req('api', 1));

  section(
    'Overload: four 8-CPU jobs book every CPU; below high priority, a request that would wait past its SLO is shed at once, told when to retry',
  );
  t_ms = 12_000;
  psi = psiAt(0.3, 0.1, 0.05);
  nodes = undefined;
  finishStarts();
  // Everything running completes: room frees, and how fast it frees is measured.
  for (const f of [...engine.pools.fragments()])
    if (f.state === 'active') commands(engine.complete(f.id, { ok: true, latency_ms: 150 }, obs()));
  t_ms = 12_100;
  const hogs = [0, 1, 2, 3].map(() => schedule(req('hog', 1, { cpus: 8 })));
  for (let i = 0; i < 2; i++) schedule(req('api', 0));
  schedule(req('api', 2));

  section('Room frees and pressure falls: waiting and deferred requests come back and are placed');
  t_ms = 12_600;
  finishStarts();
  for (const d of hogs)
    if (d.fragment && engine.pools.get(d.fragment)?.state === 'active')
      commands(engine.complete(d.fragment, { ok: true, latency_ms: 500 }, obs()));
  t_ms = 15_100;
  psi = psiAt(0.1, 0.05, 0.02);
  tick('deferrals due; predictor says api demand 4/s', [
    { profile: 'api', demand_per_s: 4, recommended_size: 6, confidence: 0.8 },
  ]);
  t_ms = 15_200;
  finishStarts();
  for (const r of retries.splice(0)) schedule(r);
  finishStarts();
  for (const f of [...engine.pools.fragments()])
    if (f.state === 'active') commands(engine.complete(f.id, { ok: true, latency_ms: 100 }, obs()));

  section('A fragment crashes: restart at once; it comes back, the incident closes');
  const victim = [...engine.pools.fragments()].find((f) => f.profile === 'api' && f.state === 'warm');
  if (victim) {
    t_ms = 50_000;
    say(`t=50.0s    shell reports ${victim.id} exited`);
    commands(engine.failed(victim.id, 'exit status 139', obs()));
    t_ms = 50_300;
    finishStarts();
  }

  section('Node 1 loses its CPUs (hot-unplug): its fragments fail over to node 0');
  t_ms = 60_000;
  online = topology.nodes[0]!.cpus.slice();
  tick('health check sees node 1 with no usable CPUs');
  t_ms = 61_000;
  finishStarts();
  t_ms = 66_000;
  tick('health check after failover');

  const inc = engine.incidents();
  const closed = inc.closed.filter((i) => i.recovered_ms !== undefined);
  section('Summary');
  say(
    `decisions: ${Object.entries(counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  for (const i of closed)
    say(
      `incident ${i.id}: ${i.symptom} on ${i.profile}, ${i.steps
        .filter((s) => s.outcome === 'issued')
        .map((s) => s.strategy)
        .join(' → ')}, recovered after ${i.recovered_ms! - i.detected_ms} ms`,
    );
  say(
    `pools: ${engine
      .status()
      .pools.map((p) => `${p.profile} ${p.warm} warm / ${p.active} active`)
      .join(', ')}`,
  );
  emit('summary', {
    decisions: counts,
    incidents: closed.map((i) => ({
      id: i.id,
      symptom: i.symptom,
      detected_ms: i.detected_ms,
      recovered_ms: i.recovered_ms,
    })),
  });
}
