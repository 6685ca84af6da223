/**
 * A worker thread of the simulation pool (pool.ts starts it, with tsx registered first): imports
 * the pool's task module, runs the jobs it is sent one at a time and answers each with its result
 * or its error (progress messages in between), so a failing job is reported with its label and
 * the pool does not wait for it forever.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { percentSteps, type PoolJob, type TaskModule } from './pool.ts';

const port = parentPort;
if (!port) throw new Error('sim/tune/worker.ts runs as a worker thread');
const mod = (await import((workerData as { task: string }).task)) as TaskModule<PoolJob, unknown>;
port.on('message', (job: PoolJob) => {
  mod
    .runJob(
      job,
      percentSteps((progress) => port.postMessage({ key: job.key, progress })),
    )
    .then(
      (result) => port.postMessage({ key: job.key, result }),
      (e: unknown) =>
        port.postMessage({
          key: job.key,
          error: e instanceof Error ? (e.stack ?? e.message) : String(e),
          problems: (e as { problems?: string[] }).problems,
        }),
    );
});
port.postMessage({ ready: true });
