/**
 * What a scenario names, read and validated: its topology (a preset, a topology JSON file or
 * `sysfs:DIR`), its workload and replayed traces, its PSI trace and its background recording.
 * Shared by `fgo sim`/`compare`/`decide` (through cli/) and the simulation pool's workers
 * (sim/tune/evaluate.ts), so a scenario reads the same everywhere.
 */
import { existsSync } from 'node:fs';
import { buildTopology, TopologyError, type Topology } from '../engine/index.ts';
import { InputError } from '../formats/errors.ts';
import { resolveRoots } from '../formats/host/roots.ts';
import { readTopology } from '../formats/host/topology.ts';
import { locate, readJson } from '../formats/jsonfile.ts';
import { psiRowToPsiSet } from '../formats/psi-columns.ts';
import { didYouMean } from '../formats/suggest.ts';
import { readPsiTrace } from '../formats/psi-trace.ts';
import { traceKind } from '../formats/trace-header.ts';
import { readDemandTrace, readRequestTrace } from '../formats/workload-traces.ts';
import { backgroundFromRecording } from './background.ts';
import type { RunInputs } from './run.ts';
import type { WorkloadTrace } from './workload.ts';
import { resolvePath, type Scenario } from './scenario.ts';
import { scenarioTargetProblems } from './scenario-check.ts';
import { MAX_DEMAND_COUNT } from './scenario-limits.ts';
import { PRESETS } from './topologies.ts';

/**
 * A preset name (see `fgo decide --help`), `sysfs:DIR` (a host read live, DIR standing for /, as
 * `fgo topology --fs-root DIR` reads it) or a topology JSON file as `fgo topology --json` writes.
 */
export function loadTopology(arg: string): Topology {
  const t = readTopologyArg(arg);
  const none = noCpusProblem(arg, t.json);
  if (none) throw new InputError([none]);
  return t;
}

/** A machine without a CPU (an empty or foreign sysfs, a file of memory-only nodes) runs nothing: refused. */
export function noCpusProblem(
  where: string,
  t: { nodes: ReadonlyArray<{ id: number; cpus: readonly number[] }> },
): string | undefined {
  if (t.nodes.some((n) => n.cpus.length > 0)) return undefined;
  return `${where}: the topology has no CPUs (nodes ${t.nodes.map((n) => n.id).join(', ') || 'none'}); nothing could run on it`;
}

function readTopologyArg(arg: string): Topology {
  const preset = PRESETS[arg];
  if (preset) return buildTopology(preset());
  if (arg.startsWith('sysfs:')) {
    try {
      return buildTopology(readTopology(resolveRoots({ fsRoot: arg.slice('sysfs:'.length) || '/' })));
    } catch (e) {
      if (e instanceof InputError || e instanceof TopologyError)
        throw new InputError(e.problems.map((p) => `${arg}: ${p}`));
      throw e;
    }
  }
  // Exit 2, as every bad argument (sim, compare and decide alike); a typo gets a suggestion.
  if (!existsSync(arg))
    throw new InputError(
      [
        `topology '${arg}': neither a preset (${Object.keys(PRESETS).join(', ')}), sysfs:DIR, nor a file${didYouMean(arg, Object.keys(PRESETS))}`,
      ],
      2,
    );
  const { value, text } = readJson(arg);
  try {
    return buildTopology(value);
  } catch (e) {
    if (e instanceof TopologyError)
      throw new InputError(
        locate(
          arg,
          text,
          e.problems.map((p) => p.replace(/\[(\d+)\]/g, '.$1')),
        ),
      );
    throw e;
  }
}

/**
 * What a scenario names, read and validated: its topology (preset, file or sysfs:DIR), its
 * workload trace and its PSI trace (totals counted from the recording's start, so they add to the
 * model's without a jump). Shared by `fgo sim`/`compare` and `fgo tune`.
 */
export function scenarioInputs(
  scenario: Scenario,
): Pick<RunInputs, 'scenario' | 'topology' | 'workload' | 'replay' | 'psi' | 'background'> {
  let s = scenario;
  const topology = loadTopology(
    s.topology.startsWith('sysfs:') || /^\d+n-\d+c$/.test(s.topology) ? s.topology : resolvePath(s.topology),
  );
  const workload = s.workload ? readWorkload(s.workload) : undefined;
  const replay = s.replay.map((r) => readWorkload(r.file));
  // Profiles a replayed trace names that the catalogue lacks take the entry's template, so the
  // engine and the twin see the same profile (named ones win).
  const added: Scenario['profiles'] = {};
  s.replay.forEach((r, i) => {
    if (!r.profile) return;
    for (const row of (replay[i] as WorkloadTrace).rows)
      if (!(row.profile in s.profiles)) added[row.profile] = r.profile;
  });
  if (Object.keys(added).length) s = { ...s, profiles: { ...added, ...s.profiles } };
  const targets = scenarioTargetProblems(s, topology, [workload, ...replay]);
  if (targets.length) throw new InputError(targets.map((p) => `scenario ${s.name}: ${p}`));
  let psi: RunInputs['psi'];
  if (s.psi) {
    const rows = readPsiTrace(resolvePath(s.psi.file)).rows.filter((r) => r.node === undefined);
    const first = rows[0]?.values ?? {};
    psi = {
      mode: s.psi.mode,
      rows: rows.map((r) => {
        const v = { ...r.values };
        for (const k of Object.keys(v) as Array<keyof typeof v>)
          if (k.endsWith('_total_us')) v[k] = (v[k] as number) - ((first[k] as number | undefined) ?? 0);
        return { t_ms: r.t_ms, set: psiRowToPsiSet(v) };
      }),
    };
  }
  let background: RunInputs['background'];
  if (s.background) {
    const b = s.background;
    const file = resolvePath(b.file);
    if (traceKind(file) !== 'psi')
      throw new InputError([
        `${file}: a background recording must be a PSI trace as fgo record writes it (t_ms, PSI columns, jiffies, procs_running, …)`,
      ]);
    if (b.node !== undefined && !topology.byId.has(b.node))
      throw new InputError([
        `background.node: node ${b.node} is not in topology ${s.topology} (nodes ${topology.nodes.map((n) => n.id).join(', ')})`,
      ]);
    const recording = backgroundFromRecording(
      readPsiTrace(file).rows,
      file,
      b.cpus === undefined ? {} : { cpus: b.cpus },
    );
    background = { recording, copies: b.copies, ...(b.node === undefined ? {} : { node: b.node }) };
  }
  return { scenario: s, topology, workload, replay, psi, ...(background ? { background } : {}) };
}

/** A demand or request trace (told apart by its header); a PSI trace is refused. */
function readWorkload(name: string): WorkloadTrace {
  const file = resolvePath(name);
  const kind = traceKind(file);
  if (kind === 'psi')
    throw new InputError([`${file}: a PSI trace is not a workload (use --psi, or --background for a neighbour)`]);
  if (kind !== 'demand') return { kind, rows: readRequestTrace(file).rows };
  const rows = readDemandTrace(file).rows;
  const big = rows.find((r) => r.count > MAX_DEMAND_COUNT);
  if (big)
    throw new InputError([
      `${file}: the row at t_s ${big.t_s} (profile ${big.profile}) has count ${big.count}, over the limit of ${MAX_DEMAND_COUNT} arrivals per row a run replays`,
    ]);
  return { kind, rows };
}
