/**
 * A worker thread of the simulation pool (sim/tune/pool.ts starts it, with tsx registered
 * first): runs the jobs it is sent one at a time and answers each with its metrics or its error,
 * so a failing job is reported with its label and the pool does not wait for it forever.
 */
import { parentPort } from 'node:worker_threads';
import { runJob, type Job } from './evaluate.ts';

const port = parentPort;
if (!port) throw new Error('sim/tune/worker.ts runs as a worker thread');
port.on('message', (job: Job) => {
  runJob(job).then(
    (metrics) => port.postMessage({ key: job.key, metrics }),
    (e: unknown) => port.postMessage({ key: job.key, error: e instanceof Error ? (e.stack ?? e.message) : String(e), problems: (e as { problems?: string[] }).problems }),
  );
});
port.postMessage({ ready: true });
