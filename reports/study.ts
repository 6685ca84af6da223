/**
 * What a set of runs says, before the charts: the verdict (sim/verdict.ts), and for a what-if
 * study (`fgo compare --vary`) how each figure moved from variant to variant.
 *
 * A compare directory's comparison.json says what varied and in which order; only those two things
 * are read from it — every figure and every verdict is recomputed from the runs' own metrics.json,
 * so the report cannot say something its runs do not. Other run directories are grouped by what
 * makes arrivals identical (scenario, seed, duration, topology): a group with the engine and at
 * least one baseline, each policy once, gets a verdict; two or more groups sharing a policy get
 * the delta view (docs/compare.md).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../formats/errors.ts';
import { MAX_JSON_BYTES, readInputText } from '../formats/inputs.ts';
import { figure, verdictFor, type ScenarioVerdict } from '../sim/verdict.ts';
import { deltaOf, fmtVaryFigure, summariseSeeds, VARY_METRICS, type SeedSummary } from '../sim/vary.ts';
import { esc, verdictGridHtml, verdictHtml } from './html.ts';
import { expandRunDirs, type RunMeta } from './load.ts';

const comparisonSchema = z.looseObject({
  policies: z.union([z.array(z.string()), z.record(z.string(), z.unknown())]).optional(),
  vary: z.looseObject({ key: z.string() }).optional(),
  variants: z.array(z.looseObject({ label: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/) })).optional(),
});

/** What varied in a --vary compare, and the order of variants and policies. */
export interface StudyShape {
  key?: string;
  /** Variant directory names, in the order given to --vary (the first is the deltas' base). */
  variants?: string[];
  policies?: string[];
}

/** comparison.json of a compare directory, when `dir` is one; a malformed one is a named problem. */
export function readComparison(dir: string): StudyShape | undefined {
  const file = join(dir, 'comparison.json');
  if (!existsSync(file) || existsSync(join(dir, 'run.json'))) return undefined;
  let doc: ReturnType<typeof comparisonSchema.safeParse>;
  try {
    doc = comparisonSchema.safeParse(JSON.parse(readInputText(file, MAX_JSON_BYTES, 'comparison files')));
  } catch (e) {
    throw new InputError([`${file}: ${(e as Error).message}`]);
  }
  if (!doc.success)
    throw new InputError(doc.error.issues.map((i) => `${file}: ${i.path.join('.') || '(top)'}: ${i.message}`));
  const p = doc.data.policies;
  return {
    ...(doc.data.vary && doc.data.variants
      ? { key: doc.data.vary.key, variants: doc.data.variants.map((v) => v.label) }
      : {}),
    ...(p ? { policies: Array.isArray(p) ? p : Object.keys(p) } : {}),
  };
}

/**
 * The run directories named (expandRunDirs), with what comparison.json says when one compare
 * directory is named: the policies' order, and for a --vary compare DIR/VARIANT/POLICY in the
 * study's order (the variant's label tells its runs apart).
 */
export function studyRunDirs(dirs: readonly string[]): { dirs: string[]; shape?: StudyShape } {
  const shape = dirs.length === 1 ? readComparison(dirs[0] as string) : undefined;
  if (!shape?.variants) return { dirs: expandRunDirs(dirs), ...(shape ? { shape } : {}) };
  const out: string[] = [];
  for (const v of shape.variants) {
    const d = join(dirs[0] as string, v);
    if (!existsSync(d) || !statSync(d).isDirectory())
      throw new InputError([`${d}: missing (comparison.json names variant ${v})`]);
    const inner = readdirSync(d)
      .map((n) => join(d, n))
      .filter((p) => existsSync(join(p, 'run.json')));
    const order = (p: string) => (shape.policies ?? []).indexOf(p.slice(d.length + 1));
    out.push(...inner.sort((a, b) => order(a) - order(b) || (a < b ? -1 : 1)));
  }
  return { dirs: out, shape };
}

/** Runs that share arrivals: one variant of a study, or one scenario/seed/duration/topology. */
export interface RunGroup<R extends RunMeta = RunMeta> {
  name: string;
  runs: R[];
  verdict?: ScenarioVerdict;
}

const topologyOf = (r: RunMeta) => JSON.stringify((r.run.scenario as { topology?: unknown }).topology ?? null);

/**
 * The runs grouped: by variant directory for a study, else by scenario, seed, duration and
 * topology — named by the scenario and whichever of the others differ between groups.
 */
export function groupRuns<R extends RunMeta>(runs: readonly R[], shape?: StudyShape): Array<RunGroup<R>> {
  const groups = new Map<string, R[]>();
  const parts = (r: RunMeta) => ({
    scenario: r.run.scenario.name,
    seed: `seed ${r.run.seed}`,
    duration: String(r.run.scenario.duration),
    topology: topologyOf(r),
  });
  const keyOf = shape?.variants
    ? (r: RunMeta) => r.dir.split(/[/\\]/).at(-2) as string
    : (r: RunMeta) => JSON.stringify(parts(r));
  for (const r of runs) groups.set(keyOf(r), [...(groups.get(keyOf(r)) ?? []), r]);
  const all = [...groups.values()];
  const differ = (['seed', 'duration', 'topology'] as const).filter(
    (k) => new Set(all.map((g) => parts(g[0] as RunMeta)[k])).size > 1,
  );
  return [...groups].map(([key, rs]) => {
    const p = parts(rs[0] as RunMeta);
    const name = shape?.variants
      ? key
      : [
          p.scenario,
          ...differ.map((k) =>
            k === 'topology'
              ? `topology ${((rs[0] as RunMeta).run.scenario as { topology?: unknown }).topology}`
              : p[k],
          ),
        ].join(' · ');
    const byPolicy = Object.fromEntries(rs.map((r) => [r.run.policy, r.metrics]));
    const distinct = Object.keys(byPolicy).length === rs.length;
    // A variant's verdict is named as `fgo compare --vary` names it: SCENARIO/VARIANT.
    const verdict =
      distinct && byPolicy.engine && rs.length > 1
        ? verdictFor(shape?.variants ? `${p.scenario}/${key}` : name, ordered(byPolicy, shape?.policies))
        : undefined;
    return { name, runs: rs, ...(verdict ? { verdict } : {}) };
  });
}

/** The policies in the compare's own order, so ties between baselines break as `fgo compare` broke them. */
function ordered<T>(byPolicy: Record<string, T>, order: readonly string[] = []): Record<string, T> {
  const rank = (p: string) => (order.includes(p) ? order.indexOf(p) : order.length);
  return Object.fromEntries(Object.entries(byPolicy).sort((a, b) => rank(a[0]) - rank(b[0])));
}

/**
 * Whether the groups are variants of one study: a --vary compare's, or runs of one scenario in
 * several groups that share a policy (the same policies on two seeds, say). Groups of different
 * scenarios are not: their deltas would compare different loads.
 */
export function isStudy(groups: readonly RunGroup[], shape: StudyShape | undefined): boolean {
  if (shape?.variants) return groups.length > 1;
  const runs = groups.flatMap((g) => g.runs);
  return (
    groups.length > 1 &&
    new Set(runs.map((r) => r.run.scenario.name)).size === 1 &&
    new Set(runs.map((r) => r.run.policy)).size < runs.length
  );
}

/** Over the seeds of a seed study: mean and range per policy, the verdict on the means. */
export function seedSummaryOf(groups: readonly RunGroup[], scenario: string): SeedSummary {
  return summariseSeeds(
    scenario,
    groups.map((g) => Object.fromEntries(g.runs.map((r) => [r.run.policy, r.metrics]))),
  );
}

const signed = (x: number, s: string) => `${x > 0 ? '+' : x < 0 ? '−' : '±'}${s}`;
const headCells = () =>
  VARY_METRICS.map(
    (m) =>
      `<th scope="col">${esc(m.unit ? `${m.label}, ${m.unit}` : m.label)}<br><small>${m.better === 'none' ? 'neither is better' : `${m.better} is better`}</small></th>`,
  ).join('');

/**
 * Each group's figures per policy, and under each its change from the first group's figure for
 * the same policy (absolute, and % of it), shaded when it is better or worse.
 */
export function deltaHtml(groups: readonly RunGroup[]): string {
  const policies = [...new Set(groups.flatMap((g) => g.runs.map((r) => r.run.policy)))];
  const rows = policies.flatMap((p) =>
    groups.map((g, i) => {
      const m = g.runs.find((r) => r.run.policy === p)?.metrics;
      const base = groups[0]?.runs.find((r) => r.run.policy === p)?.metrics;
      if (!m) return '';
      const cells = VARY_METRICS.map((vm) => {
        const x = figure(m, vm.key),
          b = figure(base, vm.key);
        if (x === null) return '<td>–</td>';
        if (i === 0 || b === null)
          return `<td data-value="${x}">${esc(fmtVaryFigure(x, vm.key))}${i === 0 ? '<br><small>base</small>' : ''}</td>`;
        const d = deltaOf(b, x);
        const cls =
          vm.better === 'none'
            ? ''
            : Math.abs(d.abs) < 1e-12
              ? 'tie'
              : (vm.better === 'lower') === d.abs < 0
                ? 'win'
                : 'loss';
        return `<td${cls ? ` class="${cls}"` : ''} data-value="${x}" data-delta="${d.abs}">${esc(fmtVaryFigure(x, vm.key))}<br><small>${esc(signed(d.abs, fmtVaryFigure(Math.abs(d.abs), vm.key)))}${d.pct === null ? '' : ` (${esc(signed(d.pct, `${Math.abs(d.pct).toFixed(1)} %`))})`}</small></td>`;
      });
      return `<tr data-policy="${esc(p)}" data-variant="${esc(g.name)}"><th scope="row">${esc(p)}</th><th scope="row">${esc(g.name)}</th>${cells.join('')}</tr>`;
    }),
  );
  return `<div class="scroll"><table class="verdict" id="delta"><thead><tr><th scope="col">policy</th><th scope="col">variant</th>${headCells()}</tr></thead><tbody>${rows.join('')}</tbody></table></div>
<p class="note">Each cell: the figure, then its change from the same policy in the first variant (${esc(groups[0]?.name ?? '')}), absolute and as a percentage of it. Shaded: better (green) or worse (orange) in the metric's own direction.</p>`;
}

/** A seed study's figures: per policy each metric's mean, and the range (min–max) over the seeds. */
export function spreadHtml(s: SeedSummary, seeds: number): string {
  const rows = Object.entries(s.policies).map(
    ([p, row]) =>
      `<tr data-policy="${esc(p)}"><th scope="row">${esc(p)}</th>${VARY_METRICS.map((vm) => {
        const x = row[vm.key];
        return x
          ? `<td data-mean="${x.mean}" data-min="${x.min}" data-max="${x.max}">${esc(fmtVaryFigure(x.mean, vm.key))}<br><small>${esc(fmtVaryFigure(x.min, vm.key))}–${esc(fmtVaryFigure(x.max, vm.key))}</small></td>`
          : '<td>–</td>';
      }).join('')}</tr>`,
  );
  return `<div class="scroll"><table class="verdict" id="spread"><thead><tr><th scope="col">policy</th>${headCells()}</tr></thead><tbody>${rows.join('')}</tbody></table></div>
<p class="note">Each cell: the mean over ${seeds} seeds, then the range (min–max) over them.${s.engine_won ? ` The verdict on the means is decided by the same rule as one seed's; the engine won ${s.engine_won.seeds} of ${s.engine_won.of} seeds on its own.` : ''}</p>`;
}

/** Every verdict the runs allow: a seed study's on the means first, then each group's. */
export function studyVerdicts(
  groups: readonly RunGroup[],
  shape: StudyShape | undefined,
): { verdicts: ScenarioVerdict[]; seeds?: SeedSummary } {
  const seeds = shape?.key === 'seed' ? seedSummaryOf(groups, groups[0]?.runs[0]?.run.scenario.name ?? '') : undefined;
  const verdicts = [
    ...(seeds?.verdict ? [seeds.verdict] : []),
    ...groups.flatMap((g) => (g.verdict ? [g.verdict] : [])),
  ];
  return { verdicts, ...(seeds ? { seeds } : {}) };
}

/**
 * The page's lead: the verdict (one group: its table; several: a grid, a seed study's mean
 * first), then for several groups the delta view, or a seed study's mean and range.
 */
export function studyLeadHtml(groups: readonly RunGroup[], shape: StudyShape | undefined): string {
  const { verdicts, seeds } = studyVerdicts(groups, shape);
  const noun = shape?.variants ? 'variant' : 'scenario';
  // A seed study: the verdict on the means in full, then one row per seed.
  const verdict = seeds?.verdict
    ? `${verdictHtml([seeds.verdict], true, 'scenario', `on the mean of ${groups.length} seeds`)}<section id="per-seed"><h2>Per seed: the engine won ${seeds.engine_won?.seeds} of ${seeds.engine_won?.of}</h2>${verdictGridHtml(verdicts.slice(1))}</section>`
    : verdicts.length === 0
      ? ''
      : verdictHtml(verdicts, verdicts.length === 1, noun);
  if (!isStudy(groups, shape)) return verdict;
  const what = shape?.key ? `varying ${esc(shape.key)}` : 'the groups of runs';
  const body = seeds ? spreadHtml(seeds, groups.length) : deltaHtml(groups);
  return `${verdict}<section id="variants"><h2>${seeds ? `Over ${groups.length} seeds: mean and range` : `What changed, ${what}: each variant against the first`}</h2>${body}</section>`;
}
