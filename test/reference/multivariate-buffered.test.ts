/**
 * The worker scores schema-decoded events (features in a FeatureBuffer by index) without building
 * a record of them: the reconstruction error and the imputed count must be exactly those of
 * scoring the same features by name, whatever the event carries (missing, null, empty, a string
 * in a numeric column, a number in a categorical one, extra features, another order, a schema
 * that grew since).
 */
import { describe, expect, it } from 'vitest';
import { EventEncoder } from '../../src/events/encode.ts';
import { FeatureBuffer, FeatureSchema } from '../../src/events/feature-schema.ts';
import { EventReader, UNSUPPORTED } from '../../src/events/msgpack-reader.ts';
import type { FeatureValue, PredictionEvent } from '../../src/events/types.ts';
import { PartitionProcessor } from '../../src/partition/processor.ts';
import type { ProcessorOptions } from '../../src/partition/processor.ts';
import { predictionSubject } from '../../src/cluster/subjects.ts';
import { processorOptions } from '../contract/pane-stream.ts';
import { profileFromRows } from '../../src/reference/profile.ts';
import type { TrainingRow } from '../../src/reference/profile.ts';
import { BufferedScorer, WorkerReferences } from '../../src/reference/worker-references.ts';
import { CompiledReconstruction, ReconstructionScorer } from '../../src/stats/pca-reconstruction.ts';
import { mulberry32 } from '../../src/sketch/random.ts';
import { MV_ERROR_SQUARES, MV_ERROR_SUM, MV_EVENTS, MV_IMPUTED_EVENTS, MV_IMPUTED_VALUES } from '../../src/window/pane.ts';

function referenceRows(n: number, seed: number): TrainingRow[] {
  const random = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const rows: TrainingRow[] = [];
  for (let i = 0; i < n; i++) {
    const shared = normal();
    const plan = i % 7 === 0 ? null : random() < 0.5 ? 'basic' : random() < 0.7 ? 'pro' : 'team';
    rows.push({ features: { a: shared + 0.3 * normal(), b: 10 + shared + 0.3 * normal(), c: normal(), plan, tier: ['1', '2', '3'][i % 3] } });
  }
  return rows;
}

/** Events that exercise every way a value can be present, missing or of the other kind. */
function eventFeatures(random: () => number): Record<string, FeatureValue> {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)];
  const features: Record<string, FeatureValue> = {};
  const entries: Array<[string, FeatureValue | undefined]> = [
    ['a', pick([random() * 4 - 2, 3, null, undefined, 'oops', -0])],
    ['b', pick([10 + random(), 11, undefined, null])],
    ['c', pick([random(), -1, undefined, ''])],
    ['plan', pick(['basic', 'pro', 'team', 'new', '', null, undefined, 7])],
    ['tier', pick(['1', '2', 3, 2, undefined, null])],
    ['extra', pick([1.5, 'x', undefined])],
  ];
  // another order now and then: the schema's positions change, the indexes do not
  if (random() < 0.3) entries.reverse();
  for (const [name, value] of entries) if (value !== undefined) features[name] = value;
  return features;
}

describe('BufferedScorer', () => {
  const profile = profileFromRows('ref', 'm', null, referenceRows(2000, 11));
  const model = profile.multivariate?.model;

  it('gives the error and imputed count of scoring by name, bit for bit', () => {
    if (model === undefined) throw new Error('the reference has no multivariate model');
    expect(model.categorical.length).toBeGreaterThan(0);
    const byName = new ReconstructionScorer(model);
    const schema = new FeatureSchema(64);
    // names interned before the model's: the columns are bound by name, not by position
    schema.indexOf('unrelated');
    const buffered = new BufferedScorer(new CompiledReconstruction(model), schema);
    const reader = new EventReader();
    const buffer = new FeatureBuffer(64);
    const encoder = new EventEncoder();
    const random = mulberry32(5);
    let compared = 0;
    for (let i = 0; i < 3000; i++) {
      const features = eventFeatures(random);
      // a feature first seen late (schema grows after binding) is still found
      if (i === 1500) features.late = 1;
      const bytes = encoder.encodePrediction({ id: `e${i}`, model: 'm', version: 'v1', ts: 1, output: 0.5, features });
      const decoded = reader.readEvent(bytes, schema, buffer);
      expect(decoded).not.toBe(UNSUPPORTED);
      const expected = byName.score(features);
      const error = buffered.score(buffer);
      expect(Object.is(error, expected.error)).toBe(true);
      expect(buffered.imputed).toBe(expected.imputed);
      compared++;
    }
    expect(compared).toBe(3000);
  });

  it('the processor sums the same errors into its panes as scoring every event by name', () => {
    const scorers = new WorkerReferences();
    scorers.setReference(profile);
    const options: ProcessorOptions = { ...processorOptions, references: scorers, now: () => 2_000_000 };
    const processor = new PartitionProcessor(options);
    const encoder = new EventEncoder();
    const random = mulberry32(9);
    const byName = new ReconstructionScorer(profile.multivariate!.model);
    const expected = new Float64Array(5);
    for (let i = 0; i < 500; i++) {
      const features = eventFeatures(random);
      const event: PredictionEvent = { id: `p${i}`, model: 'm', version: 'v1', ts: 1_000_000 + i, output: 0.5, features };
      expect(processor.process(i + 1, predictionSubject(0, 'm'), encoder.encodePrediction(event))).toBeNull();
      const { error, imputed } = byName.score(features);
      expected[MV_EVENTS]++;
      expected[MV_ERROR_SUM] += error;
      expected[MV_ERROR_SQUARES] += error * error;
      if (imputed > 0) {
        expected[MV_IMPUTED_EVENTS]++;
        expected[MV_IMPUTED_VALUES] += imputed;
      }
    }
    const updates = processor.drainDirty();
    expect(updates.length).toBe(1);
    const state = (processor as unknown as { groups: Map<string, { inputs: Map<number, { multivariate: Map<string, Float64Array> | null }> }> }).groups;
    const pane = [...state.values()][0].inputs.get(1_000_000);
    expect([...(pane?.multivariate?.get('ref') ?? [])]).toEqual([...expected]);
  });
});
