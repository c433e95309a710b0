import { describe, expect, expectTypeOf, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as api from '../../src/index.ts';
import * as client from '../../src/client/index.ts';
import * as distribution from '../../src/stats/distribution.ts';
import * as sketchDistance from '../../src/stats/sketch-distance.ts';
import * as select from '../../src/stats/select.ts';
import * as detectors from '../../src/stats/detectors/index.ts';
import * as events from '../../src/events/index.ts';
import type {
  PublisherOptions,
  PredictionInput,
  LabelInput,
  PredictionEvent,
  LabelEvent,
  DecodeResult,
  RejectReason,
  KsResult,
  DriftTestName,
  FeatureReference,
  FeatureWindow,
  DriftOptions,
  BinaryOutcomeSummary,
  MulticlassOutcomeSummary,
  RegressionOutcomeSummary,
  PredictionScoreSummary,
  BinaryQuality,
  GroupCounts,
  FairnessReport,
  ChangeDetector,
  DetectorKind,
  DetectorState,
  QuantileSummary,
  ModelMetrics,
  DriftEntry,
  QualitySummary,
  FairnessSummary,
  AlertEvent,
} from '../../src/index.ts';

/** The runtime exports of `driftwatch`, by what they are. Adding one is a decision: add it here and to the README. */
const CLASSES = ['DriftPublisher', 'PublishError', 'EventDecoder', 'Adwin', 'PageHinkley', 'Ddm', 'Eddm', 'HddmA', 'HddmW', 'LogHistogram', 'CategoryCounter', 'Moments'];
const FUNCTIONS = [
  // publisher and wire format
  'partitionOf', 'fnv1a32', 'predictionSubject', 'labelSubject', 'encodePrediction', 'encodeLabel', 'encodeJson',
  'decodePrediction', 'decodeLabel', 'validatePrediction', 'validateLabel',
  // drift statistics
  'psi', 'quantileEdges', 'binCounts', 'ks2Samp', 'ksPValue', 'chiSquaredGoodnessOfFit', 'chiSquaredContingency',
  'jensenShannonDistance', 'hellingerDistance', 'wassersteinDistance', 'wassersteinNormed', 'twoProportionZTest',
  'ksFromSummaries', 'wassersteinFromSummaries', 'wassersteinNormedFromSummaries',
  'evaluateDrift', 'defaultDriftTest', 'numericReferenceFromValues',
  // quality
  'createBinaryOutcomeSummary', 'binaryOutcomeSummaryFrom', 'addBinaryOutcome', 'mergeBinaryOutcome', 'subtractBinaryOutcome',
  'binaryQuality', 'binaryConfusion', 'classificationFromConfusion', 'binaryRocAuc', 'reliabilityDiagram', 'expectedCalibrationError',
  'createMulticlassOutcomeSummary', 'multiclassOutcomeSummaryFrom', 'addMulticlassOutcome', 'mergeMulticlassOutcome', 'subtractMulticlassOutcome', 'multiclassQuality',
  'createRegressionOutcomeSummary', 'regressionOutcomeSummaryFrom', 'addRegressionOutcome', 'mergeRegressionOutcome', 'subtractRegressionOutcome', 'regressionQuality',
  'createPredictionScoreSummary', 'predictionScoreSummaryFrom', 'addPredictionScore', 'mergePredictionScores', 'subtractPredictionScores', 'estimatedAccuracy',
  'copyOutcomeSummary',
  // fairness
  'fairnessSummary', 'emptyGroupCounts', 'addGroupPrediction', 'addGroupLabel', 'mergeGroupCounts',
  // detectors
  'createDetector', 'detectorFromJSON',
];
const CONSTANTS = ['NOT_PROVISIONED_MESSAGE', 'WIRE_LIMITS', 'DEFAULT_DRIFT_THRESHOLDS', 'FOUR_FIFTHS', 'DETECTOR_KINDS', 'OTHER_CATEGORY'];

const CLIENT = ['DriftPublisher', 'PublishError', 'NOT_PROVISIONED_MESSAGE', 'partitionOf', 'fnv1a32', 'predictionSubject', 'labelSubject', 'encodePrediction', 'encodeLabel', 'encodeJson'];

/**
 * Exported by their modules for the workers and the tests, not for users: kernels that assume
 * sorted input, cut-offs of the gateway's own budget, and the constants behind a default.
 */
const INTERNAL: Array<[Record<string, unknown>, string[]]> = [
  [distribution, ['binIndex', 'linearQuantileOfSorted', 'ksStatisticOfSorted', 'wassersteinOfSorted', 'ksExactWork', 'ksAsymptoticPValue', 'KS_MAX_EXACT_N', 'GATEWAY_KS_MAX_EXACT_WORK', 'PSI_EMPTY_BIN_SHARE', 'populationStd', 'normByStd']],
  [sketchDistance, ['binCountsFromSummary', 'quantileEdgesFromSummary', 'summaryMeanAndStd']],
  [select, ['alignCategoryCounts', 'seededSubsample', 'budgetSignificance', 'validateDriftOverride', 'confirmingTest', 'P_VALUE_TESTS']],
  [detectors, ['DETECTOR_STATE_VERSION']],
  [events, ['checkPrediction', 'checkLabel', 'EventEncoder', 'CONTENT_TYPE_HEADER']],
];

const isClass = (value: unknown): boolean => typeof value === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(value));

function source(path: string): string {
  return readFileSync(new URL(path, import.meta.url), 'utf8');
}

/** Every name in the `export { ... }` and `export type { ... }` lists of an index file. */
function namedExports(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of match[1].split(',')) {
      const name = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop();
      if (name) names.add(name);
    }
  }
  return names;
}

describe('the public API (src/index.ts)', () => {
  it('exports exactly the documented classes, functions and constants', () => {
    expect(Object.keys(api).sort()).toEqual([...CLASSES, ...FUNCTIONS, ...CONSTANTS].sort());
    const record = api as Record<string, unknown>;
    for (const name of CLASSES) expect(isClass(record[name]), `${name} is a class`).toBe(true);
    for (const name of FUNCTIONS) {
      expect(typeof record[name], `${name} is a function`).toBe('function');
      expect(isClass(record[name]), `${name} is not a class`).toBe(false);
    }
    for (const name of CONSTANTS) {
      expect(record[name], `${name} is a value`).toBeDefined();
      expect(typeof record[name], `${name} is not a function`).not.toBe('function');
    }
  });

  it('does not export the internal helpers that the modules export to the workers', () => {
    for (const [module, names] of INTERNAL) {
      for (const name of names) {
        expect(module, `${name} exists in its module`).toHaveProperty(name);
        expect(api, `${name} is not public`).not.toHaveProperty(name);
      }
    }
  });

  it('names every export: no `export *` in src/index.ts or src/client/index.ts', () => {
    for (const path of ['../../src/index.ts', '../../src/client/index.ts']) {
      expect(source(path), path).not.toMatch(/^\s*export\s+(type\s+)?\*/m);
    }
  });

  it('driftwatch/client exports the publisher and what it needs, nothing else', () => {
    expect(Object.keys(client).sort()).toEqual([...CLIENT].sort());
    for (const name of CLIENT) expect((api as Record<string, unknown>)[name], `${name} is also in driftwatch`).toBe((client as Record<string, unknown>)[name]);
  });

  it('the README section "Library API" names only exports of src/index.ts', () => {
    const readme = source('../../README.md');
    const section = readme.slice(readme.indexOf('## Library API'), readme.indexOf('\n## ', readme.indexOf('## Library API') + 1));
    expect(section.length).toBeGreaterThan(100);
    const exported = namedExports(source('../../src/index.ts'));
    const documented = [...section.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)].map((m) => m[1]);
    expect(documented.length).toBeGreaterThan(50);
    expect(documented.filter((name) => !exported.has(name))).toEqual([]);
    // and every class is documented by name
    expect(CLASSES.filter((name) => !documented.includes(name))).toEqual([]);
  });

  it('exports the types a user of these functions writes (checked by tsc)', () => {
    expectTypeOf<PublisherOptions>().toBeObject();
    expectTypeOf<PredictionInput>().toBeObject();
    expectTypeOf<LabelInput>().toBeObject();
    expectTypeOf(api.decodePrediction).returns.toEqualTypeOf<DecodeResult<PredictionEvent>>();
    expectTypeOf(api.decodeLabel).returns.toEqualTypeOf<DecodeResult<LabelEvent>>();
    expectTypeOf<RejectReason>().toBeString();
    expectTypeOf(api.ks2Samp).returns.toEqualTypeOf<KsResult>();
    expectTypeOf<DriftTestName>().toBeString();
    expectTypeOf(api.evaluateDrift).parameters.toMatchTypeOf<[FeatureReference, FeatureWindow, DriftOptions?]>();
    expectTypeOf(api.createBinaryOutcomeSummary).returns.toEqualTypeOf<BinaryOutcomeSummary>();
    expectTypeOf(api.createMulticlassOutcomeSummary).returns.toEqualTypeOf<MulticlassOutcomeSummary>();
    expectTypeOf(api.createRegressionOutcomeSummary).returns.toEqualTypeOf<RegressionOutcomeSummary>();
    expectTypeOf(api.createPredictionScoreSummary).returns.toEqualTypeOf<PredictionScoreSummary>();
    expectTypeOf(api.binaryQuality).returns.toEqualTypeOf<BinaryQuality>();
    expectTypeOf(api.regressionQuality).returns.toEqualTypeOf<QualitySummary>();
    expectTypeOf(api.emptyGroupCounts).returns.toEqualTypeOf<GroupCounts>();
    expectTypeOf(api.fairnessSummary).returns.toEqualTypeOf<FairnessReport>();
    expectTypeOf<FairnessReport>().toMatchTypeOf<FairnessSummary>();
    expectTypeOf(api.createDetector('adwin')).toMatchTypeOf<ChangeDetector>();
    expectTypeOf(api.DETECTOR_KINDS).toEqualTypeOf<readonly DetectorKind[]>();
    expectTypeOf(new api.Adwin().toJSON()).toMatchTypeOf<DetectorState>();
    expectTypeOf(new api.LogHistogram()).toMatchTypeOf<QuantileSummary>();
    expectTypeOf<ModelMetrics['drift']>().toBeObject();
    expectTypeOf<DriftEntry>().toBeObject();
    expectTypeOf<AlertEvent['state']>().toEqualTypeOf<'firing' | 'resolved'>();
  });
});
