/**
 * A policy of your own, run by fgo's twin beside the engine on identical arrivals.
 *
 *   node --import tsx examples/custom-policy.ts [SCENARIO] [DURATION]      (default: default 2m)
 *
 * "Warm or round-robin": a request takes an idle warm fragment of its profile wherever one is;
 * otherwise a new fragment is cold-started on the next node in turn. Fragments are never stopped,
 * never moved, never healed beyond a restart, and pressure is ignored. It prints the two runs'
 * figures and the verdict (sim/verdict.ts) of the engine against it.
 */
import {
  loadScenario,
  makeDecision,
  parseScenario,
  presetTopology,
  runSimulation,
  verdictFor,
  type Command,
  type CustomPolicy,
  type Observation,
  type Policy,
  type Request,
  type Topology,
} from '../index.ts';

type Frag = { node: number; cpus: number[]; profile: string; request?: Request };

class WarmOrRoundRobin implements Policy {
  private seq = 0;
  private next = 0;
  private made = 0;
  /** Idle fragments per profile (ids), and every fragment's node, CPUs, profile and request. */
  private readonly idle = new Map<string, string[]>();
  private readonly frags = new Map<string, Frag>();

  constructor(private readonly topo: Topology) {}

  schedule(req: Request, obs: Observation) {
    const warm = this.idle.get(req.profile)?.pop();
    if (warm !== undefined) {
      const f = this.frags.get(warm) as Frag; // an idle fragment is always in frags
      f.request = req;
      return makeDecision(req, obs.t_ms, this.seq++, {
        action: 'place',
        start: 'warm',
        node: f.node,
        fragment: warm,
        reason: 'an idle warm fragment',
      });
    }
    const node = this.topo.nodes[this.next++ % this.topo.nodes.length] as Topology['nodes'][number];
    const id = `${req.profile}-${++this.made}`;
    const cpus = [...node.allowed_cpus];
    this.frags.set(id, { node: node.id, cpus, profile: req.profile, request: req });
    const start: Command = {
      type: 'start',
      fragment: id,
      profile: req.profile,
      node: node.id,
      cpus,
      memory_kb: req.memory_kb,
      reason: 'no idle fragment: round robin',
    };
    return makeDecision(req, obs.t_ms, this.seq++, {
      action: 'place',
      start: 'cold',
      node: node.id,
      cpus: start.cpus,
      fragment: id,
      reason: 'cold start, next node in turn',
      commands: [start],
    });
  }

  started(): Command[] {
    return [];
  }

  complete(id: string): Command[] {
    const f = this.frags.get(id);
    if (!f) return [];
    f.request = undefined;
    let list = this.idle.get(f.profile);
    if (!list) this.idle.set(f.profile, (list = []));
    list.push(id);
    return [];
  }

  /** A fragment died: its request is tried again, the fragment restarted. */
  failed(id: string, reason: string): Command[] {
    const f = this.frags.get(id);
    if (!f) return [];
    const out: Command[] = f.request ? [{ type: 'retry', request: f.request, reason: `${id} died` }] : [];
    f.request = undefined;
    out.push({
      type: 'restart',
      fragment: id,
      reason,
      timeout_ms: 30_000,
      profile: f.profile,
      node: f.node,
      cpus: f.cpus,
    });
    return out;
  }

  tick(): Command[] {
    return [];
  }
}

export const warmOrRoundRobin: CustomPolicy = {
  name: 'warm-or-round-robin',
  create: ({ topology }) => new WarmOrRoundRobin(topology),
};

/** Both runs on `scenario` for `duration`: the figures and the verdict. */
export async function compareWithEngine(name = 'default', duration = '2m') {
  const scenario = parseScenario({ ...loadScenario(name), duration });
  const topology = presetTopology(scenario.topology);
  const mine = await runSimulation({ scenario, topology, policy: warmOrRoundRobin });
  const engine = await runSimulation({ scenario, topology, policy: 'engine' });
  return {
    mine: mine.metrics,
    engine: engine.metrics,
    verdict: verdictFor(scenario.name, { engine: engine.metrics, [warmOrRoundRobin.name]: mine.metrics }),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await compareWithEngine(process.argv[2], process.argv[3]);
  const row = (n: string, m: typeof r.mine) =>
    `${n.padEnd(20)} p99 ${String(m.latency_ms.p99).padStart(9)} ms   SLO misses ${m.slo_miss_ratio.toFixed(4)}   cold ${m.cold_start_ratio.toFixed(3)}   local ${m.local_access_ratio.toFixed(3)}`;
  console.log(
    [row(warmOrRoundRobin.name, r.mine), row('engine', r.engine), '', `verdict: ${r.verdict.summary}`].join('\n'),
  );
}
