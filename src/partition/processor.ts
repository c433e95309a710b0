import { EventDecoder } from '../events/decode.ts';
import { FEATURE_NUMBER, FEATURE_STRING, FeatureBuffer, FeatureSchema } from '../events/feature-schema.ts';
import type { LabelEvent, PredictionEvent, RejectReason } from '../events/types.ts';
import { INVALID_FEATURES, REJECT_REASONS } from '../events/types.ts';
import { parseInputSubject, paneSubject } from '../cluster/subjects.ts';
import type { InputSubject } from '../cluster/subjects.ts';
import { PendingJoinTable, AddPredictionStatus, LabelJoinStatus } from '../join/pending-table.ts';
import { MAX_FEATURE_CENTERS, PaneInput, PaneOutcome, inputToWire, outcomeToWire } from '../window/pane.ts';
import { CheckpointError, decodeCheckpoint, decodeCheckpointDelta, encodeCheckpoint, encodeCheckpointDelta } from './checkpoint.ts';
import type { Checkpoint, CheckpointDeltaWire, CheckpointWire } from './checkpoint.ts';
import type { FeatureCenters, PaneLimits } from '../window/pane.ts';
import type { PaneInputWire, PaneOutcomeWire, PaneMessage } from '../contract/pane-wire.ts';
import type { WorkerReferences } from '../reference/worker-references.ts';
export { CheckpointError } from './checkpoint.ts';
import { encodePaneMessage } from '../contract/pane-codec.ts';
import { createDetector } from '../stats/detectors/index.ts';
import type { ChangeDetector, DetectorKind } from '../stats/detectors/index.ts';
import { LocalAdmission } from './model-admission.ts';
import { outcomePaneClosed, outcomePaneStartOf } from '../window/coarse-panes.ts';
import type { CoarseGrid } from '../window/coarse-panes.ts';
import type { AdmissionGate } from './model-admission.ts';

/**
 * The processor of one partition: decode -> validate -> panes + late-label join, in stream order.
 * It is pure state plus a sequence number: no I/O. The worker feeds it messages and publishes what
 * `drainDirty()` returns; `snapshot()` / `restore()` make it a checkpoint tied to a stream sequence,
 * so replay from `seq + 1` after a crash rebuilds exactly the same state.
 */

export interface ProcessorOptions {
  partition: number;
  paneMs: number;
  allowedLatenessMs: number;
  maxFutureMs: number;
  labelHorizonMs: number;
  maxPending: number;
  maxEarlyLabels: number;
  maxEventBytes: number;
  maxModels: number;
  maxVersionsPerModel: number;
  /** Score threshold for binary classification (score >= threshold predicts 1). */
  threshold: number;
  limits: PaneLimits;
  /**
   * Lateness is judged per model version against its own event time, so one model whose clock
   * runs ahead cannot make another model's traffic late; a version that lags the partition by more
   * than this (or stops sending) is moved on with the partition, so its panes still close.
   * Default 5 minutes.
   */
  maxClockSkewMs?: number;
  /** Sequential change detectors run on each model version's error stream (0 = correct, 1 = wrong). */
  errorDetectors?: readonly DetectorKind[];
  /** Wall clock, for rejecting timestamps from the future only. */
  now?: () => number;
  /**
   * Which models and versions are counted (src/partition/model-admission.ts). Default: caps of
   * this partition alone (maxModels, maxVersionsPerModel), as a processor on its own has no cluster.
   */
  admission?: AdmissionGate;
  /** The lease this partition runs under: stamped on every pane message (and its subject) and checkpoint. */
  owner?: PartitionOwner;
  /**
   * The models' active references (src/reference/worker-references.ts). Multivariate drift: each
   * event's features are scored against its model's reference PCA model (absent: not scored; replay
   * after a restore scores against the references known then, which may be newer than at first
   * processing). Feature centers: a pane opened after a reference became active centers its
   * feature sketches on the reference's (see WorkerReferences.centersFor).
   */
  references?: WorkerReferences;
  /**
   * The gateways' coarse grid (coarseGridOf of their windows' layout): a label whose prediction's
   * coarse interval lies past the fine span is counted in the interval's first fine pane
   * (outcomePaneStartOf), which stays open until the interval's last one would close; the others
   * close (final) from then on, an hour before their horizon. Absent: every label in its
   * prediction's pane, open for the label horizon.
   */
  outcomeGrid?: CoarseGrid;
}

/** Who runs a partition, under which lease epoch (fencing; src/cluster/leases.ts). */
export interface PartitionOwner {
  worker: string;
  epoch: number;
}

/** An event held while its model's admission is asked (kept, in order, in the checkpoint). */
export interface HeldEvent {
  seq: number;
  subject: string;
  data: Uint8Array;
  contentType: string | undefined;
}

/** Distinct models counted in `refusedByModel`; further ones are counted under REFUSED_OTHER. */
export const MAX_REFUSED_MODELS_COUNTED = 4096;
export const REFUSED_OTHER = '(other)';

export interface Rejected {
  seq: number;
  subject: string;
  data: Uint8Array;
  reason: RejectReason;
  detail: string;
}

/**
 * How long a pane with few new events may wait to be published (`panes.sparseHoldMs`,
 * `panes.sparseEvents`). A model of a few events a second spread over the partitions changes
 * every partition's pane by an event or two a second, and each change costs a gateway as much to
 * apply (decoding two states of every feature) as a change of hundreds of events: 16 messages per
 * model and second at the default 16 partitions, where one partition's busy pane sends one.
 */
export interface SparseHold {
  /** The longest a changed pane waits; 0: none waits. */
  maxMs: number;
  /** New events since its last publication at which a pane is published at the next flush anyway. */
  events: number;
  /**
   * How long a changed outcome pane (labels joined, predictions expired) waits after the first
   * flush that found it changed (`panes.outcomeHoldMs`); unset or 0: none waits. Labels for an
   * hour of predictions land on hundreds of open outcome panes per partition, and each changed pane
   * was a pane message at the next flush: a model of 1,000 labels a second sent ~1,000 outcome
   * states a second, 60 times its input states, whatever its traffic. Held, a pane's labels of that
   * span go in one message. Its final state is never held.
   */
  outcomeMs?: number;
}

export interface PaneUpdate {
  subject: string;
  payload: Uint8Array;
  groupKey: string;
  paneStart: number;
  part: 'in' | 'out';
}


/** What an input pane's last publication held, and when (SparseHold). */
export interface PublishedPane {
  count: number;
  errors: number;
  at: number;
}

/** Whether a changed open pane last published as `published` may wait at `now` (see SparseHold). */
export function sparseHeld(published: PublishedPane | undefined, pane: Pick<PaneInput, 'count' | 'errors'>, hold: SparseHold, now: number): boolean {
  if (published === undefined || hold.maxMs <= 0) return false;
  if (pane.errors !== published.errors || pane.count - published.count >= hold.events) return false;
  return now - published.at < hold.maxMs;
}

/**
 * Whether a changed outcome pane may wait at `now` (SparseHold.outcomeMs): its wait starts at the
 * first flush that finds it changed (`heldSince`), which this records.
 */
export function outcomeHeld(heldSince: Map<number, number>, paneStart: number, hold: SparseHold, now: number): boolean {
  const waitMs = hold.outcomeMs ?? 0;
  if (waitMs <= 0) return false;
  const since = heldSince.get(paneStart);
  if (since === undefined) {
    heldSince.set(paneStart, now);
    return true;
  }
  return now - since < waitMs;
}

class GroupState {
  readonly inputs = new Map<number, PaneInput>();
  readonly outcomes = new Map<number, PaneOutcome>();
  readonly dirtyInputs = new Set<number>();
  readonly dirtyOutcomes = new Set<number>();
  /** Changed outcome panes waiting (SparseHold.outcomeMs): since when. */
  readonly outcomesHeldSince = new Map<number, number>();
  /** Outcome panes with a detection of the error-stream detectors since their last publication: never held. */
  readonly outcomesDetected = new Set<number>();
  /** Panes changed since the last checkpoint (base or delta) was taken: what a delta carries. */
  readonly changedInputs = new Set<number>();
  readonly changedOutcomes = new Set<number>();
  /** Panes whose last publication was marked final: they may be dropped. */
  readonly finalInputs = new Set<number>();
  /** Per input pane published and still held, what its last publication held and when (SparseHold). */
  readonly publishedInputs = new Map<number, PublishedPane>();
  readonly finalOutcomes = new Set<number>();
  /** The input pane dropped last, published final and held nowhere: the next new pane reuses its sketches. */
  droppedInput: PaneInput | null = null;
  /** The input pane opened last: a new pane with no dropped one to reuse sizes its sketches like it. */
  latestInput: PaneInput | null = null;
  /** Error-stream detectors, in stream order of joined labels: part of the checkpoint. */
  detectors: ChangeDetector[] = [];
  /** Highest prediction time of this model version. */
  watermark = -Infinity;
  /** Center of each numeric feature's sketches in this version's panes (see FeatureCenters in window/pane.ts). */
  readonly featureCenters: FeatureCenters = new Map();
  /** The reference profile whose centers featureCenters took last (adoptReferenceCenters). */
  centersFrom: string | null = null;
  constructor(
    readonly key: string,
    readonly model: string,
    readonly version: string,
  ) {}
}

export interface ProcessorCounters {
  predictions: number;
  labels: number;
  late: number;
  /** Predictions whose model + id was already pending or joined (re-sent): counted once. */
  duplicates: number;
  rejected: Record<RejectReason, number>;
}

const SEGMENT_SEPARATOR = '\u0001';

export function groupKeyOf(model: string, version: string): string {
  return `${model}\u0000${version}`;
}

function emptyRejected(): Record<RejectReason, number> {
  const out = {} as Record<RejectReason, number>;
  for (const reason of REJECT_REASONS) out[reason] = 0;
  return out;
}

export class PartitionProcessor {
  readonly partition: number;
  /** Last stream sequence applied. */
  seq = 0;
  /** Highest prediction event time seen: event-time progress of this partition. */
  watermark = -Infinity;
  readonly counters: ProcessorCounters = { predictions: 0, labels: 0, late: 0, duplicates: 0, rejected: emptyRejected() };
  readonly join: PendingJoinTable;
  private readonly groups = new Map<string, GroupState>();
  readonly admission: AdmissionGate;
  /** Events held per model while its admission is asked, in stream order. */
  private readonly held = new Map<string, HeldEvent[]>();
  private heldEvents = 0;
  /**
   * Refused events by `${reason}|${model}` (bounded): for the per-model refusal metric. Kept in
   * the checkpoint like the other counters, so that a partition replayed after a restore counts
   * again exactly what its previous owner had counted, and the exporter can tell the two apart.
   */
  readonly refusedByModel = new Map<string, number>();
  /** Names in refusedByModel changed since the last checkpoint (what a delta carries). */
  private readonly refusalsChanged = new Set<string>();
  private readonly decoder: EventDecoder;
  private readonly now: () => number;
  /** Segment key/value pairs of the event being processed, reused between events. */
  private readonly segmentScratch: string[] = [];
  /**
   * Feature schema of each model with state here (made with its first group, dropped with its
   * last): its events' features are decoded into `featureBuffer` by index (events/feature-schema.ts).
   */
  private readonly schemas = new Map<string, FeatureSchema>();
  /** The features of the prediction being processed, when its decode buffered them. */
  private readonly featureBuffer: FeatureBuffer;
  /** ProcessorOptions.outcomeGrid when it has coarse panes; null: every label in its prediction's pane. */
  private readonly outcomeGrid: CoarseGrid | null;

  /** `k1\u0001v1\u0001k2\u0001v2` of the first maxSegmentKeys keys: one interned string in the join table. */
  private segmentText(segment: Record<string, string>): string | null {
    const scratch = this.segmentScratch;
    scratch.length = 0;
    let keys = 0;
    for (const key in segment) {
      if (keys++ >= this.options.limits.maxSegmentKeys) break;
      scratch.push(key, segment[key]);
    }
    return scratch.length > 0 ? scratch.join(SEGMENT_SEPARATOR) : null;
  }

  constructor(readonly options: ProcessorOptions) {
    this.partition = options.partition;
    this.join = new PendingJoinTable({
      capacity: options.maxPending,
      earlyCapacity: options.maxEarlyLabels,
      horizonMs: options.labelHorizonMs,
    });
    this.decoder = new EventDecoder({ maxBytes: options.maxEventBytes, maxFeatures: this.maxFeaturesPerEvent });
    this.featureBuffer = new FeatureBuffer(this.maxFeaturesPerEvent);
    this.now = options.now ?? Date.now;
    this.admission = options.admission ?? new LocalAdmission(options.maxModels, options.maxVersionsPerModel);
    this.outcomeGrid = checkedOutcomeGrid(options.outcomeGrid, options.paneMs);
  }

  /**
   * Features an event may carry (more is a rejection), and names a model's schema interns: beyond
   * the pane's maxFeatures, so a pane drops (and counts) what it does not track instead of the
   * whole event being refused.
   */
  private get maxFeaturesPerEvent(): number {
    return this.options.limits.maxFeatures * 4;
  }

  /**
   * Applies one message. Returns a rejection (to count and copy to the DLQ) or null. Never throws
   * for bad input: a bad event must not stop its partition.
   */
  process(seq: number, subject: string, data: Uint8Array, contentType?: string): Rejected | null {
    this.seq = seq;
    return this.apply(seq, subject, data, contentType);
  }

  private apply(seq: number, subject: string, data: Uint8Array, contentType: string | undefined): Rejected | null {
    const parsed = this.subjectOf(subject);
    if (parsed === null || parsed.partition !== this.partition) {
      return this.rejected(seq, subject, data, 'bad_subject', `subject '${subject}' is not drift.in.${this.partition}.<model>.pred|label`);
    }
    // a model with held events: later ones wait behind them, so each model's events apply in order
    if (this.held.has(parsed.model)) {
      // but the decision for their version is asked now, not one version after another as the
      // queue drains (500 new versions would otherwise take 500 sequential registry decisions)
      if (parsed.kind === 'pred') {
        const result = this.decoder.decodePrediction(data, { expectedModel: parsed.model, contentType });
        if (result.ok) this.admission.verdict(result.event.model, result.event.version);
      }
      return this.hold(parsed.model, seq, subject, data, contentType);
    }
    if (parsed.kind === 'pred') {
      const schema = this.schemas.get(parsed.model);
      const result =
        schema === undefined
          ? this.decoder.decodePrediction(data, { expectedModel: parsed.model, contentType })
          : this.decoder.decodePredictionInto(data, schema, this.featureBuffer, parsed.model, contentType);
      if (!result.ok) return this.rejected(seq, subject, data, result.reason, result.detail);
      const verdict = this.admission.verdict(result.event.model, result.event.version);
      if (verdict !== 'admitted') return this.notAdmitted(verdict, result.event.model, result.event.version, seq, subject, data, contentType);
      return this.applyPrediction(seq, subject, data, result.event, schema ?? null);
    }
    const result = this.decoder.decodeLabel(data, { expectedModel: parsed.model, contentType });
    if (!result.ok) return this.rejected(seq, subject, data, result.reason, result.detail);
    const verdict = this.admission.verdict(result.event.model, null);
    if (verdict !== 'admitted') return this.notAdmitted(verdict, result.event.model, null, seq, subject, data, contentType);
    return this.applyLabel(seq, subject, data, result.event);
  }

  private notAdmitted(
    verdict: 'refused' | 'not_allowed' | 'pending',
    model: string,
    version: string | null,
    seq: number,
    subject: string,
    data: Uint8Array,
    contentType: string | undefined,
  ): Rejected | null {
    if (verdict === 'pending') return this.hold(model, seq, subject, data, contentType);
    const reason: RejectReason = verdict === 'refused' ? 'limit_exceeded' : 'model_not_allowed';
    const byModel = this.refusedByModel;
    let name = `${reason}|${model}`;
    if (!byModel.has(name) && byModel.size >= MAX_REFUSED_MODELS_COUNTED) name = `${reason}|${REFUSED_OTHER}`;
    byModel.set(name, (byModel.get(name) ?? 0) + 1);
    this.refusalsChanged.add(name);
    const detail =
      verdict === 'not_allowed'
        ? `model '${model}' is not on models.allow`
        : version === null
          ? `model '${model}' is refused: limits.maxModels (${this.options.maxModels}) models are admitted cluster-wide`
          : `model '${model}' version '${version}' is refused: limits.maxModels (${this.options.maxModels}) models or limits.maxVersionsPerModel (${this.options.maxVersionsPerModel}) versions per model are admitted cluster-wide`;
    return this.rejected(seq, subject, data, reason, detail);
  }

  private hold(model: string, seq: number, subject: string, data: Uint8Array, contentType: string | undefined): null {
    let queue = this.held.get(model);
    if (queue === undefined) this.held.set(model, (queue = []));
    queue.push({ seq, subject, data, contentType });
    this.heldEvents++;
    return null;
  }

  /** Events held while admissions are asked. */
  get heldCount(): number {
    return this.heldEvents;
  }

  /**
   * Applies the events held for `model` now that its admission was settled (in their stream order;
   * those still undecided, e.g. a new version of it, stay held). Returns their rejections.
   */
  releaseHeld(model: string): Rejected[] {
    const queue = this.held.get(model);
    if (queue === undefined) return [];
    this.held.delete(model);
    this.heldEvents -= queue.length;
    const rejected: Rejected[] = [];
    for (const event of queue) {
      const outcome = this.apply(event.seq, event.subject, event.data, event.contentType);
      if (outcome !== null) rejected.push(outcome);
    }
    return rejected;
  }

  /** Models with held events. */
  heldModels(): string[] {
    return [...this.held.keys()];
  }

  /** Every held event, in stream order (for the checkpoint). */
  heldEventsInOrder(): HeldEvent[] {
    return [...this.held.values()].flat().sort((a, b) => a.seq - b.seq);
  }

  /** Subjects repeat (a few models per partition): parse each once. Bounded, like everything else. */
  private readonly subjects = new Map<string, InputSubject | null>();

  private subjectOf(subject: string): InputSubject | null {
    let parsed = this.subjects.get(subject);
    if (parsed === undefined) {
      parsed = parseInputSubject(subject);
      if (this.subjects.size >= 4096) this.subjects.clear();
      this.subjects.set(subject, parsed);
    }
    return parsed;
  }

  private rejected(seq: number, subject: string, data: Uint8Array, reason: RejectReason, detail: string): Rejected {
    this.counters.rejected[reason]++;
    return { seq, subject, data, reason, detail };
  }

  /**
   * The group of the last event: a producer's events come in runs of one model version, and its
   * key made per event (a string concatenated, then hashed) costs more than comparing the two
   * names, which the decoder's string cache usually hands out as the same objects. Dropped with
   * any group removed.
   */
  private lastGroup: GroupState | null = null;

  /** The state of an admitted model version (admission decides before any group is made). */
  private group(model: string, version: string): GroupState {
    const last = this.lastGroup;
    if (last !== null && last.model === model && last.version === version) return last;
    const key = groupKeyOf(model, version);
    let group = this.groups.get(key);
    if (group === undefined) {
      group = new GroupState(key, model, version);
      group.detectors = (this.options.errorDetectors ?? []).map((kind) => createDetector(kind));
      this.groups.set(key, group);
      if (!this.schemas.has(model)) this.schemas.set(model, new FeatureSchema(this.maxFeaturesPerEvent));
    }
    this.lastGroup = group;
    return group;
  }

  /**
   * Centers the group's panes opened from now on on its model's active reference, once per
   * reference: every partition's panes then share the buckets of the gateway's windows. Panes
   * already open keep the centers their sketches have.
   */
  private adoptReferenceCenters(group: GroupState): void {
    const active = this.options.references?.centersFor(group.model, group.version);
    if (active === undefined || active === null || active.id === group.centersFrom) return;
    group.centersFrom = active.id;
    const centers = group.featureCenters;
    for (const [name, center] of active.centers) {
      if (centers.has(name) || centers.size < MAX_FEATURE_CENTERS) centers.set(name, center);
    }
  }

  private inputPane(group: GroupState, paneStart: number): PaneInput {
    let pane = group.inputs.get(paneStart);
    if (pane === undefined) {
      this.adoptReferenceCenters(group);
      pane = new PaneInput(this.options.limits, group.featureCenters);
      if (group.droppedInput !== null) {
        pane.reuseSketchesOf(group.droppedInput);
        group.droppedInput = null;
      } else if (group.latestInput !== null) {
        pane.sizeSketchesLike(group.latestInput);
      }
      if (group.latestInput !== null) pane.keepValuesLike(group.latestInput);
      group.inputs.set(paneStart, pane);
      group.latestInput = pane;
    }
    group.dirtyInputs.add(paneStart);
    group.changedInputs.add(paneStart);
    return pane;
  }

  private outcomePane(group: GroupState, paneStart: number): PaneOutcome {
    let pane = group.outcomes.get(paneStart);
    if (pane === undefined) {
      pane = new PaneOutcome(this.options.limits);
      group.outcomes.set(paneStart, pane);
    }
    group.dirtyOutcomes.add(paneStart);
    group.changedOutcomes.add(paneStart);
    return pane;
  }

  /** Event time of a model version: its own, or the partition's less the allowed clock skew. */
  private eventTimeOf(group: GroupState): number {
    return Math.max(group.watermark, this.watermark - (this.options.maxClockSkewMs ?? 300_000));
  }

  private paneStartOf(ts: number): number {
    return Math.floor(ts / this.options.paneMs) * this.options.paneMs;
  }

  /** The outcome pane of a prediction made at `predictionTs` (ProcessorOptions.outcomeGrid). */
  private outcomePaneStartOf(group: GroupState, predictionTs: number): number {
    return outcomePaneStartOf(this.paneStartOf(predictionTs), group.watermark, this.outcomeGrid);
  }

  /** `schema`: the one the event was decoded with; its features are in featureBuffer unless they are on the event. */
  private applyPrediction(seq: number, subject: string, data: Uint8Array, event: PredictionEvent, schema: FeatureSchema | null): Rejected | null {
    const { paneMs, allowedLatenessMs, maxFutureMs, threshold } = this.options;
    if (event.ts > this.now() + maxFutureMs) {
      return this.rejected(seq, subject, data, 'future_timestamp', `field 'ts': ${event.ts} is more than ${maxFutureMs} ms in the future`);
    }
    const group = this.group(event.model, event.version);
    this.counters.predictions++;
    if (event.ts > this.watermark) this.watermark = event.ts;
    if (event.ts > group.watermark) group.watermark = event.ts;
    const paneStart = this.paneStartOf(event.ts);
    const groupTime = this.eventTimeOf(group);
    if (paneStart + paneMs + allowedLatenessMs <= groupTime) {
      // its pane is closed: count it where event time is now, never fold it into a closed pane
      this.counters.late++;
      this.inputPane(group, this.paneStartOf(groupTime)).countLate();
      return null;
    }
    // output: a number (score or regression value), a class, or class probabilities
    const output = event.output;
    let joinOutput: number | string;
    let score = NaN;
    if (output === undefined) {
      // a failed inference without output: NaN marks it in the join table, so that its label
      // still joins (label coverage) but is not graded (see PaneOutcome.addJoined)
      joinOutput = NaN;
    } else if (typeof output === 'number') {
      joinOutput = output;
      if (output >= 0 && output <= 1) score = output;
    } else if (typeof output === 'string') {
      joinOutput = output;
    } else {
      let best = 0;
      for (let i = 1; i < output.length; i++) if (output[i] > output[best]) best = i;
      joinOutput = String(best);
      score = output.length > 0 ? output[best] : NaN;
    }
    const segmentText = event.segment === undefined ? null : this.segmentText(event.segment);

    const status = this.join.addPrediction(event.id, event.ts, group.key, joinOutput, score, segmentText, this.watermark, event.model);
    if (status === AddPredictionStatus.Duplicate || status === AddPredictionStatus.DuplicateJoined) {
      // a re-sent prediction (publisher retry), still pending or already joined: counted once
      this.counters.duplicates++;
      return null;
    }

    const pane = this.inputPane(group, paneStart);
    pane.addPrediction(joinOutput, score, threshold, event.latencyMs, event.error !== undefined, event.segment);
    const features = event.features;
    if (features !== undefined) {
      for (const name in features) pane.addFeature(name, features[name]);
      if (event.segment !== undefined) pane.addSegmentFeatures(event.segment, features);
      this.options.references?.observe(pane, event.model, event.version, features);
    } else if (schema !== null && this.featureBuffer.count > 0) {
      pane.addBuffered(schema.names, this.featureBuffer);
      // per-segment summaries (opt-in: limits.segmentSketchValues) take the features by name: the
      // record is built only for them; multivariate scoring reads the buffer by schema index
      if (event.segment !== undefined && pane.keepsSegmentFeatures) pane.addSegmentFeatures(event.segment, bufferedFeatureRecord(schema.names, this.featureBuffer));
      const scorers = this.options.references;
      if (scorers !== undefined) {
        const scorer = scorers.scorerFor(event.model, event.version);
        if (scorer !== null) scorers.observeBuffered(pane, scorer, schema, this.featureBuffer);
      }
    }
    const invalidFeatures = event[INVALID_FEATURES];
    if (invalidFeatures !== undefined) pane.countInvalidFeatures(invalidFeatures);

    if (status === AddPredictionStatus.MatchedEarlyLabel) {
      const labelValue = this.join.lastLabelString ?? this.join.lastLabel;
      this.applyOutcome(group, event.ts, joinOutput, segmentText, labelValue, this.join.lastLabelTs, true);
    } else if (status === AddPredictionStatus.AddedEvictedOldest) {
      this.countExpired(this.join.groupKeyOf(this.join.evictedGroup), this.join.evictedTs);
    }
    this.expire();
    return null;
  }

  private applyLabel(_seq: number, _subject: string, _data: Uint8Array, event: LabelEvent): Rejected | null {
    this.counters.labels++;
    // an early label's arrival is stamped with the prediction watermark; before any prediction, with its own time
    const now = Number.isFinite(this.watermark) ? this.watermark : event.ts;
    // keyed on model + id: two models may reuse ids; a copy of a joined label is a duplicate (join.stats)
    const status = this.join.addLabel(event.id, event.label, event.ts, now, event.model);
    if (status === LabelJoinStatus.Joined) {
      const join = this.join;
      const group = this.groups.get(join.lastGroupKey);
      if (group !== undefined) {
        const output = join.lastOutputIsClass ? (join.lastOutputClass as string) : join.lastOutput;
        this.applyOutcome(group, join.lastTs, output, join.lastSegmentName, event.label, event.ts, false);
      }
    }
    return null;
  }

  private applyOutcome(
    group: GroupState,
    predictionTs: number,
    output: number | string,
    segmentText: string | null,
    label: number | string,
    labelTs: number,
    early: boolean,
  ): void {
    const paneStart = this.outcomePaneStartOf(group, predictionTs);
    const pane = this.outcomePane(group, paneStart);
    const segmentPairs = segmentText === null ? null : segmentText.split(SEGMENT_SEPARATOR);
    const correct = pane.addJoined(output, label, this.options.threshold, Math.max(0, labelTs - predictionTs), early, segmentPairs);
    if (correct >= 0) {
      for (const detector of group.detectors) {
        detector.update(1 - correct);
        if (detector.driftDetected) {
          pane.addDetection(detector.kind);
          // a change the detectors signal is what rules watch at once (error_stream_change, for 0s)
          group.outcomesDetected.add(paneStart);
        }
      }
    }
  }

  private countExpired(groupKey: string, predictionTs: number): void {
    const group = this.groups.get(groupKey);
    if (group === undefined) return;
    this.outcomePane(group, this.outcomePaneStartOf(group, predictionTs)).countExpired();
  }

  private readonly onExpired = (groupKey: string, ts: number): void => this.countExpired(groupKey, ts);

  private expire(): void {
    this.join.expire(this.watermark, this.onExpired);
  }

  // -------------------------------------------------------------------------------------------
  // Flushing

  /** Panes changed since the last drain (what the next flush would publish). */
  get dirtyPanes(): number {
    let n = 0;
    for (const group of this.groups.values()) n += group.dirtyInputs.size + group.dirtyOutcomes.size;
    return n;
  }

  /**
   * Changed panes a flush would publish now, less the outcome panes waiting out their hold
   * (SparseHold.outcomeMs): what the runner paces its flushes by. Counted, hundreds of held outcome
   * panes of a labelled model would lengthen the partition's flush interval to its longest, and
   * every input state (an error-rate jump among them) would wait for it.
   */
  get duePanes(): number {
    let n = 0;
    for (const group of this.groups.values()) {
      n += group.dirtyInputs.size + group.dirtyOutcomes.size;
      for (const since of group.outcomesHeldSince.values()) if (since > -Infinity) n--;
    }
    return n;
  }

  /**
   * Pane states changed since the last drain, encoded for `drift.pane.>`; clears their dirty marks.
   * `hold`: an open input pane published before, with fewer than `hold.events` new events and the
   * same errors since, stays dirty until `hold.maxMs` after that publication (its first state, its
   * final one and a change in its errors go out at once); a changed outcome pane stays dirty until
   * `hold.outcomeMs` after the first drain that found it changed (its final state and a detection
   * go out at once). Null: every changed pane.
   */
  drainDirty(hold: SparseHold | null = null, now = Date.now()): PaneUpdate[] {
    const updates: PaneUpdate[] = [];
    const { paneMs } = this.options;
    for (const group of this.groups.values()) {
      for (const paneStart of group.dirtyInputs) {
        const pane = group.inputs.get(paneStart);
        if (pane === undefined) {
          group.dirtyInputs.delete(paneStart);
          continue;
        }
        const final = this.inputClosed(group, paneStart);
        if (!final && hold !== null && sparseHeld(group.publishedInputs.get(paneStart), pane, hold, now)) continue;
        group.dirtyInputs.delete(paneStart);
        if (final) group.finalInputs.add(paneStart);
        else group.finalInputs.delete(paneStart);
        group.publishedInputs.set(paneStart, { count: pane.count, errors: pane.errors, at: now });
        updates.push(this.update(group, paneStart, paneMs, 'in', inputToWire(pane), final));
      }
      for (const paneStart of group.dirtyOutcomes) {
        const pane = group.outcomes.get(paneStart);
        const final = pane !== undefined && this.outcomeClosed(group, paneStart);
        const urgent = final || hold === null || group.outcomesDetected.has(paneStart);
        if (pane !== undefined && !urgent && outcomeHeld(group.outcomesHeldSince, paneStart, hold, now)) continue;
        group.dirtyOutcomes.delete(paneStart);
        group.outcomesHeldSince.delete(paneStart);
        group.outcomesDetected.delete(paneStart);
        if (pane === undefined) continue;
        if (final) group.finalOutcomes.add(paneStart);
        else group.finalOutcomes.delete(paneStart);
        updates.push(this.update(group, paneStart, paneMs, 'out', outcomeToWire(pane), final));
      }
    }
    return updates;
  }

  private inputClosed(group: GroupState, paneStart: number): boolean {
    return paneStart + this.options.paneMs + this.options.allowedLatenessMs <= this.eventTimeOf(group);
  }

  private outcomeClosed(group: GroupState, paneStart: number): boolean {
    return outcomePaneClosed(paneStart, this.options.paneMs, this.options.labelHorizonMs, group.watermark, this.eventTimeOf(group), this.outcomeGrid);
  }

  private update(group: GroupState, paneStart: number, paneMs: number, part: 'in' | 'out', state: PaneInputWire | PaneOutcomeWire, final: boolean): PaneUpdate {
    const owner = this.options.owner;
    const message: PaneMessage = { model: group.model, version: group.version, partition: this.partition, paneStart, paneMs, part, seq: this.seq, final, ...owner, state };
    return { subject: paneSubject(this.partition, group.model, group.version, paneStart, part, owner?.epoch), payload: encodePaneMessage(message), groupKey: group.key, paneStart, part };
  }

  /** Marks updates dirty again (their publication failed). */
  restoreDirty(updates: readonly PaneUpdate[]): void {
    for (const update of updates) {
      const group = this.groups.get(update.groupKey);
      if (group === undefined) continue;
      (update.part === 'in' ? group.dirtyInputs : group.dirtyOutcomes).add(update.paneStart);
      // not published after all: not held either
      if (update.part === 'in') group.publishedInputs.delete(update.paneStart);
      else group.outcomesHeldSince.set(update.paneStart, -Infinity);
    }
  }

  /**
   * Drops panes that can no longer change and whose last state was flushed (call after the
   * flush was acknowledged): input parts after the allowed lateness, outcome parts after the
   * label horizon. Memory is bounded by these two durations, not by traffic.
   */
  dropClosed(): number {
    let dropped = 0;
    for (const group of this.groups.values()) {
      for (const paneStart of group.inputs.keys()) {
        if (group.dirtyInputs.has(paneStart) || !this.inputClosed(group, paneStart)) continue;
        if (group.finalInputs.delete(paneStart)) {
          group.droppedInput = group.inputs.get(paneStart) ?? null;
          group.inputs.delete(paneStart);
          group.publishedInputs.delete(paneStart);
          dropped++;
        } else {
          // closed since its last publication: publish it once more, marked final, then drop it
          group.dirtyInputs.add(paneStart);
        }
      }
      for (const paneStart of group.outcomes.keys()) {
        if (group.dirtyOutcomes.has(paneStart) || !this.outcomeClosed(group, paneStart)) continue;
        if (group.finalOutcomes.delete(paneStart)) {
          group.outcomes.delete(paneStart);
          dropped++;
        } else {
          group.dirtyOutcomes.add(paneStart);
        }
      }
      // a model version with nothing left to publish and no event for the label horizon leaves
      // memory and the checkpoint (the cluster registry releases its slot on its own clock)
      if (
        group.inputs.size === 0 &&
        group.outcomes.size === 0 &&
        group.dirtyInputs.size === 0 &&
        group.dirtyOutcomes.size === 0 &&
        this.watermark - group.watermark > this.options.labelHorizonMs
      ) {
        this.groups.delete(group.key);
        this.lastGroup = null;
        this.admission.release?.(group.model, group.version);
        // the schema goes with the model's last group: no pane indexes by it any more
        if (![...this.groups.values()].some((other) => other.model === group.model)) this.schemas.delete(group.model);
      }
    }
    return dropped;
  }

  /** Model versions held in memory (and in the checkpoint). */
  get groupCount(): number {
    return this.groups.size;
  }

  /** Panes held in memory (inputs + outcomes), for metrics and tests. */
  get liveRanges(): number {
    let n = 0;
    for (const group of this.groups.values()) n += group.inputs.size + group.outcomes.size;
    return n;
  }

  // -------------------------------------------------------------------------------------------
  // Checkpoints

  /**
   * The checkpoint bytes of this processor (src/partition/checkpoint.ts: framed and checksummed):
   * the whole state, a base that deltas naming `baseId` may follow. Starts a new delta generation.
   */
  snapshot(baseId?: string): Uint8Array {
    const groups: CheckpointWire['groups'] = [];
    for (const group of this.groups.values()) {
      groups.push({
        model: group.model,
        version: group.version,
        inputs: [...group.inputs].map(([start, pane]): [number, PaneInputWire] => [start, inputToWire(pane)]),
        outcomes: [...group.outcomes].map(([start, pane]): [number, PaneOutcomeWire] => [start, outcomeToWire(pane)]),
        detectors: group.detectors.map((d) => d.toJSON()),
        watermark: Number.isFinite(group.watermark) ? group.watermark : null,
      });
    }
    const bytes = encodeCheckpoint({ ...this.checkpointCommon([...this.refusedByModel]), groups, join: this.join.toBytes(), ...(baseId === undefined ? {} : { baseId }) });
    this.markCheckpoint();
    return bytes;
  }

  /**
   * A checkpoint delta: what changed since the last snapshot() or snapshotDelta() (panes changed,
   * live pane starts, detectors, counters, held events, the join table's delta). Its size follows
   * the change, not the state. `link` places it in its chain; the caller makes sure the previous
   * checkpoint it follows was stored (else it writes a base instead). Starts a new delta generation.
   */
  snapshotDelta(link: { baseId: string; index: number; fromSeq: number }): Uint8Array {
    const groups: CheckpointDeltaWire['groups'] = [];
    for (const group of this.groups.values()) {
      const inputs: Array<[number, PaneInputWire]> = [];
      for (const start of group.changedInputs) {
        const pane = group.inputs.get(start);
        if (pane !== undefined) inputs.push([start, inputToWire(pane)]);
      }
      const outcomes: Array<[number, PaneOutcomeWire]> = [];
      for (const start of group.changedOutcomes) {
        const pane = group.outcomes.get(start);
        if (pane !== undefined) outcomes.push([start, outcomeToWire(pane)]);
      }
      groups.push({
        model: group.model,
        version: group.version,
        inputs,
        outcomes,
        inputStarts: [...group.inputs.keys()],
        outcomeStarts: [...group.outcomes.keys()],
        detectors: group.detectors.map((d) => d.toJSON()),
        watermark: Number.isFinite(group.watermark) ? group.watermark : null,
      });
    }
    const refusals = [...this.refusalsChanged].map((name): [string, number] => [name, this.refusedByModel.get(name) ?? 0]);
    const bytes = encodeCheckpointDelta({ ...this.checkpointCommon(refusals), ...link, groups, join: this.join.deltaBytes() });
    this.markCheckpoint();
    return bytes;
  }

  /** What a base and a delta both carry: position, counters, held events, the writer. */
  private checkpointCommon(refusedByModel: Array<[string, number]>): Pick<CheckpointWire, 'partition' | 'seq' | 'watermark' | 'counters' | 'held' | 'owner'> {
    return {
      partition: this.partition,
      seq: this.seq,
      watermark: Number.isFinite(this.watermark) ? this.watermark : null,
      counters: { ...this.counters, refusedByModel },
      held: this.heldEventsInOrder().map((e): [number, string, Uint8Array, string | null] => [e.seq, e.subject, e.data, e.contentType ?? null]),
      ...(this.options.owner === undefined ? {} : { owner: this.options.owner }),
    };
  }

  /** The base this processor was restored from and the deltas applied on it (null when not restored). */
  private restoredChain: { baseId: string | null; owner: PartitionOwner | null; applied: number } | null = null;

  private markCheckpoint(): void {
    this.join.markCheckpoint();
    this.refusalsChanged.clear();
    for (const group of this.groups.values()) {
      group.changedInputs.clear();
      group.changedOutcomes.clear();
    }
  }

  /**
   * Rebuilds a processor from snapshot() bytes (or a checkpoint of the unframed format 1); every
   * restored pane is marked dirty (republished). A corrupted, truncated or foreign checkpoint
   * throws a CheckpointError naming what is wrong, before a processor is built.
   */
  static restore(bytes: Uint8Array, options: ProcessorOptions, deltas: readonly Uint8Array[] = []): PartitionProcessor {
    const checkpoint = decodeCheckpoint(bytes, options.partition, options.limits);
    const processor = new PartitionProcessor(options);
    processor.seq = checkpoint.seq;
    processor.watermark = checkpoint.watermark;
    processor.counters.predictions = checkpoint.counters.predictions;
    processor.counters.labels = checkpoint.counters.labels;
    processor.counters.late = checkpoint.counters.late;
    processor.counters.duplicates = checkpoint.counters.duplicates;
    Object.assign(processor.counters.rejected, checkpoint.counters.rejected);
    for (const [name, n] of checkpoint.counters.refusedByModel ?? []) processor.refusedByModel.set(name, n);
    (processor as { join: PendingJoinTable }).join = checkpoint.join;
    for (const saved of checkpoint.groups) {
      const group = processor.group(saved.model, saved.version);
      processor.admission.adopt?.(saved.model, saved.version);
      group.detectors = saved.detectors;
      group.watermark = saved.watermark;
      for (const [start, pane] of saved.inputs) {
        // the centers are not in the checkpoint: the panes' sketches carry them
        pane.shareFeatureCenters(group.featureCenters);
        group.inputs.set(start, pane);
        group.dirtyInputs.add(start);
      }
      for (const [start, pane] of saved.outcomes) {
        group.outcomes.set(start, pane);
        group.dirtyOutcomes.add(start);
      }
    }
    processor.restoreHeld(checkpoint.held);
    processor.restoredChain = { baseId: checkpoint.baseId, owner: checkpoint.owner, applied: 0 };
    for (const delta of deltas) processor.applyCheckpointDelta(delta);
    return processor;
  }

  /**
   * Applies the next delta of the restored base's chain (restore() does it for the deltas it is
   * given; the runner reads them one by one). A delta of another chain, out
   * of order, not following this state's sequence, or written by another owner than the base's (a
   * fenced-out one: each owner starts its own chain) is refused with a CheckpointError.
   */
  applyCheckpointDelta(bytes: Uint8Array): void {
    const { partition } = this;
    const base = this.restoredChain;
    if (base === null) throw new CheckpointError(partition, 'a delta can only follow a restored base checkpoint');
    const index = base.applied + 1;
    const delta = decodeCheckpointDelta(bytes, partition, this.options.limits);
    const refuse = (problem: string): CheckpointError => new CheckpointError(partition, `delta ${index}: ${problem}`);
    if (base.baseId === null || delta.baseId !== base.baseId) throw refuse(`it follows base ${delta.baseId}, not ${base.baseId ?? '(a base without deltas)'}`);
    if (delta.index !== index) throw refuse(`it is delta ${delta.index} of its chain`);
    if (delta.fromSeq !== this.seq) throw refuse(`it follows sequence ${delta.fromSeq}, the state is at ${this.seq}`);
    const sameOwner = delta.owner === null ? base.owner === null : base.owner !== null && delta.owner.worker === base.owner.worker && delta.owner.epoch === base.owner.epoch;
    if (!sameOwner) throw refuse(`written by ${JSON.stringify(delta.owner)}, the base by ${JSON.stringify(base.owner)}`);
    try {
      this.join.applyDelta(delta.join);
    } catch (error) {
      throw refuse(`join: ${(error as Error).message}`);
    }
    this.seq = delta.seq;
    this.watermark = delta.watermark;
    this.counters.predictions = delta.counters.predictions;
    this.counters.labels = delta.counters.labels;
    this.counters.late = delta.counters.late;
    this.counters.duplicates = delta.counters.duplicates;
    Object.assign(this.counters.rejected, delta.counters.rejected);
    for (const [name, n] of delta.counters.refusedByModel ?? []) this.refusedByModel.set(name, n);
    const live = new Set(delta.groups.map((g) => groupKeyOf(g.model, g.version)));
    for (const key of [...this.groups.keys()]) if (!live.has(key)) this.groups.delete(key);
    this.lastGroup = null;
    for (const saved of delta.groups) {
      const group = this.group(saved.model, saved.version);
      this.admission.adopt?.(saved.model, saved.version);
      group.detectors = saved.detectors;
      group.watermark = saved.watermark;
      const inputStarts = new Set(saved.inputStarts);
      for (const start of [...group.inputs.keys()]) if (!inputStarts.has(start)) {
        group.inputs.delete(start);
        group.dirtyInputs.delete(start);
        group.publishedInputs.delete(start);
      }
      for (const [start, pane] of saved.inputs) {
        pane.shareFeatureCenters(group.featureCenters);
        group.inputs.set(start, pane);
      }
      const outcomeStarts = new Set(saved.outcomeStarts);
      for (const start of [...group.outcomes.keys()]) if (!outcomeStarts.has(start)) {
        group.outcomes.delete(start);
        group.dirtyOutcomes.delete(start);
        group.outcomesHeldSince.delete(start);
        group.outcomesDetected.delete(start);
      }
      for (const [start, pane] of saved.outcomes) group.outcomes.set(start, pane);
      for (const start of inputStarts) if (!group.inputs.has(start)) throw refuse(`input pane ${start} of ${saved.model}/${saved.version} is live but neither in the state it follows nor in the delta`);
      for (const start of outcomeStarts) if (!group.outcomes.has(start)) throw refuse(`outcome pane ${start} of ${saved.model}/${saved.version} is live but neither in the state it follows nor in the delta`);
      // every restored pane is republished, as after a base
      for (const start of group.inputs.keys()) group.dirtyInputs.add(start);
      for (const start of group.outcomes.keys()) group.dirtyOutcomes.add(start);
    }
    this.held.clear();
    this.heldEvents = 0;
    this.restoreHeld(delta.held);
    base.applied = index;
  }

  /** Deltas applied after the restored base (0 without any, or when not restored). */
  get deltasApplied(): number {
    return this.restoredChain?.applied ?? 0;
  }

  /** Events held at checkpoint time wait again for their model's admission. */
  private restoreHeld(held: Checkpoint['held']): void {
    for (const event of held) {
      const model = this.subjectOf(event.subject)?.model;
      if (model !== undefined) this.hold(model, event.seq, event.subject, event.data, event.contentType);
    }
  }
}

/** The features of a schema-decoded event as a record (name -> value), as the by-name path has them. */
function bufferedFeatureRecord(names: readonly string[], buffer: FeatureBuffer): Record<string, number | string | null> {
  const record: Record<string, number | string | null> = {};
  const { indexes, kinds, numbers, strings } = buffer;
  for (let k = 0, n = buffer.count; k < n; k++) {
    const kind = kinds[k];
    record[names[indexes[k]]] = kind === FEATURE_NUMBER ? numbers[k] : kind === FEATURE_STRING ? strings[k] : null;
  }
  return record;
}

/** The grid if it has coarse panes, null if none; throws for one not on whole panes, naming what is wrong. */
function checkedOutcomeGrid(grid: CoarseGrid | undefined, paneMs: number): CoarseGrid | null {
  if (grid === undefined || grid.coarseMs === 0) return null;
  const { coarseMs, fineSpanMs } = grid;
  if (!(Number.isInteger(coarseMs) && coarseMs > 0 && coarseMs % paneMs === 0)) {
    throw new RangeError(`outcomeGrid.coarseMs must be a whole number of panes (paneMs ${paneMs}), got ${coarseMs}`);
  }
  if (!(Number.isInteger(fineSpanMs) && fineSpanMs >= 0 && fineSpanMs % coarseMs === 0)) {
    throw new RangeError(`outcomeGrid.fineSpanMs must be a whole number of coarse panes (${coarseMs} ms) >= 0, got ${fineSpanMs}`);
  }
  return grid;
}
