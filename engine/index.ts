/** The engine's public surface: shells import from here. */
export * from './types.ts';
export {
  parseConfig,
  defaultConfig,
  ConfigError,
  configSchema,
  profileOf,
  type Config,
  type Profile,
} from './config.ts';
export {
  buildTopology,
  distance,
  TopologyError,
  type Topology,
  type TopologyJson,
  type TopologyNodeJson,
} from './topology.ts';
export { Orchestrator, type EngineOptions } from './orchestrator.ts';
export type { EngineCalls, EnginePort, EngineView, FragmentView } from './port.ts';
export { requestSchema, observationSchema, predictionSchema, psiSetSchema, problemsOf } from './schemas.ts';
export { ObservationDigester, requestDigest } from './digest.ts';
