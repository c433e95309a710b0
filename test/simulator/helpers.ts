import type { LabelEvent, PredictionEvent } from '../../src/events/types.ts';
import type { DriftSpec } from '../../src/simulator/drift.ts';
import { Scenario, simulateTimeline, type ScenarioOptions, type SimEvent } from '../../src/simulator/scenario.ts';

/** Figures of one time window of a simulated run, as a drift monitor would measure them. */
export interface WindowFigures {
  predictions: number;
  labeled: number;
  /** Share of labeled predictions whose thresholded score (or class) equals the label. */
  accuracy: number;
  positiveLabelRate: number;
  meanScore: number;
  meanLatencyMs: number;
  errorRate: number;
  /** mean of a numeric feature (nulls skipped) */
  featureMean: (name: string) => number;
  categoryShare: (feature: string, value: string) => number;
  predictedPositiveRate: (filter?: (p: PredictionEvent) => boolean) => number;
  accuracyWhere: (filter: (p: PredictionEvent) => boolean) => number;
}

export function collect(options: Partial<ScenarioOptions> & { drift?: DriftSpec[] }, toMs: number, rate = 1000): SimEvent[] {
  const scenario = new Scenario({ seed: 11, startMs: 0, ...options });
  return Array.from(simulateTimeline(scenario, { fromMs: 0, toMs, rate }));
}

const isPositive = (output: unknown) => (typeof output === 'number' ? output >= 0.5 : output === 'churn');

/** Predictions with ts in [fromMs, toMs), joined with their labels wherever those came. */
export function windowFigures(events: SimEvent[], fromMs: number, toMs: number): WindowFigures {
  const labels = new Map<string, LabelEvent>();
  for (const e of events) if (e.kind === 'label') labels.set(e.event.id, e.event);
  const seen = new Set<string>();
  const preds: PredictionEvent[] = [];
  for (const e of events) {
    if (e.kind !== 'pred' || e.event.ts < fromMs || e.event.ts >= toMs || seen.has(e.event.id)) continue;
    seen.add(e.event.id);
    preds.push(e.event);
  }
  const accuracyWhere = (filter: (p: PredictionEvent) => boolean) => {
    let n = 0;
    let correct = 0;
    for (const p of preds) {
      const label = labels.get(p.id);
      if (label === undefined || !filter(p)) continue;
      n++;
      const predicted = typeof p.output === 'number' ? (p.output >= 0.5 ? 1 : 0) : p.output;
      if (predicted === label.label) correct++;
    }
    return correct / n;
  };
  let labeled = 0;
  let positives = 0;
  for (const p of preds) {
    const label = labels.get(p.id);
    if (label === undefined) continue;
    labeled++;
    if (label.label === 1 || label.label === 'churn') positives++;
  }
  const mean = (f: (p: PredictionEvent) => number) => preds.reduce((s, p) => s + f(p), 0) / preds.length;
  return {
    predictions: preds.length,
    labeled,
    accuracy: accuracyWhere(() => true),
    positiveLabelRate: positives / labeled,
    meanScore: mean((p) => (typeof p.output === 'number' ? p.output : NaN)),
    meanLatencyMs: mean((p) => p.latencyMs ?? NaN),
    errorRate: mean((p) => (p.error === undefined ? 0 : 1)),
    featureMean(name) {
      let n = 0;
      let sum = 0;
      for (const p of preds) {
        const v = p.features?.[name];
        if (typeof v === 'number') {
          n++;
          sum += v;
        }
      }
      return sum / n;
    },
    categoryShare: (feature, value) => mean((p) => (p.features?.[feature] === value ? 1 : 0)),
    predictedPositiveRate(filter = () => true) {
      const subset = preds.filter(filter);
      return subset.filter((p) => isPositive(p.output)).length / subset.length;
    },
    accuracyWhere,
  };
}
