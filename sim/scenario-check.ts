/**
 * What a scenario names that only the machine and the traces it runs on can confirm: the nodes
 * its faults and profiles' `home` name, the profiles its faults target. Each problem is a field
 * path and what is wrong, so a scenario that would silently do nothing (a fault on a node that
 * does not exist is never injected) is refused instead.
 */
import type { Topology } from '../engine/index.ts';
import type { WorkloadTrace } from './workload.ts';
import type { Scenario } from './scenario.ts';

const ids = (t: Topology) => t.nodes.map((n) => n.id).join(', ');

/** Every fault or home naming a node, or a fault naming a profile, that the run does not have. */
export function scenarioTargetProblems(
  s: Scenario,
  topology: Topology,
  traces: readonly (WorkloadTrace | undefined)[],
): string[] {
  const problems: string[] = [];
  for (const [name, p] of Object.entries(s.profiles)) {
    if (typeof p.home !== 'number') continue;
    const node = topology.byId.get(p.home);
    if (!node)
      problems.push(`profiles.${name}.home: node ${p.home} is not in topology ${s.topology} (nodes ${ids(topology)})`);
    else if (node.memory_kb === 0)
      problems.push(`profiles.${name}.home: node ${p.home} has no memory, so no data can live there`);
  }
  const profiles = new Set(Object.keys(s.profiles));
  for (const t of traces) for (const r of t?.rows ?? []) profiles.add(r.profile);
  s.faults.forEach((f, i) => {
    if (f.node !== undefined) {
      const node = topology.byId.get(f.node);
      if (!node)
        problems.push(`faults.${i}.node: node ${f.node} is not in topology ${s.topology} (nodes ${ids(topology)})`);
      else if (f.kind === 'cpu_offline' && node.cpus.length === 0)
        problems.push(`faults.${i}.node: node ${f.node} has no CPUs to take offline`);
      else if (f.kind !== 'cpu_offline')
        problems.push(
          `faults.${i}.node: a ${f.kind} fault hits a fragment, chosen by profile; node is for cpu_offline`,
        );
    }
    if (f.profile !== undefined && !profiles.has(f.profile)) {
      problems.push(
        `faults.${i}.profile: '${f.profile}' is neither in the scenario's profiles nor in its traces (${[...profiles].slice(0, 10).join(', ') || 'none'}${profiles.size > 10 ? ', …' : ''})`,
      );
    }
    if (f.at === undefined && f.rate_per_h === undefined)
      problems.push(`faults.${i}: needs 'at' (an instant) or 'rate_per_h' (a rate); it would never be injected`);
  });
  return problems;
}
