/**
 * The simulator's correlation drift through the live path: events encoded as a client sends them,
 * a PartitionProcessor scoring each against the reference's PCA model into its panes, the
 * gateway's window store summing the pane messages and MetricsView reporting the drift entries,
 * evaluated after every pane as the gateway's tick does. The fraud model's f0 and f3 flip from
 * correlation +0.8 to -0.8 with each keeping its distribution: no feature's default verdict
 * fires, the multivariate verdict does within two windows; without the flip, none fires.
 */
import { describe, expect, it } from 'vitest';
import { decodePaneMessage } from '../../src/contract/pane-codec.ts';
import type { ModelMetrics } from '../../src/contract/metrics.ts';
import { encodePrediction } from '../../src/events/encode.ts';
import { MetricsView } from '../../src/gateway/metrics-view.ts';
import { ReferenceRegistry } from '../../src/gateway/reference-registry.ts';
import { WindowStore } from '../../src/gateway/window-store.ts';
import { PartitionProcessor } from '../../src/partition/processor.ts';
import { WorkerReferences } from '../../src/reference/worker-references.ts';
import { profileFromBytes, profileFromRows, profileToBytes } from '../../src/reference/profile.ts';
import type { ReferenceProfile, TrainingRow } from '../../src/reference/profile.ts';
import { parseDriftSpec } from '../../src/simulator/drift.ts';
import { Scenario, simulateTimeline } from '../../src/simulator/scenario.ts';
import { processorOptions, T0 } from '../contract/pane-stream.ts';
import { LIMITS, PANE_MS, recordingLogger } from './panes.ts';

const MINUTE = 60_000;
/** ~1000 events per 1m window, a busy model's window and the reference's chunk size. */
const RATE = 17;
const NO_LABELS = { earlyFraction: 0, neverFraction: 1, duplicateFraction: 0 };

function fitReference() {
  // the reference: traffic with f0 and f3 correlated +0.8 (the flip never comes within it)
  const source = new Scenario({ seed: 101, startMs: 0, drift: [parseDriftSpec('correlation@1000h:features=f0+f3,magnitude=0.8')], labels: NO_LABELS });
  const rows: TrainingRow[] = [];
  for (const e of simulateTimeline(source, { fromMs: 0, toMs: 20 * MINUTE, rate: 20_000 / 20 / 60 })) {
    if (e.kind === 'pred' && rows.length < 20_000) rows.push({ features: e.event.features as TrainingRow['features'] });
  }
  // through its stored form, as workers and gateways read it
  return profileFromBytes(profileToBytes(profileFromRows('ref-corr', 'fraud', null, rows)));
}

interface Evaluation {
  /** End of the newest pane the window holds. */
  at: number;
  metrics: ModelMetrics;
}

/** Publishes `minutes` of fraud traffic (the flip at `flipAt` minutes, if any) and evaluates the 1m window after every pane. */
function live(profile: ReferenceProfile, minutes: number, flipAt: number | null): Evaluation[] {
  const scorers = new WorkerReferences();
  scorers.setReference(profile);
  const processor = new PartitionProcessor({ ...processorOptions, references: scorers });
  const windows = new WindowStore({ windows: ['1m'], limits: LIMITS, maxModels: 10 });
  const references = new ReferenceRegistry({ autoCaptureMs: 0, logger: recordingLogger().logger });
  references.setReference(profile);
  let clock = T0;
  const view = new MetricsView(windows, references, { overrides: {}, now: () => clock });
  const drift = flipAt === null ? 'correlation@1000h:features=f0+f3' : `correlation@${flipAt}m:features=f0+f3`;
  const scenario = new Scenario({ seed: 202, startMs: T0, drift: [parseDriftSpec(drift)], labels: NO_LABELS });
  const evaluations: Evaluation[] = [];
  let seq = 0;
  let paneEnd = T0 + PANE_MS;
  const evaluate = () => {
    for (const update of processor.drainDirty()) windows.applyPaneMessage(decodePaneMessage(update.payload));
    processor.dropClosed();
    clock = paneEnd;
    const metrics = view.getMetrics('fraud', '1m', undefined, undefined, 'refresh');
    if (metrics !== undefined) evaluations.push({ at: paneEnd, metrics });
  };
  for (const e of simulateTimeline(scenario, { fromMs: T0, toMs: T0 + minutes * MINUTE - 1, rate: RATE })) {
    if (e.kind !== 'pred') continue;
    while (e.event.ts >= paneEnd) {
      evaluate();
      paneEnd += PANE_MS;
    }
    expect(processor.process(++seq, 'drift.in.0.fraud.pred', encodePrediction(e.event))).toBeNull();
  }
  evaluate();
  return evaluations;
}

const univariateDrifting = (metrics: ModelMetrics): string[] => [
  ...Object.entries(metrics.drift.features).filter(([, entry]) => entry.drift).map(([name]) => name),
  ...(metrics.drift.output?.drift === true ? ['(output)'] : []),
];

describe('correlation drift on the live path (processor -> panes -> gateway window -> drift entries)', () => {
  const profile = fitReference();

  it('fires the multivariate verdict within two windows of the flip and no univariate test', () => {
    const evaluations = live(profile, 16, 10);
    const flip = T0 + 10 * MINUTE;
    // a full window of stationary traffic first: scored, no alarm of either kind
    const before = evaluations.filter((e) => e.at > T0 + MINUTE && e.at <= flip);
    expect(before.length).toBeGreaterThan(50);
    for (const { metrics } of before) {
      expect(metrics.drift.multivariate?.count).toBeGreaterThan(900);
      expect(metrics.drift.multivariate?.drift).toBe(false);
      expect(univariateDrifting(metrics)).toEqual([]);
    }
    const after = evaluations.filter((e) => e.at > flip);
    // every feature of the fraud model was tested, none fires, before or after the flip
    expect(Object.keys(after[0].metrics.drift.features)).toHaveLength(12);
    for (const { metrics } of after) expect(univariateDrifting(metrics)).toEqual([]);
    const firstAlarm = after.find((e) => e.metrics.drift.multivariate?.drift === true);
    expect(firstAlarm, 'a multivariate alarm after the flip').toBeDefined();
    expect((firstAlarm?.at ?? Infinity) - flip).toBeLessThanOrEqual(2 * MINUTE);
    // once the window holds only flipped traffic, every evaluation is an alarm
    const flippedOnly = after.filter((e) => e.at >= flip + MINUTE);
    expect(flippedOnly.length).toBeGreaterThan(20);
    expect(flippedOnly.every((e) => e.metrics.drift.multivariate?.drift === true)).toBe(true);
    const last = flippedOnly[flippedOnly.length - 1].metrics.drift.multivariate;
    expect(last?.errorMean).toBeGreaterThan(last?.upper ?? Infinity);
    expect(last?.reference).toBe('ref-corr');
  });

  it('raises no multivariate alarm over 40 windows of unchanged traffic, evaluated after every pane', () => {
    const evaluations = live(profile, 40, null).filter((e) => e.at > T0 + MINUTE);
    expect(evaluations.length).toBeGreaterThan(230);
    const alarms = evaluations.filter((e) => e.metrics.drift.multivariate?.drift !== false);
    expect(alarms.map((e) => (e.at - T0) / 1000)).toEqual([]);
    expect(evaluations.every((e) => (e.metrics.drift.multivariate?.count ?? 0) > 900)).toBe(true);
  });
});
