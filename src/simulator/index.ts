export { SeededRandom, cumulativeWeights, sigmoid } from './random.ts';
export { LabelQueue } from './label-queue.ts';
export {
  DRIFT_KINDS,
  DEFAULT_MAGNITUDE,
  demoSchedule,
  describeDrift,
  parseDriftSpec,
  parseDurationMs,
  validateDriftSchedule,
} from './drift.ts';
export type { DriftKind, DriftSpec, DriftSchedule } from './drift.ts';
export { fraudModel, churnModel, simulatedModel } from './models.ts';
export type { ModelKind, SimulatedModel } from './models.ts';
export { Scenario, simulateTimeline, DEFAULT_LABEL_OPTIONS, VERSION_STABLE, VERSION_CANARY } from './scenario.ts';
export type { LabelOptions, ModelSelection, ScenarioOptions, ScenarioStats, SimEvent } from './scenario.ts';
export { runSimulator } from './run.ts';
export type { EventSink, RunSimulatorOptions, SimulatorLogger, SimulatorSummary } from './run.ts';
export { parseSimulatorArgs, SIMULATOR_USAGE, CliArgError, DEFAULT_NATS_URL } from './cli-args.ts';
export type { SimulatorCliOptions } from './cli-args.ts';
