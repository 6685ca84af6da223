/**
 * A progress bar on stderr with the time left at the pace so far and an optional note ("3/22
 * runs"), for every long command; nothing when stderr is not a terminal, or in CI.
 */
export function progressBar(label: string): { update: (fraction: number, note?: string) => void; done: () => void } {
  if (!process.stderr.isTTY || process.env.CI) return { update: () => {}, done: () => {} };
  const start = Date.now();
  let shown = '',
    at = 0;
  return {
    update(f, note = '') {
      const pct = Math.floor(Math.min(1, Math.max(0, f)) * 100);
      const now = Date.now();
      // Redrawn when the percentage or the note changes, and each second for the time left.
      if (`${pct} ${note}` === shown && now - at < 1000) return;
      shown = `${pct} ${note}`;
      at = now;
      const eta = f > 0 && f < 1 ? Math.round((((now - start) / 1000) * (1 - f)) / f) : undefined;
      const width = 30,
        fill = Math.round((pct / 100) * width);
      process.stderr.write(
        `\r\x1b[K${label} [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${String(pct).padStart(3)}%${note ? `  ${note}` : ''}${eta === undefined ? '' : `  ETA ${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, '0')}s`}`,
      );
    },
    done() {
      process.stderr.write('\r\x1b[K');
    },
  };
}

/**
 * A progress bar over a pool's runs: runs done of the total, and the fraction (for the time left)
 * from every running job's own progress, each run weighted by `weight` (its simulated seconds).
 */
export function poolProgress<J extends { key: string }>(
  label: string,
  jobs: readonly J[],
  weight: (job: J) => number = () => 1,
) {
  const bar = progressBar(label);
  const total = jobs.reduce((a, j) => a + weight(j), 0) || 1;
  const part = new Map<string, number>();
  let sum = 0,
    done = 0;
  const set = (job: J, f: number) => {
    const w = weight(job) * f;
    sum += w - (part.get(job.key) ?? 0);
    part.set(job.key, w);
    bar.update(sum / total, `${done}/${jobs.length} runs`);
  };
  bar.update(0, `0/${jobs.length} runs`);
  return {
    onProgress: (job: J, f: number) => set(job, f),
    onDone: (_d: number, _t: number, job: J) => {
      done++;
      set(job, 1);
    },
    finish: () => bar.done(),
  };
}
