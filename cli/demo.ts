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
import type { TopologyNode } from '../engine/topology.ts';
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

const fmtCpus = (c: readonly number[] = []) =>
  c.length > 1 && (c[c.length - 1] as number) - (c[0] as number) === c.length - 1 ? `${c[0]}-${c.at(-1)}` : c.join(',');

/**
 * The shell the demo plays by hand: the clock and the host it reports, starts that complete when
 * told, retries to resubmit, and the decisions and commands printed (text or JSON lines).
 */
class DemoShell {
  readonly topology = presetTopology('2n-32c');
  readonly engine: Orchestrator;
  t_ms = 0;
  psi = psiAt(0.05, 0.02, 0.01);
  online: number[] | undefined;
  nodes: Observation['nodes'];
  readonly counts: Record<string, number> = {};
  readonly retries: Request[] = [];
  private readonly pendingStarts: string[] = [];
  private n = 0;

  constructor(
    readonly seed: string,
    private readonly json: boolean,
    private readonly print: (line: string) => void,
  ) {
    this.engine = new Orchestrator({ config: parseConfig(DEMO_CONFIG), topology: this.topology, seed });
  }

  obs(): Observation {
    return {
      t_ms: this.t_ms,
      psi: this.psi,
      ...(this.online ? { online_cpus: this.online } : {}),
      ...(this.nodes ? { nodes: this.nodes } : {}),
    };
  }

  say(text: string): void {
    if (!this.json) this.print(text);
  }

  emit(kind: string, v: unknown): void {
    if (this.json) this.print(JSON.stringify({ kind, t_ms: this.t_ms, ...(v as object) }));
  }

  commands(cs: readonly Command[]): void {
    for (const c of cs) {
      this.emit('command', c);
      const target =
        'fragment' in c ? c.fragment : c.type === 'retry' ? c.request.id : c.type === 'shed' ? c.request_id : c.subject;
      this.say(
        `           ↳ ${c.type.padEnd(7)} ${target}${'node' in c ? ` on node ${c.node}` : ''}${c.type === 'migrate' ? ` → node ${c.to}` : ''}: ${c.reason}`,
      );
      // Play the shell: starts and restarts complete after the profile's cold-start time.
      if (c.type === 'start' || c.type === 'restart') this.pendingStarts.push(c.fragment);
      if (c.type === 'retry') this.retries.push(c.request);
    }
  }

  finishStarts(): void {
    for (const id of this.pendingStarts.splice(0))
      if (this.engine.pools.get(id)?.state === 'starting') this.engine.started(id, this.obs());
  }

  schedule(r: Request): Decision {
    const d = this.engine.schedule(r, this.obs());
    this.counts[d.action] = (this.counts[d.action] ?? 0) + 1;
    this.emit('decision', d);
    const where =
      d.action === 'place'
        ? `${d.start} → node ${d.node} cpus ${fmtCpus(d.cpus)}${d.exclusive ? ' (exclusive)' : ''} as ${d.fragment}`
        : d.retry_after_ms
          ? `retry in ${d.retry_after_ms} ms`
          : '';
    this.say(
      `${`t=${(this.t_ms / 1000).toFixed(1)}s`.padEnd(10)} ${r.id.padEnd(4)} ${r.profile.padEnd(6)} p${r.priority} ${d.action.toUpperCase().padEnd(6)} ${where}`,
    );
    this.say(`           why: ${d.reason} (confidence ${d.confidence})`);
    this.commands(d.commands);
    return d;
  }

  tick(label: string, predictions?: Parameters<Orchestrator['tick']>[1]): void {
    this.say(`${`t=${(this.t_ms / 1000).toFixed(1)}s`.padEnd(10)} tick: ${label}`);
    this.commands(this.engine.tick(this.obs(), predictions));
  }

  /** The shell reports a fragment's request done. */
  complete(fragment: string, latency_ms: number): void {
    this.commands(this.engine.complete(fragment, { ok: true, latency_ms }, this.obs()));
  }

  /** Every fragment running a request completes. */
  completeActive(latency_ms: number): void {
    for (const f of [...this.engine.pools.fragments()]) if (f.state === 'active') this.complete(f.id, latency_ms);
  }

  section(title: string): void {
    this.say(`\n== ${title}`);
  }

  req(profile: string, priority: 0 | 1 | 2 | 3, extra: Partial<Request> = {}): Request {
    return {
      id: `r${++this.n}`,
      profile,
      cpus: profile === 'batch' ? 2 : 0.5,
      memory_kb: 131_072,
      priority,
      ...extra,
    };
  }
}

function calmHost(s: DemoShell): void {
  s.section('Calm host: the first tick fills pools to their targets, requests find warm fragments');
  s.tick('first scaling cycle');
  s.t_ms = 400;
  s.finishStarts();
  const d1 = s.schedule(s.req('api', 1));
  const d2 = s.schedule(s.req('api', 1, { memory_home: 1 }));
  const d3 = s.schedule(s.req('db', 1, { cpus: 4, memory_kb: 2_097_152, exclusive_cpus: 4 }));
  s.t_ms = 520;
  for (const d of [d1, d2]) if (d.fragment) s.complete(d.fragment, 120);
  s.t_ms = 2_500;
  s.finishStarts();
  if (d3.fragment) s.complete(d3.fragment, 100);
}

function pressure(s: DemoShell): void {
  s.section(
    "A neighbour stalls the CPUs (0.84, none of it fgo's): holding requests back would relieve nothing, so nothing waits",
  );
  s.t_ms = 10_000;
  s.psi = psiAt(0.84, 0.1, 0.05);
  s.schedule(s.req('api', 1));
  s.schedule(s.req('api', 2));
  s.schedule(s.req('batch', 1));

  s.section(
    'Node 0 runs out of memory (under 2 % free) at memory pressure 0.75: batch, with seconds of SLO to spare, waits; the api cannot afford to',
  );
  s.t_ms = 11_000;
  s.psi = psiAt(0.1, 0.75, 0.05);
  s.nodes = [
    { id: 0, mem_free_kb: 100_000 },
    { id: 1, mem_free_kb: 40_000_000 },
  ];
  s.schedule(s.req('batch', 1));
  s.schedule(s.req('api', 1));
}

function overloadAndRecovery(s: DemoShell): void {
  s.section(
    'Overload: four 8-CPU jobs book every CPU; below high priority, a request that would wait past its SLO is shed at once, told when to retry',
  );
  s.t_ms = 12_000;
  s.psi = psiAt(0.3, 0.1, 0.05);
  s.nodes = undefined;
  s.finishStarts();
  // Everything running completes: room frees, and how fast it frees is measured.
  s.completeActive(150);
  s.t_ms = 12_100;
  const hogs = [0, 1, 2, 3].map(() => s.schedule(s.req('hog', 1, { cpus: 8 })));
  for (let i = 0; i < 2; i++) s.schedule(s.req('api', 0));
  s.schedule(s.req('api', 2));

  s.section('Room frees and pressure falls: waiting and deferred requests come back and are placed');
  s.t_ms = 12_600;
  s.finishStarts();
  for (const d of hogs)
    if (d.fragment && s.engine.pools.get(d.fragment)?.state === 'active') s.complete(d.fragment, 500);
  s.t_ms = 15_100;
  s.psi = psiAt(0.1, 0.05, 0.02);
  s.tick('deferrals due; predictor says api demand 4/s', [
    { profile: 'api', demand_per_s: 4, recommended_size: 6, confidence: 0.8 },
  ]);
  s.t_ms = 15_200;
  s.finishStarts();
  for (const r of s.retries.splice(0)) s.schedule(r);
  s.finishStarts();
  s.completeActive(100);
}

function failures(s: DemoShell): void {
  s.section('A fragment crashes: restart at once; it comes back, the incident closes');
  const victim = [...s.engine.pools.fragments()].find((f) => f.profile === 'api' && f.state === 'warm');
  if (victim) {
    s.t_ms = 50_000;
    s.say(`t=50.0s    shell reports ${victim.id} exited`);
    s.commands(s.engine.failed(victim.id, 'exit status 139', s.obs()));
    s.t_ms = 50_300;
    s.finishStarts();
  }

  s.section('Node 1 loses its CPUs (hot-unplug): its fragments fail over to node 0');
  s.t_ms = 60_000;
  s.online = (s.topology.nodes[0] as TopologyNode).cpus.slice();
  s.tick('health check sees node 1 with no usable CPUs');
  s.t_ms = 61_000;
  s.finishStarts();
  s.t_ms = 66_000;
  s.tick('health check after failover');
}

function summary(s: DemoShell): void {
  const inc = s.engine.incidents();
  const closed = inc.closed.filter((i) => i.recovered_ms !== undefined);
  s.section('Summary');
  s.say(
    `decisions: ${Object.entries(s.counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  for (const i of closed)
    s.say(
      `incident ${i.id}: ${i.symptom} on ${i.profile}, ${i.steps
        .filter((st) => st.outcome === 'issued')
        .map((st) => st.strategy)
        .join(' → ')}, recovered after ${(i.recovered_ms as number) - i.detected_ms} ms`,
    );
  s.say(
    `pools: ${s.engine
      .status()
      .pools.map((p) => `${p.profile} ${p.warm} warm / ${p.active} active`)
      .join(', ')}`,
  );
  s.emit('summary', {
    decisions: s.counts,
    incidents: closed.map((i) => ({
      id: i.id,
      symptom: i.symptom,
      detected_ms: i.detected_ms,
      recovered_ms: i.recovered_ms,
    })),
  });
}

export function runDemo(seed: string, json: boolean, print: (line: string) => void): void {
  const s = new DemoShell(seed, json, print);
  s.say(`fgo demo on topology 2n-32c (2 nodes × 16 CPUs, SLIT 10/21), seed "${seed}"`);
  calmHost(s);
  pressure(s);
  overloadAndRecovery(s);
  failures(s);
  summary(s);
}
