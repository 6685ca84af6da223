/**
 * `fgo topology`: the NUMA topology of this host — or of a dump of another machine with --fs-root —
 * as a readable table, or with --json as the topology JSON of docs/formats.md (what `--topology FILE` and
 * `--topology sysfs:DIR` read). Warnings about surprising sysfs contents go to stderr.
 */
import type { Command } from 'commander';
import { buildTopology, TopologyError } from '../engine/topology.ts';
import { formatCpuList } from '../formats/host/cpulist.ts';
import { resolveRoots, type RootOptions } from '../formats/host/roots.ts';
import { readTopologyDetailed, type TopologyReadResult } from '../formats/host/topology.ts';
import { InputError } from '../formats/errors.ts';
import { noCpusProblem } from '../sim/scenario-inputs.ts';
import { addRootOptions } from './host-roots.ts';

interface TopologyOptions extends RootOptions {
  json?: boolean;
}

const gib = (kb: number) => `${(kb / (1024 * 1024)).toFixed(2)} GiB`;
const list = (ids: readonly number[]) => formatCpuList(ids) || '(none)';

/** The human-readable report: nodes, the SLIT, the online and allowed sets, then any warnings. */
export function renderTopology(r: TopologyReadResult): string {
  const t = r.topology;
  const out: string[] = [];
  const cpus = t.nodes.reduce((s, n) => s + n.cpus.length, 0);
  const mem = t.nodes.reduce((s, n) => s + n.memory_kb, 0);
  const where = r.roots.fs && r.roots.fs !== '/' ? ` of ${r.roots.fs}` : '';
  out.push(
    `NUMA topology${where}: ${t.nodes.length} node${t.nodes.length === 1 ? '' : 's'}, ${cpus} CPUs (${t.online_cpus.length} online, ${t.allowed_cpus.length} allowed), ${gib(mem)}`,
  );
  out.push('');
  const cpuCol = Math.max(4, ...t.nodes.map((n) => list(n.cpus).length));
  const idCol = Math.max(4, ...t.nodes.map((n) => String(n.id).length));
  out.push(`${'node'.padStart(idCol)}  ${'cpus'.padEnd(cpuCol)}  ${'memory'.padStart(12)}  allowed`);
  const allowedCpus = new Set(t.allowed_cpus);
  for (const n of t.nodes) {
    const memAllowed = t.allowed_nodes.includes(n.id);
    const cpuAllowed = n.cpus.filter((c) => allowedCpus.has(c));
    const allowed =
      [
        memAllowed ? 'memory' : '',
        cpuAllowed.length === n.cpus.length
          ? n.cpus.length
            ? 'cpus'
            : ''
          : cpuAllowed.length
            ? `cpus ${list(cpuAllowed)}`
            : '',
      ]
        .filter(Boolean)
        .join(', ') || 'no';
    out.push(
      `${String(n.id).padStart(idCol)}  ${(n.cpus.length ? list(n.cpus) : '(none)').padEnd(cpuCol)}  ${gib(n.memory_kb).padStart(12)}  ${allowed}`,
    );
  }
  out.push('');
  out.push('distances (SLIT, row = from, column = to)');
  const w = Math.max(
    4,
    ...t.nodes.map((n) => String(n.id).length + 1),
    ...t.nodes.flatMap((n) => n.distances.map((d) => String(d).length + 1)),
  );
  out.push(`${''.padStart(idCol)}${t.nodes.map((n) => String(n.id).padStart(w)).join('')}`);
  for (const n of t.nodes)
    out.push(`${String(n.id).padStart(idCol)}${n.distances.map((d) => String(d).padStart(w)).join('')}`);
  out.push('');
  const src = r.cpuset;
  const from =
    src.source === 'none'
      ? 'no cpuset found: everything'
      : src.source === 'status'
        ? 'proc/self/status'
        : `${src.source} cpuset ${src.cgroup}${src.cpus_file ? `: ${src.cpus_file}` : ''}`;
  out.push(`online CPUs:   ${list(t.online_cpus)}`);
  if (r.present_cpus) out.push(`present CPUs:  ${list(r.present_cpus)}`);
  out.push(`allowed CPUs:  ${list(t.allowed_cpus)}  (${from})`);
  out.push(`allowed nodes: ${list(t.allowed_nodes)}`);
  return out.join('\n');
}

export function registerTopologyCommand(program: Command): void {
  const cmd = program
    .command('topology')
    .description(
      'read the NUMA topology of this host (or of a dump with --fs-root): nodes, CPUs, memory, SLIT distances, online and allowed CPUs',
    );
  addRootOptions(cmd)
    .option('--json', 'print the topology JSON (docs/formats.md), as --topology FILE reads it')
    .addHelpText(
      'after',
      '\nExamples:\n  $ fgo topology\n  $ fgo topology --fs-root ./dump --json > host.json\n  $ fgo decide --topology host.json …   # or --topology sysfs:./dump',
    )
    .action((o: TopologyOptions) => {
      let r: TopologyReadResult;
      try {
        r = readTopologyDetailed(resolveRoots(o)); // unusable roots: an InputError, exit 1
        buildTopology(r.topology);
      } catch (e) {
        if (e instanceof TopologyError) throw new InputError(e.problems);
        throw e;
      }
      for (const w of r.warnings) console.error(`warning: ${w}`);
      const none = noCpusProblem(r.roots.sys, r.topology);
      if (none) throw new InputError([none]);
      console.log(o.json ? JSON.stringify(r.topology) : renderTopology(r));
    });
}
