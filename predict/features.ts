/**
 * Features of a demand history, the same function for the dataset, training and inference, so the
 * model sees at run time exactly what it was trained on.
 *
 * Scale-free by design: series run from a few arrivals a minute (Azure) to fifteen thousand per
 * half hour (NYC taxi), and one model must serve all of them and series it never saw. Every count
 * feature is therefore divided by the series' recent *level* — the mean of the last
 * `LEVEL_WINDOW` intervals plus `LEVEL_FLOOR` (so an idle series has a level, never 0) — and the model
 * predicts the ratio of the next interval's arrivals to that level; the ONNX graph multiplies
 * back. The level itself enters only as `log_level`, which tells the model how much Poisson noise
 * to expect (a ratio of 3 on a level of 2 is noise, on a level of 2,000 a surge).
 *
 * Seasonal features look one day and one week back at the interval being forecast, at how much
 * it rose or fell from that day's level then ("the 9 o'clock jump") and from the interval
 * before it (the step); they need the interval
 * to divide the season and enough history, and are neutral (ratio 1, flag 0) otherwise.
 * Time-of-day and day-of-week are encoded on a circle (sin, cos) from `end_s`, taken as seconds
 * since a midnight UTC (imported traces count from their first timestamp, so this holds only
 * when that was a midnight — one reason the model may leave them out; see FEATURE_SETS).
 */

/** Intervals in the level (the normaliser). */
export const LEVEL_WINDOW = 12;
/**
 * Added to the level so an idle series has a level, never 0. Small, because NAB utilization
 * series sit at 0.07 %: a floor of 1 (as fgo/1 had) made such a series look like Poisson noise
 * around 1, and cross-validation lost 10–50 % to last-value on them.
 */
export const LEVEL_FLOOR = 1e-3;
/** Intervals an EWMA feature reads (0.95^128 ≈ 0.001 of weight left out). */
export const EWMA_WINDOW = 128;
/** Intervals over which the baselines' recent one-step errors are measured. */
export const ERR_WINDOW = 48;
export const DAY_S = 86_400;
export const WEEK_S = 7 * DAY_S;
/**
 * Intervals of history the features may read: one week of one-minute intervals, the level window
 * and a margin. Older counts are ignored in training too, so a shell keeping only this many sees
 * what training saw.
 */
export const HISTORY_LEN = 10_112;

/** Every feature, in the order of the dataset's columns. */
export const ALL_FEATURES = [
  'log_level',
  'lag_1',
  'lag_2',
  'lag_3',
  'lag_4',
  'lag_6',
  'lag_12',
  'mean_3',
  'mean_6',
  'mean_24',
  'mean_96',
  'ewma_0.5',
  'ewma_0.2',
  'ewma_0.05',
  'med_5',
  'med_15',
  'med_48',
  'sd_12',
  'min_12',
  'max_12',
  'err_last',
  'ewma_vs_last',
  'mean_vs_last',
  'med_vs_last',
  'has_day',
  'day_next',
  'day_next3',
  'day_delta',
  'day_step',
  'has_week',
  'week_next',
  'week_next3',
  'week_delta',
  'week_step',
  'tod_sin',
  'tod_cos',
  'dow_sin',
  'dow_cos',
] as const;
export type FeatureName = (typeof ALL_FEATURES)[number];

/** Feature sets tried in training (FEATURE_SETS[name]); the card records which one the model uses. */
export const FEATURE_SETS: Record<string, readonly FeatureName[]> = {
  all: ALL_FEATURES,
  /** Everything but the clock: transfers to traces whose t_s does not start at midnight. */
  no_clock: ALL_FEATURES.filter((f) => !/^(tod|dow)_/.test(f)),
  /** Recent history only: no seasons, no clock. */
  recent: ALL_FEATURES.filter((f) => !/^(tod|dow|has_|day_|week_)/.test(f)),
};

/** Intervals per season when the interval divides it (to 1 %), else undefined. */
export function seasonIntervals(interval_s: number, season_s: number): number | undefined {
  if (!(interval_s > 0) || interval_s > season_s / 2) return undefined;
  const k = Math.round(season_s / interval_s);
  return Math.abs(k * interval_s - season_s) <= 0.01 * season_s ? k : undefined;
}

/** The recent level of counts[0..n-1]: mean of the last LEVEL_WINDOW (fewer if short) plus LEVEL_FLOOR. */
export function levelOf(counts: ArrayLike<number>, n: number): number {
  const m = Math.min(LEVEL_WINDOW, n);
  let s = 0;
  for (let i = n - m; i < n; i++) s += counts[i] as number;
  return (m ? s / m : 0) + LEVEL_FLOOR;
}

const LAGS = [1, 2, 3, 4, 6, 12];
const MEANS = [3, 6, 24, 96];
const EWMA_ALPHAS = [0.5, 0.2, 0.05];
const MEDIANS = [5, 15, 48];
const SEASONS = [DAY_S, WEEK_S];
/** The recent intervals every non-seasonal feature reads (the longest: the EWMAs). */
const WINDOW = Math.max(EWMA_WINDOW, ...MEANS, ERR_WINDOW + LEVEL_WINDOW + 1);
/** Scratch arrays: the window and medians (at most 48 long); features run one at a time. */
const WIN = new Float64Array(WINDOW);
const scratch = new Float64Array(64);

/** Median of win[a..b), b > a (the lower middle of an even count), by insertion sort into `scratch`. */
function medianOf(win: Float64Array, a: number, b: number): number {
  const len = b - a;
  for (let i = 0; i < len; i++) {
    const v = win[a + i] as number;
    let j = i;
    while (j > 0 && (scratch[j - 1] as number) > v) {
      scratch[j] = scratch[j - 1] as number;
      j--;
    }
    scratch[j] = v;
  }
  return scratch[(len - 1) >> 1] as number;
}

/** Mean of win[a..b), b > a. */
function meanOf(win: Float64Array, a: number, b: number): number {
  let s = 0;
  for (let i = a; i < b; i++) s += win[i] as number;
  return s / (b - a);
}

type Out = Float64Array | number[];

/** Spread of the last 12 intervals: standard deviation, minimum and maximum, over the level. */
function writeSpread(win: Float64Array, len: number, level: number, fill: number, out: Out, o: number): number {
  const w12 = Math.min(12, len);
  if (w12 > 0) {
    const m = meanOf(win, len - w12, len);
    let sd = 0,
      lo = Infinity,
      hi = -Infinity;
    for (let i = len - w12; i < len; i++) {
      const c = win[i] as number;
      sd += (c - m) * (c - m);
      if (c < lo) lo = c;
      if (c > hi) hi = c;
    }
    out[o++] = Math.sqrt(sd / w12) / level;
    out[o++] = lo / level;
    out[o++] = hi / level;
  } else {
    out[o++] = 0;
    out[o++] = fill;
    out[o++] = fill;
  }
  return o;
}

/**
 * How well last-value, an EWMA (0.5), the 12-mean and the 5-median did one step ahead over the
 * last ERR_WINDOW intervals: tells a persistent series (follow the last value) from a noisy one
 * (follow a mean or median), which levels alone cannot.
 */
function writeOneStepErrors(win: Float64Array, len: number, level: number, out: Out, o: number): number {
  let eLast = 0,
    eEwma = 0,
    eMean = 0,
    eMed = 0,
    m = 0;
  const e0 = Math.max(1, len - ERR_WINDOW);
  const w0 = Math.max(0, e0 - LEVEL_WINDOW);
  let ew = win[w0] as number;
  for (let i = w0 + 1; i < e0; i++) ew = 0.5 * (win[i] as number) + 0.5 * ew;
  for (let i = e0; i < len; i++) {
    const c = win[i] as number;
    eLast += Math.abs(c - (win[i - 1] as number));
    eEwma += Math.abs(c - ew);
    eMean += Math.abs(c - meanOf(win, Math.max(0, i - LEVEL_WINDOW), i));
    eMed += Math.abs(c - medianOf(win, Math.max(0, i - 5), i));
    ew = 0.5 * c + 0.5 * ew;
    m++;
  }
  out[o++] = m ? eLast / m / level : 0;
  // Ratios of error sums, each sum padded by 1 % of the level per interval so a series at 0.07 %
  // compares its errors as one at 7,000 does.
  const pad = 0.01 * level * Math.max(1, m);
  out[o++] = (eEwma + pad) / (eLast + pad);
  out[o++] = (eMean + pad) / (eLast + pad);
  out[o++] = (eMed + pad) / (eLast + pad);
  return o;
}

/** Per season (day, week): whether a season of history exists, and the series one season back. */
function writeSeasonal(
  counts: ArrayLike<number>,
  n: number,
  first: number,
  interval_s: number,
  level: number,
  fill: number,
  out: Out,
  o: number,
): number {
  for (const season_s of SEASONS) {
    const k = seasonIntervals(interval_s, season_s);
    // The interval being forecast (index n) one season back, its neighbours, and that day's level.
    if (k !== undefined && n - k - LEVEL_WINDOW >= first) {
      const next = counts[n - k] as number;
      const next3 = ((counts[n - k - 1] as number) + next + (counts[n - k + 1] as number)) / 3;
      let then = 0;
      for (let i = n - k - LEVEL_WINDOW; i < n - k; i++) then += counts[i] as number;
      then /= LEVEL_WINDOW;
      out[o++] = 1;
      out[o++] = next / level;
      out[o++] = next3 / level;
      out[o++] = (next3 + 0.01 * level) / (then + 0.01 * level);
      // The step the series took into that interval then: last value + this step is the
      // seasonal-differencing forecast (baselines.ts, STEP_FORECASTERS).
      out[o++] = (next - (counts[n - k - 1] as number)) / level;
    } else {
      out[o++] = 0;
      out[o++] = fill;
      out[o++] = fill;
      out[o++] = 1;
      out[o++] = 0;
    }
  }
  return o;
}

/** Time of day and day of week of `end_s`, as points on the unit circle. */
function writeClock(end_s: number, out: Out, o: number): void {
  const tod = (((end_s % DAY_S) + DAY_S) % DAY_S) / DAY_S;
  const dow = (((end_s % WEEK_S) + WEEK_S) % WEEK_S) / WEEK_S;
  out[o++] = Math.sin(2 * Math.PI * tod);
  out[o++] = Math.cos(2 * Math.PI * tod);
  out[o++] = Math.sin(2 * Math.PI * dow);
  out[o++] = Math.cos(2 * Math.PI * dow);
}

/**
 * All features (ALL_FEATURES order) of the history counts[0..n-1] (oldest first; counts[n-1] the
 * interval just ended at `end_s`), written into `out` from `at`; returns the level.
 */
export function computeFeatures(
  counts: ArrayLike<number>,
  n: number,
  interval_s: number,
  end_s: number,
  out: Float64Array | number[],
  at = 0,
): number {
  const first = Math.max(0, n - HISTORY_LEN);
  // The recent window, copied once into a typed array: every loop below then reads one
  // monomorphic array (a shell calls this per profile per cycle; see bench/predict.ts).
  const len = Math.min(WINDOW, n - first);
  const win = WIN;
  for (let i = 0; i < len; i++) win[i] = counts[n - len + i] as number;
  const level = levelOf(win, len);
  const fill = (level - LEVEL_FLOOR) / level; // the ratio of the level window's mean: the neutral value
  let o = at;
  out[o++] = Math.log(level);
  for (const lag of LAGS) out[o++] = lag <= len ? (win[len - lag] as number) / level : fill;
  for (const w of MEANS) out[o++] = len ? meanOf(win, Math.max(0, len - w), len) / level : fill;
  for (const alpha of EWMA_ALPHAS) {
    let v = win[Math.max(0, len - EWMA_WINDOW)] as number;
    for (let i = Math.max(0, len - EWMA_WINDOW) + 1; i < len; i++) v = alpha * (win[i] as number) + (1 - alpha) * v;
    out[o++] = len ? v / level : fill;
  }
  for (const w of MEDIANS) out[o++] = len ? medianOf(win, Math.max(0, len - w), len) / level : fill;
  o = writeSpread(win, len, level, fill, out, o);
  o = writeOneStepErrors(win, len, level, out, o);
  o = writeSeasonal(counts, n, first, interval_s, level, fill, out, o);
  writeClock(end_s, out, o);
  return level;
}

/** Indices into ALL_FEATURES of a feature list (throws on an unknown name). */
export function featureIndex(names: readonly string[]): number[] {
  return names.map((f) => {
    const i = (ALL_FEATURES as readonly string[]).indexOf(f);
    if (i < 0) throw new Error(`unknown feature ${f}`);
    return i;
  });
}
