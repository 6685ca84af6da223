/**
 * `fgo compare --vary KEY=V1,V2,…`: one what-if study in one command. The flag is parsed and
 * checked here before anything runs (a bad key, an empty list, a bad seed range, too many
 * variants: exit 2 naming the problem), each variant becomes the compare's flags with that one
 * flag overridden, and the variants' figures are printed as one narrow table (docs/compare.md).
 */
import { basename, extname } from 'node:path';
import { didYouMean } from '../formats/suggest.ts';
import { figure } from '../sim/verdict.ts';
import { deltaOf, fmtVaryFigure, VARY_METRICS, type SeedSummary } from '../sim/vary.ts';
import { InputError } from '../formats/errors.ts';

/** What --vary can vary: each names the compare flag a variant overrides. */
export const VARY_KEYS = ['topology', 'config', 'psi', 'workload', 'seed'] as const;
export type VaryKey = (typeof VARY_KEYS)[number];

/** Most variants of one study: each runs every policy, so 32 × 6 policies is already 192 runs. */
export const MAX_VARIANTS = 32;
/** Largest seed (--seed, and each of --vary seed=…): seeds are whole numbers JavaScript holds exactly. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

export interface Variant {
  /** The value as given ('none' for config or psi: the scenario's own settings, or no PSI trace). */
  value: string;
  /** The variant's directory name under the compare's --out, unique within the study. */
  label: string;
}

export interface Vary {
  key: VaryKey;
  variants: Variant[];
}

const bad = (msg: string) => new InputError([`--vary: ${msg}`], 2);

/** Seeds from `1,2,3` or `1..5` (inclusive), each a whole number fgo accepts as --seed. */
function seedsOf(list: string): string[] {
  const range = /^(\d{1,16})\.\.(\d{1,16})$/.exec(list);
  if (range) {
    const [from, to] = [Number(range[1]), Number(range[2])];
    if (to > MAX_SEED) throw bad(`seed=${list}: ${to} is above the largest seed, ${MAX_SEED}`);
    if (from > to) throw bad(`seed=${list}: the range runs backwards (write ${to}..${from})`);
    if (to - from + 1 > MAX_VARIANTS)
      throw bad(`seed=${list}: ${to - from + 1} seeds; at most ${MAX_VARIANTS} variants`);
    return Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
  }
  if (list.includes('..')) throw bad(`seed=${list}: a range is FROM..TO, two whole numbers (e.g. 1..5)`);
  const seeds = list.split(',').map((s) => s.trim());
  for (const s of seeds)
    if (!/^\d{1,16}$/.test(s) || Number(s) > MAX_SEED)
      throw bad(`seed=${list}: '${s}' is not a whole number from 0 to ${MAX_SEED}`);
  return seeds.map((s) => String(Number(s)));
}

/** A directory name for a value: a preset as is, a file by its name without extension. */
function labelOf(key: VaryKey, value: string): string {
  const v =
    key === 'seed' || value === 'none' || !/[/\\.]/.test(value) ? value : basename(value, extname(value)) || value;
  return `${key}-${v.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[._]+/, '')}`;
}

/**
 * `KEY=V1,V2,…` parsed and checked: a known key, at least two distinct values (a study of one
 * variant is a plain compare), at most MAX_VARIANTS. Labels are made unique by a number.
 */
export function parseVary(spec: string): Vary {
  const eq = spec.indexOf('=');
  if (eq < 0) throw bad(`'${spec}' is not KEY=V1,V2,… (KEY one of ${VARY_KEYS.join(', ')})`);
  const key = spec.slice(0, eq).trim(),
    list = spec.slice(eq + 1).trim();
  if (!(VARY_KEYS as readonly string[]).includes(key))
    throw bad(`unknown key '${key}'${didYouMean(key, VARY_KEYS)}; choose from ${VARY_KEYS.join(', ')}`);
  const k = key as VaryKey;
  if (list === '') throw bad(`${k}= has no values; give two or more, comma-separated`);
  const values = k === 'seed' ? seedsOf(list) : list.split(',').map((v) => v.trim());
  if (values.some((v) => v === '')) throw bad(`${k}=${list}: an empty value between commas`);
  if (values.length > MAX_VARIANTS) throw bad(`${k}: ${values.length} values; at most ${MAX_VARIANTS} variants`);
  const twice = values.find((v, i) => values.indexOf(v) !== i);
  if (twice !== undefined) throw bad(`${k}: '${twice}' is given twice`);
  if (values.length < 2) throw bad(`${k}=${list}: one value is a plain compare (use --${k}); give two or more`);
  if (values.includes('none') && k !== 'config' && k !== 'psi')
    throw bad(`${k}: 'none' is only a value of config (no overlay) and psi (no PSI trace)`);
  const seen = new Map<string, number>();
  const variants = values.map((value) => {
    const base = labelOf(k, value);
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return { value, label: n === 1 ? base : `${base}-${n}` };
  });
  return { key: k, variants };
}

/** The compare's flags for one variant: that one flag set, the rest as given. */
export function variantFlags<
  F extends { seed?: string; topology?: string; config?: string; psi?: string; workload?: string },
>(f: F, key: VaryKey, value: string): F & { noPsi?: boolean } {
  if (key === 'psi' && value === 'none') {
    const { psi: _dropped, ...rest } = f;
    return { ...(rest as F), noPsi: true };
  }
  if (key === 'config' && value === 'none') {
    const { config: _dropped, ...rest } = f;
    return rest as F;
  }
  return { ...f, [key]: value };
}

/** The flag --vary would contradict when it is also given on its own. */
export function conflictingFlag(key: VaryKey, f: Record<string, unknown>): string | undefined {
  return f[key] === undefined ? undefined : `--vary ${key}=… and --${key} both set the ${key}; give one`;
}

type Metrics = object;

const head = (m: (typeof VARY_METRICS)[number]) => (m.unit ? `${m.label} ${m.unit}` : m.label);

/** Columns of text, the first two left-aligned, each as wide as its widest cell, two spaces apart. */
function columns(rows: string[][]): string {
  const w = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i < 2 ? c.padEnd(w[i] as number) : c.padStart(w[i] as number)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

/**
 * The variants side by side, at most 100 columns: one row per variant and policy, each figure,
 * and the p99 against the same policy's in the first variant (Δp99, %). For a seed study, instead
 * of the Δ, after the seeds: each policy's mean, min and max over them (the spread is the range).
 */
export function varyTable(
  vary: Vary,
  byVariant: ReadonlyArray<Readonly<Record<string, Metrics>>>,
  seeds?: SeedSummary,
): string {
  // Between seeds a change is noise, not an effect: a seed study gets the range instead.
  const delta = vary.key !== 'seed';
  const rows: string[][] = [['variant', 'policy', ...VARY_METRICS.map(head), ...(delta ? ['Δp99 %'] : [])]];
  byVariant.forEach((byPolicy, i) => {
    for (const [p, m] of Object.entries(byPolicy)) {
      const base = figure(byVariant[0]?.[p], 'latency_ms.p99'),
        x = figure(m, 'latency_ms.p99');
      const d = i === 0 || base === null || x === null ? null : deltaOf(base, x).pct;
      rows.push([
        clip((vary.variants[i] as Variant).label, 24),
        p,
        ...VARY_METRICS.map((vm) => fmtVaryFigure(figure(m, vm.key), vm.key)),
        ...(delta ? [d === null ? '' : `${d >= 0 ? '+' : ''}${d.toFixed(1)}`] : []),
      ]);
    }
  });
  if (seeds) {
    for (const stat of ['mean', 'min', 'max'] as const) {
      for (const [p, s] of Object.entries(seeds.policies))
        rows.push([stat, p, ...VARY_METRICS.map((vm) => fmtVaryFigure(s[vm.key]?.[stat] ?? null, vm.key))]);
    }
  }
  return columns(rows);
}
