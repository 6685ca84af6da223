/**
 * fgo as a library: the published, typed surface (package.json `exports`). Import it from
 * TypeScript run by tsx (`node --import tsx`, as fgo's own CLI runs), e.g.
 *
 *   import { loadScenario, presetTopology, runSimulation, type CustomPolicy } from 'fgo';
 *   const scenario = loadScenario('default');
 *   const r = await runSimulation({ scenario, topology: presetTopology(scenario.topology), policy: 'engine' });
 *   console.log(r.metrics.latency_ms.p99);
 *
 * - the engine: `Orchestrator`, `parseConfig`, `buildTopology` and the data it speaks (types.ts);
 * - the twin: `runSimulation` with a bundled policy by name or your own `CustomPolicy` (a `Policy`
 *   object the twin drives exactly as it drives the engine; examples/custom-policy.ts is one),
 *   `loadScenario`, `parseScenario`, `presetTopology`, `engineConfigFor`;
 * - the verdict (`verdictFor`) and the offline report (`writeReport`);
 * - `makeDecision`, which fills the parts of a decision a simple policy has nothing to say about.
 *
 * Everything else in the repository is internal and may change.
 */
import type { Command, Decision, PressureView, Request } from './engine/types.ts';

export * from './engine/index.ts';
export type { Adoption } from './engine/adoption.ts';
export {
  runSimulation,
  engineConfigFor,
  type CustomPolicy,
  type RunInputs,
  type RunResult,
} from './sim/run.ts';
export type { DecisionLog } from './sim/decision-log.ts';
export type { Policy } from './sim/shell.ts';
export { POLICIES, type PolicyName } from './sim/baselines.ts';
export { loadScenario, parseScenario, bundledScenarios, type Scenario, type SimProfile } from './sim/scenario.ts';
export { presetTopology, PRESETS } from './sim/topologies.ts';
export { verdictFor, type ScenarioVerdict } from './sim/verdict.ts';
export type { MetricsSummary } from './sim/metrics.ts';
export { writeReport } from './reports/report.ts';

const calm = { value: 0, level: 'none', trend: 'steady', velocity_per_s: 0, predicted: 0 } as const;

/**
 * A decision about `req` at `t_ms` with what a simple policy does not compute filled in: no
 * pressure, no node scores, no digest, confidence 1, no commands. `seq` numbers decisions in order.
 *
 *   makeDecision(req, t_ms, seq, { action: 'place', start: 'cold', node: 0, fragment: 'api-1', cpus: [0], reason: 'mine', commands: [start] })
 */
export function makeDecision(
  req: Request,
  t_ms: number,
  seq: number,
  d: Partial<Decision> & Pick<Decision, 'action' | 'reason'>,
): Decision {
  const pressure: PressureView = { cpu: { ...calm }, memory: { ...calm }, io: { ...calm } };
  return {
    seq,
    t_ms,
    request_id: req.id,
    profile: req.profile,
    confidence: 1,
    pressure,
    scores: [],
    inputs_digest: '',
    commands: [] as Command[],
    ...d,
  };
}
