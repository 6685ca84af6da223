/**
 * The worker_threads pool of simulation jobs (a tuning sweep's, a scorecard's). Jobs go out in
 * order to whichever worker is free; results are keyed by job, so what comes back is the same
 * whatever the worker count or the timing. A job's error (or a worker dying) stops the pool at
 * once and names the job — no hang.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { MetricsSummary } from '../metrics.ts';
import { runJob, type Job } from './evaluate.ts';

export class JobError extends Error {
  constructor(readonly job: Job, detail: string) {
    super(`${job.label}: ${detail}`);
    this.name = 'JobError';
  }
}

export interface PoolOptions {
  /** Worker threads; 0 runs every job in this thread (same results, no parallelism). */
  workers: number;
  /** After each job, in completion order (for progress only: results never depend on it). */
  onDone?: (done: number, total: number, job: Job) => void;
}

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

function startWorker(): Worker {
  const entry = new URL('./worker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(tsxApi())}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true });
}

export async function runJobs(jobs: readonly Job[], o: PoolOptions): Promise<Map<string, MetricsSummary>> {
  const results = new Map<string, MetricsSummary>();
  if (new Set(jobs.map((j) => j.key)).size !== jobs.length) throw new Error('runJobs: duplicate job keys');
  if (o.workers <= 0) {
    for (const job of jobs) {
      try {
        results.set(job.key, await runJob(job));
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
    const busy = new Map<Worker, Job>();
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
      const w = startWorker();
      workers.push(w);
      w.on('message', (m: { ready?: true; key?: string; metrics?: MetricsSummary; error?: string; problems?: string[] }) => {
        if (finished) return;
        if (m.ready) return feed(w);
        const job = busy.get(w) as Job;
        busy.delete(w);
        if (m.error !== undefined) return stop(new JobError(job, m.problems?.length ? m.problems.join('; ') : m.error));
        results.set(job.key, m.metrics as MetricsSummary);
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
