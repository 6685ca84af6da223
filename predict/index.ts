/**
 * The demand predictor as the shells use it: the port (predictor.ts) and `loadDemandPredictor`,
 * which gives the ONNX model or, with one warning, the EWMA fallback.
 */
export { loadDemandPredictor, OnnxDemandPredictor, type LoadOptions } from './onnx-predictor.ts';
export {
  DemandTracker,
  EwmaDemandPredictor,
  ewma,
  toPredictions,
  type DemandForecast,
  type DemandHistory,
  type DemandPredictor,
  type ProfileShape,
} from './predictor.ts';
