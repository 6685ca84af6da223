/**
 * A real journal for replay tests: the journal writer (live/journal.ts) under the journaled engine
 * (live/port.ts), as the agent uses them — epochs (one per open), ticks, placements, completions,
 * small segments so rotation happens.
 */
import { parseConfig } from '../../engine/config.ts';
import type { Observation } from '../../engine/types.ts';
import { Journal } from '../../live/journal.ts';
import { JournaledEngine } from '../../live/port.ts';

/** Two nodes of two CPUs each, SLIT 10/21. */
export const topology = {
  nodes: [
    { id: 0, cpus: [0, 1], memory_kb: 4_000_000, distances: [10, 21] },
    { id: 1, cpus: [2, 3], memory_kb: 4_000_000, distances: [21, 10] },
  ],
  online_cpus: [0, 1, 2, 3],
  allowed_cpus: [0, 1, 2, 3],
  allowed_nodes: [0, 1],
};
/** A PSI line with every average at `v`. */
export const line = (v: number) => ({ some: { avg10: v, avg60: v, avg300: v } });
const obs = (t_ms: number, cpu: number): Observation => ({
  t_ms,
  psi: { cpu: line(cpu), memory: line(0), io: line(0) },
});

/**
 * Write `epochs` agent runs of `requests` requests each into `dir`; segments rotate at `max_bytes`
 * and `keep` are kept. Returns the number of engine calls written.
 */
export function writeRealJournal(
  dir: string,
  o: { epochs?: number; requests?: number; max_bytes?: number; keep?: number } = {},
): number {
  const config = parseConfig({ profiles: { web: { latency_slo_ms: 30_000, pool: { min: 1, target: 1, max: 4 } } } });
  let calls = 0;
  for (let epoch = 1; epoch <= (o.epochs ?? 2); epoch++) {
    const j = Journal.open(dir, { max_bytes: o.max_bytes ?? 4_096, keep: o.keep ?? 1_000, log: () => {} });
    const e = new JournaledEngine(
      { type: 'start', epoch, wall_ms: 0, version: 'test', mode: 'pool', seed: `s${epoch}`, config, topology },
      j,
      () => calls++,
    );
    let t = 0;
    e.tick(obs(t, 0));
    for (let i = 0; i < (o.requests ?? 20); i++) {
      t += 250;
      const d = e.schedule(
        { id: `r${i}`, profile: 'web', cpus: 0.5, memory_kb: 1000, priority: 1 },
        obs(t, (i % 5) / 10),
      );
      if (d.action === 'place' && d.fragment !== undefined) {
        if (d.start === 'cold') e.started(d.fragment, obs(t + 10, 0));
        e.complete(d.fragment, { ok: true, latency_ms: 5 + i }, obs(t + 20, 0));
      }
      if (i % 4 === 3) e.tick(obs(t + 100, 0.1));
      e.note(t, 'info', `request ${i} done`);
      j.flush();
    }
    j.close();
  }
  return calls;
}
