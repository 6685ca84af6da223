/**
 * The same load on 2, 4 and 8 NUMA nodes: the `default` scenario's arrivals (a 20-ms API at
 * 250/s and a 2-s batch job at 4/s, data on a random node) on the presets 2n-32c, 4n-64c and
 * 8n-128c, by the engine and by a locality-blind baseline (least-loaded). What changes is the
 * topology only, and the presets keep CPUs per node constant (16), so the machine grows with the
 * node count (32, 64, 128 CPUs; memory 2 × 64, 4 × 64, 8 × 32 GiB) and the load's share of it
 * shrinks. Arrivals are identical across runs (same seed); the node each request's data lives on
 * is drawn among the topology's nodes, so the chance that a blind choice is local falls as 1/N.
 *
 *   fgo study notebooks/numa-scaling.ts [--quick]
 */
import { join } from 'node:path';
import { prepare } from '../cli/prepare.ts';
import { writeReport } from '../reports/report.ts';
import type { PolicyName } from '../sim/baselines.ts';
import { runAllInto, textTable, type StudyContext, type StudyResult } from './lib.ts';

const SCENARIO = 'default';
export const TOPOLOGIES = ['2n-32c', '4n-64c', '8n-128c'] as const;
export const POLICIES: PolicyName[] = ['engine', 'least-loaded'];

export default async function study(ctx: StudyContext): Promise<StudyResult> {
  const duration = ctx.quick ? '2m' : '10m';
  const inputs = new Map(TOPOLOGIES.map((topology) => [topology, prepare({ scenario: SCENARIO, topology, duration })]));
  const runs = TOPOLOGIES.flatMap((topology) =>
    POLICIES.map((policy) => ({
      name: `${topology}-${policy}`,
      flags: { scenario: SCENARIO, topology, duration },
      policy,
      topology,
    })),
  );
  ctx.log(runs.map((r) => `${r.topology} · ${r.policy}`).join('\n'));
  const results = await runAllInto(ctx, runs);
  const dirs = results.map((r) => r.dir);
  const rows = runs.map(({ topology, policy }, i) => {
    const { metrics: m, dir } = results[i] as (typeof results)[number];
    const t = (inputs.get(topology) as ReturnType<typeof prepare>).topology;
    return {
      topology,
      nodes: t.nodes.length,
      cpus: t.nodes.reduce((a, n) => a + n.cpus.length, 0),
      policy,
      local_access_ratio: m.local_access_ratio,
      latency_p99_ms: m.latency_ms.p99,
      latency_p50_ms: m.latency_ms.p50,
      utilization_mean: m.utilization.mean,
      utilization_cv: m.utilization.cv,
      deferred: m.requests.deferred,
      shed: m.requests.shed,
      completed: m.requests.completed,
      run_dir: dir,
    };
  });
  ctx.log(
    textTable(
      ['topology', 'policy', 'local', 'p99 ms', 'p50 ms', 'util', 'util cv', 'deferred', 'shed'],
      rows.map((r) => [
        r.topology,
        r.policy,
        r.local_access_ratio.toFixed(3),
        r.latency_p99_ms,
        r.latency_p50_ms,
        r.utilization_mean.toFixed(3),
        r.utilization_cv.toFixed(3),
        r.deferred,
        r.shed,
      ]),
    ),
  );
  const report = await writeReport(dirs, join(ctx.out, 'report.html'), {
    title: `fgo study numa-scaling: ${SCENARIO} (${duration}) on ${TOPOLOGIES.join(', ')}`,
  });
  return {
    report: report.path,
    summary: {
      study: 'numa-scaling',
      scenario: SCENARIO,
      duration,
      held_constant: 'CPUs per node (16); the arrivals (same seed)',
      topologies: [...TOPOLOGIES],
      policies: POLICIES,
      rows,
    },
  };
}
