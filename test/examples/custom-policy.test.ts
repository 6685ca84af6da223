/**
 * The library surface (index.ts, package.json `exports`) and its example: a policy of one's own
 * (examples/custom-policy.ts) run by the twin beside the engine, imported by the package's name
 * as a user would.
 */
import { describe, expect, it } from 'vitest';
import * as fgo from 'fgo';
import { compareWithEngine, warmOrRoundRobin } from '../../examples/custom-policy.ts';

describe('fgo as a library', () => {
  it('exports the engine, the twin, scenarios, topologies, the verdict and the report by the package name', () => {
    for (const k of [
      'Orchestrator',
      'parseConfig',
      'buildTopology',
      'runSimulation',
      'loadScenario',
      'presetTopology',
      'verdictFor',
      'writeReport',
      'makeDecision',
      'engineConfigFor',
    ])
      expect(typeof (fgo as Record<string, unknown>)[k], k).toBe('function');
  });

  it('runs a custom policy against the engine on identical arrivals, and judges them', async () => {
    const r = await compareWithEngine('default', '30s');
    // The same arrivals for both; the custom policy served them (it neither sheds nor defers).
    expect(r.mine.requests.arrived).toBe(r.engine.requests.arrived);
    expect(r.mine.requests.shed + r.mine.requests.failed).toBe(0);
    expect(r.mine.requests.completed).toBeGreaterThan(0.9 * r.mine.requests.arrived);
    expect(r.verdict.metrics[0]?.best?.policy).toBe(warmOrRoundRobin.name);
    expect(r.verdict.engine_wins).not.toBeNull();
  });
});
