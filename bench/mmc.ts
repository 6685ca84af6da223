/**
 * M/M/16 against SimPy (bench/sim.ts reports it as `sim.mmc_vs_simpy`): the same queue —
 * bench/mmc.json, 16 servers, Poisson arrivals at 15/s, exponential service of mean 1 s, 4
 * simulated hours, about 216,000 customers — simulated by fgo's twin (with the engine deciding,
 * and with the least-loaded baseline) and by SimPy 3 (bench/simpy-mmc.py), in this one run.
 *
 * Speed is customers per CPU second of the simulating process (user + system, setup excluded;
 * Node's GC and compiler threads count against fgo), the best of 3 repeats (1 with --quick), so
 * other work on a shared machine colours it less than wall time would. fgo runs with no run
 * directory, so it writes no decisions.jsonl (as `--decisions none`): SimPy writes nothing either.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { PolicyName } from '../sim/baselines.ts';
import { runSimulation } from '../sim/run.ts';
import { parseScenario } from '../sim/scenario.ts';
import { presetTopology } from '../sim/topologies.ts';
import { roundTo } from '../engine/round.ts';

const here = new URL('./', import.meta.url).pathname;

export interface MmcVsSimpy {
  /** fgo's customers per CPU second over SimPy's: with the engine, with the baseline (null without SimPy). */
  engine: number | null;
  baseline: number | null;
  simpy_customers_per_s: number | null;
  fgo_engine_customers_per_s: number;
  fgo_baseline_customers_per_s: number;
  customers: number;
}

async function fgo(policy: PolicyName): Promise<{ customers: number; cpu_s: number }> {
  const s = parseScenario(JSON.parse(readFileSync(`${here}mmc.json`, 'utf8')));
  const topology = presetTopology(s.topology);
  const t0 = process.cpuUsage();
  const r = await runSimulation({ scenario: s, topology, policy, decisions: 'none' });
  const cpu = process.cpuUsage(t0);
  return { customers: r.metrics.requests.completed, cpu_s: (cpu.user + cpu.system) / 1e6 };
}

/** Debian's python3-simpy3 lives in the system interpreter's dist-packages, which a pyenv python3 does not see. */
function simpyPython(): string | undefined {
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, ['-c', 'import simpy'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return undefined;
}

function simpy(py: string): { customers: number; cpu_s: number } {
  const r = spawnSync(py, [`${here}simpy-mmc.py`, '--c', '16', '--rate', '15', '--service', '1', '--hours', '4'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`bench/simpy-mmc.py failed (status ${r.status}): ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim()) as { customers: number; cpu_s: number };
  return { customers: out.customers, cpu_s: out.cpu_s };
}

const perS = (x: { customers: number; cpu_s: number }) => x.customers / x.cpu_s;
const best = async <T extends { customers: number; cpu_s: number }>(n: number, f: () => T | Promise<T>): Promise<T> => {
  let b: T | undefined;
  for (let i = 0; i < n; i++) {
    const x = await f();
    if (!b || perS(x) > perS(b)) b = x;
  }
  return b as T;
};

export async function mmcVsSimpy(quick: boolean): Promise<MmcVsSimpy> {
  const repeats = quick ? 1 : 3;
  const engine = await best(repeats, () => fgo('engine'));
  const baseline = await best(repeats, () => fgo('least-loaded'));
  const py = simpyPython();
  if (!py)
    console.error(
      'M/M/16 against SimPy: SimPy 3 not found (apt-get install python3-simpy3, or pip install simpy); fgo measured alone',
    );
  const sp = py ? await best(repeats, () => simpy(py)) : undefined;
  const ratio = (x: { customers: number; cpu_s: number }) => (sp ? roundTo(perS(x) / perS(sp), 2) : null);
  return {
    engine: ratio(engine),
    baseline: ratio(baseline),
    simpy_customers_per_s: sp ? Math.round(perS(sp)) : null,
    fgo_engine_customers_per_s: Math.round(perS(engine)),
    fgo_baseline_customers_per_s: Math.round(perS(baseline)),
    customers: engine.customers,
  };
}
