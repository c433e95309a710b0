/**
 * A deliberately simple Map-based implementation of the PendingJoinTable semantics, for the
 * property test. It has no capacity tricks beyond the documented rules (Maps keep insertion order,
 * which is the table's expiry/eviction order). Name caps (classes, segments, groups) and id length
 * limits are not modelled: the property test stays below them.
 *
 * Keys are `model NUL id`. The joined-id memory is modelled as the documented time buckets of key
 * sets (bucket = floor(prediction ts / bucketMs), dropped whole once past the horizon, the oldest
 * dropped when more than joinedCapacity keys are held); a prediction looks in its own ts's bucket,
 * a label in all of them.
 */
import { AddPredictionStatus, LabelJoinStatus, emptyJoinStats, type AddPredictionResult, type JoinStats, type LabelJoinResult } from '../../src/join/pending-table.ts';

export interface ModelPrediction {
  ts: number;
  groupKey: string;
  output: number | string;
  score: number;
  segment: string | null;
}

export interface ModelLabel {
  label: number | string;
  labelTs: number;
  arrivedAt: number;
}

export interface ModelJoinResult {
  prediction: ModelPrediction;
  label: number | string;
  labelTs: number;
}

export function modelKey(model: string, id: string): string {
  return `${model}\u0000${id}`;
}

export class ModelJoinTable {
  readonly pending = new Map<string, ModelPrediction>();
  readonly early = new Map<string, ModelLabel>();
  readonly joined = new Map<number, Set<string>>();
  private joinedCount = 0;
  readonly bucketMs: number;
  readonly stats: JoinStats = emptyJoinStats();
  /** The join of the last call, or the evicted prediction for AddedEvictedOldest. */
  last: ModelJoinResult | null = null;
  evicted: ModelPrediction | null = null;

  constructor(
    readonly capacity: number,
    readonly earlyCapacity: number,
    readonly horizonMs: number,
    readonly joinedCapacity = capacity,
  ) {
    this.bucketMs = Math.max(1, Math.ceil(horizonMs / 16));
  }

  private remember(id: string, ts: number): void {
    const b = Math.floor(ts / this.bucketMs);
    let set = this.joined.get(b);
    if (set === undefined) this.joined.set(b, (set = new Set()));
    if (set.has(id)) return;
    set.add(id);
    this.joinedCount++;
    while (this.joinedCount > this.joinedCapacity) this.dropBucket(Math.min(...this.joined.keys()));
  }

  private dropBucket(b: number): void {
    this.joinedCount -= this.joined.get(b)?.size ?? 0;
    this.joined.delete(b);
  }

  hasJoined(id: string): boolean {
    for (const set of this.joined.values()) if (set.has(id)) return true;
    return false;
  }

  addPrediction(id: string, prediction: ModelPrediction, nowMs: number): AddPredictionResult {
    this.last = null;
    if (this.pending.has(id)) {
      this.stats.duplicatePredictions++;
      return AddPredictionStatus.Duplicate;
    }
    const waiting = this.early.get(id);
    if (waiting !== undefined) {
      this.early.delete(id);
      this.stats.joined++;
      this.stats.joinedEarly++;
      this.last = { prediction, label: waiting.label, labelTs: waiting.labelTs };
      this.remember(id, prediction.ts);
      return AddPredictionStatus.MatchedEarlyLabel;
    }
    if (nowMs - prediction.ts > this.horizonMs) {
      this.stats.tooLate++;
      return AddPredictionStatus.TooLate;
    }
    if (this.joined.get(Math.floor(prediction.ts / this.bucketMs))?.has(id) === true) {
      this.stats.duplicatePredictions++;
      this.stats.duplicatePredictionsAfterJoin++;
      return AddPredictionStatus.DuplicateJoined;
    }
    let status: AddPredictionResult = AddPredictionStatus.Added;
    if (this.pending.size >= this.capacity) {
      const [oldestId, oldest] = this.pending.entries().next().value as [string, ModelPrediction];
      this.pending.delete(oldestId);
      this.evicted = oldest;
      this.stats.evicted++;
      status = AddPredictionStatus.AddedEvictedOldest;
    }
    this.pending.set(id, prediction);
    return status;
  }

  addLabel(id: string, label: number | string, labelTs: number, nowMs: number): LabelJoinResult {
    this.last = null;
    const prediction = this.pending.get(id);
    if (prediction !== undefined) {
      this.pending.delete(id);
      this.stats.joined++;
      this.last = { prediction, label, labelTs };
      this.remember(id, prediction.ts);
      return LabelJoinStatus.Joined;
    }
    if (this.early.has(id)) {
      this.stats.duplicateLabels++;
      return LabelJoinStatus.DuplicateEarly;
    }
    if (this.hasJoined(id)) {
      this.stats.duplicateLabels++;
      this.stats.duplicateLabelsAfterJoin++;
      return LabelJoinStatus.DuplicateJoined;
    }
    let status: LabelJoinResult = LabelJoinStatus.BufferedEarly;
    if (this.early.size >= this.earlyCapacity) {
      const oldestId = this.early.keys().next().value as string;
      this.early.delete(oldestId);
      this.stats.expiredLabels++;
      this.stats.earlyDropped++;
      status = LabelJoinStatus.BufferedEarlyDroppedOldest;
    }
    this.early.set(id, { label, labelTs, arrivedAt: nowMs });
    this.stats.early++;
    return status;
  }

  expire(nowMs: number): { predictions: number; earlyLabels: number; expired: ModelPrediction[] } {
    const expired: ModelPrediction[] = [];
    for (const [id, p] of this.pending) {
      if (!(nowMs - p.ts > this.horizonMs)) break;
      this.pending.delete(id);
      expired.push(p);
    }
    let earlyLabels = 0;
    for (const [id, l] of this.early) {
      if (!(nowMs - l.arrivedAt > this.horizonMs)) break;
      this.early.delete(id);
      earlyLabels++;
    }
    for (const b of [...this.joined.keys()]) if ((b + 1) * this.bucketMs <= nowMs - this.horizonMs) this.dropBucket(b);
    this.stats.expiredPredictions += expired.length;
    this.stats.expiredLabels += earlyLabels;
    return { predictions: expired.length, earlyLabels, expired };
  }
}
