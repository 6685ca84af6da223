/**
 * The twin's seeded random streams and the two draws built on them. Each stream is named, so adding
 * draws to one part of the twin (a new fault, say) leaves every other part's draws as they were.
 * Its own file because the population, the workload and the faults all draw, and the scenario
 * schema (which the workload reads) embeds the population's.
 */
import seedrandom from 'seedrandom';

export type Rng = () => number;

export const makeRng = (seed: string | number, name: string): Rng => seedrandom.alea(`${seed}/${name}`);

/** Exponential with the given mean; 1 − u keeps the argument of log away from 0. */
export const exponential = (rng: Rng, mean: number) => -Math.log(1 - rng()) * mean;

/** Standard normal by Box–Muller (one of the pair; the stream stays simple to replay). */
export const normal = (rng: Rng) => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
