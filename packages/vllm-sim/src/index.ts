export { answerText, promptHashOf } from './answer.ts';
export { parseSimArgs, SIM_FLAGS, type SimCliConfig, simHelpText } from './cli-flags.ts';
export { type Clock, FakeClock, realClock, type TimerHandle } from './clock.ts';
export { type ControlServer, startControlServer } from './control-server.ts';
export { Engine, type EngineRequest, type FinishReason, Sequence } from './engine.ts';
export { errorBody, SimHttpError } from './errors.ts';
export { type SimFleet, type SimFleetOptions, startSimFleet } from './fleet.ts';
export {
  DEFAULT_GENERATION,
  DEFAULT_TIMING,
  type Faults,
  type GenerationOptions,
  NO_FAULTS,
  type TimingOptions,
  validateFaults,
} from './options.ts';
export { SimPod, type SimPodOptions, type SimPodSettings, type SimPodStats } from './pod.ts';
export type { FallbackReason, PodRole } from './pod-context.ts';
export { computeBlockHashes, PrefixCache } from './prefix-cache.ts';
export { parseSimRequest, type SimRequest, type SimRoute } from './request.ts';
export { countTokens, OUTPUT_VOCABULARY, tokenize } from './tokens.ts';
