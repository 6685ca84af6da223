/**
 * Thrashing: what a node whose resident memory exceeds its capacity does to the work on it.
 *
 * Past capacity the kernel reclaims pages the tasks still use, and they fault them back in
 * (refaults) from swap or their files. If accesses spread evenly over the resident set, the share
 * of accesses that miss is the part that no longer fits, f = overfill ÷ (1 + overfill). Each miss
 * costs a device read that takes far longer than the work between two accesses, so progress is
 * 1 ÷ (1 + R·f) of normal and the rest is stall: s = R·f ÷ (1 + R·f). That is why thrashing is a
 * cliff and not a slope — 1 % over capacity already stalls a fifth of the time — and why the
 * kernel shows it as memory pressure (PSI counts refault and reclaim waits as memory stall), some
 * and full alike, since every task on the node waits the same way.
 *
 * R, the cost of a miss in units of the work between misses, is a modelling choice (a fast SSD
 * read ≈ 100 µs against a few µs of work between accesses to a cold page): 30 gives 23 % stall at
 * 1 % overfill, 59 % at 5 %, 73 % at 10 %, 86 % at 25 %. The stall is capped at 95 % so work
 * still crawls forward, as thrashing systems do until something is killed.
 */

/** How much longer a refault takes than the work between two misses (see above). */
export const REFAULT_COST = 30;
/** Thrashing never stops progress entirely. */
export const MAX_THRASH_STALL = 0.95;

/** The share of time every task on a node spends stalled on memory at this fill level. */
export function thrashStall(used_kb: number, capacity_kb: number): number {
  if (capacity_kb <= 0 || used_kb <= capacity_kb) return 0;
  const overfill = used_kb / capacity_kb - 1;
  const miss = overfill / (1 + overfill);
  return Math.min(MAX_THRASH_STALL, (REFAULT_COST * miss) / (1 + REFAULT_COST * miss));
}
