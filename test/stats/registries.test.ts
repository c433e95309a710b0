/**
 * The detector and drift-test registries are the only lists of detectors and tests: everything
 * below iterates over them, so a newly registered detector or test is checked here without
 * editing this file. Adding a detector is one new file in src/stats/detectors/ exporting a
 * DetectorDefinition plus one line in registry.ts; the last block shows the factory needs nothing
 * more by registering a definition written here into a copy of the registry.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import {
  createDetector,
  createDetectorFrom,
  DETECTOR_KINDS,
  DETECTOR_STATE_VERSION,
  detectorFromJSON,
  detectorFromJSONIn,
  DETECTORS,
  isDetectorKind,
  type ChangeDetector,
  type DetectorDefinition,
  type DetectorStateBase,
} from '../../src/stats/detectors/index.ts';
import {
  CATEGORICAL_DRIFT_TESTS,
  DRIFT_TEST_NAMES,
  DRIFT_TESTS,
  evaluateDrift,
  isDriftTestName,
  numericReferenceFromValues,
  NUMERIC_DRIFT_TESTS,
  type CategoricalReference,
  type NumericReference,
} from '../../src/stats/select.ts';
import { bernoulliStream } from '../detectors/streams.ts';
import { ExactLogSketch, normalSampler, seededRandom } from './helpers/exact-log-sketch.ts';

/** Drift/warning signal after each update: 'd', 'w' or '.'. */
function signals(detector: ChangeDetector, values: readonly number[]): string {
  let out = '';
  for (const x of values) {
    detector.update(x);
    out += detector.driftDetected ? 'd' : detector.warningDetected ? 'w' : '.';
  }
  return out;
}

function configWith(overrides: unknown): ReturnType<typeof loadConfig> {
  return loadConfig({ env: {}, overrides });
}

function configError(overrides: unknown): ConfigError {
  try {
    configWith(overrides);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('config was accepted');
}

describe('detector registry', () => {
  it('lists each kind once, and DETECTOR_KINDS is its kinds in order', () => {
    expect(new Set(DETECTOR_KINDS).size).toBe(DETECTORS.length);
    expect(DETECTOR_KINDS).toEqual(DETECTORS.map((definition) => definition.kind));
  });

  for (const definition of DETECTORS) {
    it(`${definition.kind}: builds its kind, round-trips toJSON/fromJSON mid-stream, and config accepts it`, () => {
      const detector = createDetector(definition.kind);
      expect(detector.kind).toBe(definition.kind);
      // Error rate steps from 0.1 to 0.5: the restored detector must continue exactly like the original.
      const stream = bernoulliStream(11, 6000, 3000, 0.1, 0.5);
      signals(detector, stream.slice(0, 2000));
      const state = detector.toJSON();
      expect(state.kind).toBe(definition.kind);
      const restored = detectorFromJSON(JSON.parse(JSON.stringify(state)));
      expect(restored.kind).toBe(definition.kind);
      const rest = stream.slice(2000);
      expect(signals(restored, rest)).toBe(signals(detector, rest));

      // beside adwin, which the default error_stream_change rule reads
      expect(configWith({ detectors: { errorStream: ['adwin', definition.kind] } }).detectors.errorStream).toContain(definition.kind);
    });

    if (definition.riverOptions !== undefined) {
      it(`${definition.kind}: River's options are valid options of the detector`, () => {
        // Seen through the registry's common type: each definition's options only fit its own create().
        const generic: DetectorDefinition = definition;
        const river = generic.create(generic.riverOptions);
        const defaults = generic.create();
        // The options differ from the defaults, or the definition would not need them.
        expect(JSON.stringify(river.toJSON())).not.toBe(JSON.stringify(defaults.toJSON()));
      });
    }
  }

  it('config refuses an unknown detector kind and lists the registered ones', () => {
    const error = configError({ detectors: { errorStream: ['hddm_a', 'kswin'] } });
    expect(error.key).toBe('detectors.errorStream');
    expect(error.message).toContain(`a list of detectors from ${DETECTOR_KINDS.join(', ')}`);
    expect(isDetectorKind('kswin')).toBe(false);
  });

  describe('a definition added to a copy of the registry needs nothing else', () => {
    interface CounterState extends DetectorStateBase {
      kind: 'error_counter';
      limit: number;
      errors: number;
    }
    /** Drift after `limit` errors since the last drift: the smallest possible detector. */
    class ErrorCounter implements ChangeDetector {
      readonly kind = 'error_counter' as const;
      readonly supportsWarning = false;
      readonly warningDetected = false;
      driftDetected = false;
      private errors = 0;
      constructor(readonly limit: number) {}
      update(x: number): void {
        if (this.driftDetected) this.reset();
        this.errors += x;
        this.driftDetected = this.errors >= this.limit;
      }
      reset(): void {
        this.errors = 0;
        this.driftDetected = false;
      }
      toJSON(): CounterState {
        return { kind: 'error_counter', version: DETECTOR_STATE_VERSION, driftDetected: this.driftDetected, limit: this.limit, errors: this.errors };
      }
      static fromJSON(state: unknown): ErrorCounter {
        const s = state as CounterState;
        const detector = new ErrorCounter(s.limit);
        detector.errors = s.errors;
        detector.driftDetected = s.driftDetected;
        return detector;
      }
    }
    const ERROR_COUNTER: DetectorDefinition<'error_counter', ErrorCounter, { limit?: number }> = {
      kind: 'error_counter',
      description: 'drift after a fixed number of errors',
      create: (options) => new ErrorCounter(options?.limit ?? 3),
      fromJSON: (state) => ErrorCounter.fromJSON(state),
    };
    const extended: readonly DetectorDefinition[] = [...DETECTORS, ERROR_COUNTER];

    it('the factory builds and restores it, and still every registered kind', () => {
      const counter = createDetectorFrom(extended, 'error_counter', { limit: 2 });
      expect(signals(counter, [1, 0, 1, 1, 1])).toBe('..d.d');
      const restored = detectorFromJSONIn(extended, JSON.parse(JSON.stringify(counter.toJSON())));
      expect(signals(restored, [1, 1])).toBe('.d');
      for (const kind of DETECTOR_KINDS) expect(createDetectorFrom(extended, kind).kind).toBe(kind);
    });

    it('the unextended registry refuses it, naming the registered kinds', () => {
      expect(() => createDetector('error_counter' as never)).toThrow(`expected one of ${DETECTOR_KINDS.join(', ')}`);
      expect(() => detectorFromJSON(new ErrorCounter(2).toJSON())).toThrow(`state.kind must be one of ${DETECTOR_KINDS.join(', ')}`);
    });
  });
});

describe('drift-test registry', () => {
  const normals = (n: number, mean: number, seed: number): Float64Array => {
    const next = normalSampler(seededRandom(seed));
    return Float64Array.from({ length: n }, () => mean + next());
  };
  const referenceValues = normals(500, 0, 1);
  const numericReference: NumericReference = numericReferenceFromValues('num', referenceValues, ExactLogSketch.of(referenceValues));
  const numericWindow = (shift: number) => {
    const values = normals(400, shift, 2);
    return { type: 'numeric' as const, summary: ExactLogSketch.of(values), sample: values };
  };
  // Two categories, so every categorical test (the Z-test included) applies.
  const categoricalReference: CategoricalReference = { type: 'categorical', id: 'cat', counts: { a: 300, b: 200 } };
  const categoricalWindow = (a: number, b: number) => ({ type: 'categorical' as const, counts: { a, b } });

  it('lists each name once; every test applies to numeric or categorical features or both', () => {
    expect(new Set(DRIFT_TEST_NAMES).size).toBe(DRIFT_TESTS.length);
    for (const test of DRIFT_TESTS) expect(test.numeric !== undefined || test.categorical !== undefined, test.name).toBe(true);
    expect(new Set([...NUMERIC_DRIFT_TESTS, ...CATEGORICAL_DRIFT_TESTS])).toEqual(new Set(DRIFT_TEST_NAMES));
  });

  for (const test of DRIFT_TESTS) {
    it(`${test.name}: config accepts it, and as an override it decides drift on its feature type`, () => {
      const config = configWith({ drift: { features: { f: { test: test.name } } } });
      expect(config.drift.features.f.test).toBe(test.name);

      const override = { test: test.name, threshold: test.defaultThreshold };
      const unchanged =
        test.numeric !== undefined
          ? evaluateDrift(numericReference, numericWindow(0), { override })
          : evaluateDrift(categoricalReference, categoricalWindow(300, 200), { override });
      const shifted =
        test.numeric !== undefined
          ? evaluateDrift(numericReference, numericWindow(2), { override })
          : evaluateDrift(categoricalReference, categoricalWindow(100, 400), { override });
      for (const entry of [unchanged, shifted]) {
        expect(entry?.primary).toBe(test.name);
        const result = entry?.tests[test.name];
        expect(result?.threshold).toBe(test.defaultThreshold);
        expect(Number.isFinite(result?.statistic)).toBe(true);
        if (test.decision === 'p-value') expect(result?.pValue).toBeGreaterThanOrEqual(0);
        else expect(result?.pValue).toBeUndefined();
      }
      expect(unchanged?.drift).toBe(false);
      expect(shifted?.drift).toBe(true);
    });
  }

  it('config refuses an unknown test name and lists the registered ones', () => {
    const error = configError({ drift: { features: { f: { test: 'anderson' } } } });
    expect(error.key).toBe('drift.features.f.test');
    expect(error.message).toContain(`one of ${DRIFT_TEST_NAMES.join(', ')}`);
    expect(isDriftTestName('anderson')).toBe(false);
    expect(DRIFT_TEST_NAMES.every(isDriftTestName)).toBe(true);
  });
});
