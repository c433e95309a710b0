/**
 * The pane changelog's wire form: what a worker publishes on `drift.pane.<partition>.<model>.<version>.<paneStart>.<part>[.<epoch>]`
 * and a gateway reads back. Plain objects of numbers, strings and byte arrays, for MessagePack.
 */
import type { CategoryCounterJSON } from '../sketch/category-counter.ts';

/**
 * A summary array on the wire: dense, or sparse as (length, indexes, values) when most cells are
 * zero, as the score histograms of one pane of one partition are (a few dozen events over 100
 * bins): the pane changelog and the gateway's memory shrink accordingly.
 */
export type SummaryWire = number[] | { n: number; i: number[]; v: number[] };

/**
 * Exact counts of a numeric feature's values: `v` the distinct values, `c` their counts, `o` the
 * values not counted one by one (a pane that saw too many distinct values counts them all here).
 */
export interface ExactValuesWire {
  v: number[];
  c: number[];
  o: number;
  /** Of `o`, the values that are not integers (absent from older workers: taken as all of `o`). */
  f?: number;
}

export interface FeatureWire {
  /**
   * The numeric values' sketch (LogHistogram bytes); null: none. Absent where `r` stands for it (an
   * older gateway refuses such a message: its reader takes `n` as bytes or null).
   */
  n?: Uint8Array | null;
  /**
   * Instead of `n`, where `x` lists every numeric value the feature holds (`o` 0) and the sketch is
   * what adding them gives (most features of a sparse pane: a pane of a dozen events): the sketch's
   * center and sum, [center, sum], or [center, sum, relativeAccuracy, minIndexable, maxBuckets]
   * where those are not a feature sketch's defaults (LISTED_SKETCH_DEFAULTS). The reader rebuilds
   * the sketch from `x` when it needs it (LogHistogram.fromListedValues; a replaced state's delta
   * comes from the values that changed: LogHistogram.listedDelta). 113 of a sparse feature's ~201 bytes were
   * its sketch, 72 of them its header.
   */
  r?: number[];
  c: CategoryCounterJSON | null;
  z: number;
  /** Exact value counts of the numeric values; absent in messages of older workers. */
  x?: ExactValuesWire | null;
}

export interface PaneInputWire {
  count: number;
  errors: number;
  late: number;
  dropped: number;
  scores: SummaryWire | null;
  latency: Uint8Array;
  outputNumeric: Uint8Array | null;
  outputCategories: CategoryCounterJSON | null;
  /** Exact value counts of the numeric outputs; absent in messages of older workers. */
  outputExact?: ExactValuesWire | null;
  features: Record<string, FeatureWire>;
  segments: Record<string, Record<string, number[]>>;
  /** Values per feature of a type no feature can have (PaneInput.invalidFeatures); absent when none, and in messages of older workers. */
  invalidFeatures?: Record<string, number>;
  /**
   * Segment key -> value -> feature summaries of that segment's predictions (limits.segmentSketchValues);
   * absent when the worker keeps none, and in messages of older workers.
   */
  segmentFeatures?: Record<string, Record<string, Record<string, FeatureWire>>>;
  /** Reconstruction error sums per reference id (PaneInput.multivariate); absent when none (and in messages of older workers). */
  multivariate?: Record<string, number[]>;
}

export interface PaneOutcomeWire {
  joined: number;
  early: number;
  expired: number;
  correct: number;
  binary: SummaryWire | null;
  regression: SummaryWire | null;
  confusion: CategoryCounterJSON | null;
  labelDelay: Uint8Array;
  segments: Record<string, Record<string, number[]>>;
  detections: Record<string, number>;
}

/** What a pane message on `drift.pane.>` carries. */
export interface PaneMessage {
  model: string;
  version: string;
  partition: number;
  paneStart: number;
  paneMs: number;
  part: 'in' | 'out';
  /** The stream sequence this state reflects. */
  seq: number;
  /**
   * The pane is closed (past the allowed lateness for inputs, the label horizon for outcomes):
   * this state is its last, unless a restore from a checkpoint republishes what was published before.
   */
  final: boolean;
  /**
   * The producing worker's id and the epoch of its lease on the partition (fencing: a gateway
   * refuses a pane of an older epoch than one it has seen, or from no known owner). Absent in
   * messages of older workers and of workers on a manual partition list (no lease).
   */
  worker?: string;
  epoch?: number;
  state: PaneInputWire | PaneOutcomeWire;
}

/** A feature sketch's settings a rebuilt sketch's `r` leaves out (FeatureWire.r): the pane features' defaults. */
export const LISTED_SKETCH_DEFAULTS = { relativeAccuracy: 0.005, minIndexable: 1e-300, maxBuckets: 2048 } as const;
