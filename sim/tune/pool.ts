/**
 * The worker_threads pool every multi-run command shares (a tuning sweep's trials, a scorecard's
 * runs, a comparison's policies). Jobs go out in order to whichever worker is free; results are
 * keyed by job, so what comes back is the same whatever the worker count or the timing. A job's
 * error (or a worker dying) stops the pool at once and names the job — no hang.
 *
 * What a job does is a task module's `runJob(job, progress)`: evaluate.ts (a scenario run by
 * name) unless the caller names another, e.g. cli/compare-job.ts for runs built from fgo's flags;
 * each thread imports it once.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { MetricsSummary } from '../metrics.ts';
import type { Job } from './evaluate.ts';

/** What every job has, whatever its task. */
export interface PoolJob {
  /** Unique within a pool's jobs; results are keyed by it, never by completion order. */
  key: string;
  /** For messages: "trial 7 on burst-2n". */
  label: string;
}

export class JobError extends Error {
  constructor(
    readonly job: PoolJob,
    detail: string,
  ) {
    super(`${job.label}: ${detail}`);
    this.name = 'JobError';
  }
}

/** A task module: runs one job, reporting its fraction done now and then; the result is cloned to the main thread. */
export type TaskModule<J, R> = { runJob: (job: J, progress: (fraction: number) => void) => Promise<R> };

export interface PoolOptions<J extends PoolJob = Job> {
  /** Worker threads; 0 runs every job in this thread (same results, no parallelism). */
  workers: number;
  /** After each job, in completion order (for progress only: results never depend on it). */
  onDone?: (done: number, total: number, job: J) => void;
  /** A running job's fraction done (each whole percent at most), for a progress bar's time left. */
  onProgress?: (job: J, fraction: number) => void;
}

const EVALUATE = new URL('./evaluate.ts', import.meta.url).href;

/**
 * tsx's ESM API, which each worker registers before importing worker.ts: Node 20 does not pass
 * the main thread's loader hooks (bin/fgo.mjs's register(), or vitest's) on to worker threads,
 * and `execArgv: ['--import', 'tsx']` does not take effect in a worker there.
 */
function tsxApi(): string {
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    const pkg = createRequire(import.meta.url).resolve('tsx/package.json');
    return pathToFileURL(join(dirname(pkg), 'dist/esm/api/index.mjs')).href;
  }
}

function startWorker(task: string): Worker {
  const entry = new URL('./worker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(tsxApi())}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData: { task } });
}

/** Progress reported each whole percent, not each event: a message per call would cost more than the run. */
export function percentSteps(report: (fraction: number) => void): (fraction: number) => void {
  let last = -1;
  return (f) => {
    const pct = Math.floor(f * 100);
    if (pct === last) return;
    last = pct;
    report(f);
  };
}

/** Run every job on `o.workers` threads with the task module at `task` (default: evaluate.ts, a scenario by name). */
export async function runJobs<J extends PoolJob = Job, R = MetricsSummary>(
  jobs: readonly J[],
  o: PoolOptions<J>,
  task: string = EVALUATE,
): Promise<Map<string, R>> {
  const results = new Map<string, R>();
  if (new Set(jobs.map((j) => j.key)).size !== jobs.length) throw new Error('runJobs: duplicate job keys');
  if (o.workers <= 0) {
    const mod = (await import(task)) as TaskModule<J, R>;
    for (const job of jobs) {
      try {
        results.set(
          job.key,
          await mod.runJob(
            job,
            percentSteps((f) => o.onProgress?.(job, f)),
          ),
        );
      } catch (e) {
        throw new JobError(job, e instanceof Error ? e.message : String(e));
      }
      o.onDone?.(results.size, jobs.length, job);
    }
    return results;
  }
  if (jobs.length === 0) return results;
  return new Promise((resolve, reject) => {
    const workers: Worker[] = [];
    const busy = new Map<Worker, J>();
    let next = 0;
    let finished = false;
    const stop = (err?: Error) => {
      if (finished) return;
      finished = true;
      for (const w of workers) void w.terminate();
      if (err) reject(err);
      else resolve(results);
    };
    const feed = (w: Worker) => {
      const job = jobs[next];
      if (!job) return;
      next++;
      busy.set(w, job);
      w.postMessage(job);
    };
    for (let i = 0; i < Math.min(o.workers, jobs.length); i++) {
      const w = startWorker(task);
      workers.push(w);
      w.on('message', (m: { ready?: true; progress?: number; result?: R; error?: string; problems?: string[] }) => {
        if (finished) return;
        if (m.ready) return feed(w);
        const job = busy.get(w) as J;
        if (m.progress !== undefined) return o.onProgress?.(job, m.progress);
        busy.delete(w);
        if (m.error !== undefined) return stop(new JobError(job, m.problems?.length ? m.problems.join('; ') : m.error));
        results.set(job.key, m.result as R);
        o.onDone?.(results.size, jobs.length, job);
        if (results.size === jobs.length) return stop();
        feed(w);
      });
      const died = (what: string) => {
        const job = busy.get(w);
        stop(job ? new JobError(job, what) : new Error(`simulation worker: ${what}`));
      };
      w.on('error', (e) => died(e.stack ?? e.message));
      w.on('exit', (code) => died(`worker exited (code ${code})`));
    }
  });
}
