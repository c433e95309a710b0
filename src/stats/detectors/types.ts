/**
 * Common shape of the sequential change detectors, and of the definition each detector file
 * exports for the registry (registry.ts).
 *
 * Every detector follows River's protocol: call `update(x)` with the next value of the stream, then
 * read `driftDetected` (and `warningDetected`). A detector that signalled a drift resets itself on
 * the next `update`, exactly as River does, so the flag is true for one update per change.
 *
 * `kind` is a plain string here so this file needs no list of detectors; the union of the
 * registered kinds is `DetectorKind` in registry.ts.
 */

/** Version of the serialized state layout; bumped whenever a field changes meaning. */
export const DETECTOR_STATE_VERSION = 1;

/** Fields shared by every serialized detector state. */
export interface DetectorStateBase {
  kind: string;
  version: number;
  driftDetected: boolean;
}

export interface ChangeDetector {
  readonly kind: string;
  /**
   * Whether the algorithm has a warning zone at all (DDM, EDDM, HDDM_A, HDDM_W). ADWIN and
   * Page–Hinkley have none: their `warningDetected` is always false.
   */
  readonly supportsWarning: boolean;
  /** True when the last `update` signalled a change. */
  readonly driftDetected: boolean;
  /** True when the last `update` put the detector in its warning zone. */
  readonly warningDetected: boolean;
  /** Feeds one value: an error indicator (1 = wrong, 0 = right) or, for ADWIN/Page–Hinkley, any number. */
  update(x: number): void;
  /** Forgets everything seen, keeping the options. */
  reset(): void;
  /** Plain JSON-safe state (no Infinity/NaN); `fromJSON` restores a detector that behaves identically. */
  toJSON(): DetectorStateBase;
}

/**
 * Everything the rest of driftwatch needs to know about one kind of detector: the registry lists
 * these, and the kind union, the factory, config validation and the bench rows derive from it.
 */
export interface DetectorDefinition<K extends string = string, D extends ChangeDetector = ChangeDetector, O extends object = object> {
  /** Name in config (`detectors.errorStream`), alert metrics (`detector.<kind>`) and states. */
  readonly kind: K;
  /** One line for docs and error messages. */
  readonly description: string;
  /** Validates the options (unknown names, ranges; RangeError naming the option) and builds a fresh detector. */
  create(options?: O): D;
  /** Restores a detector from its `toJSON()` state; throws naming the field of a malformed state. */
  fromJSON(state: unknown): D;
  /**
   * Options that reproduce River's defaults, where driftwatch's differ (the bench compares both);
   * absent when the defaults are River's.
   */
  readonly riverOptions?: O;
}
