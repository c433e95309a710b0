import { PaneInput, PaneOutcome, addInput, addOutcome, inputFromWire, outcomeFromWire, inputToWire, outcomeToWire } from './pane.ts';
import type { PaneLimits } from './pane.ts';
import type { PaneInputWire, PaneOutcomeWire, PaneMessage } from '../contract/pane-wire.ts';
import { checkPaneMessage } from '../contract/pane-codec.ts';
import { LogHistogram } from '../sketch/log-histogram.ts';

/**
 * Sliding windows of one model, kept incrementally from the pane changelog: a window is the sum of
 * the latest state of every pane inside it. When a pane's state is replaced, the old state is
 * subtracted and the new one added; when event time moves on, panes leaving a window are
 * subtracted. Nothing is ever recomputed from events, and a replayed (identical) pane state
 * replaces itself, so re-deliveries cannot double count.
 */

/** Aggregates of all versions merged carry this version key. */
export const ALL_VERSIONS = '\u0000all';

export class WindowAggregate {
  readonly input: PaneInput;
  readonly outcome: PaneOutcome;
  constructor(limits: PaneLimits) {
    this.input = new PaneInput(limits);
    this.outcome = new PaneOutcome(limits);
  }
}

/**
 * A pane as the changelog delivered it: kept in its compact wire form (sketches as bytes, about a
 * sixth of the decoded size) and decoded only when it enters or leaves a window.
 */
interface StoredPane {
  version: string;
  paneStart: number;
  part: 'in' | 'out';
  state: PaneInputWire | PaneOutcomeWire;
  /** The worker marked this state final (its pane closed). */
  final: boolean;
  /** For a folded pane: the partitions whose final states it holds. */
  partitions?: Set<number>;
}

interface DecodedPane {
  input: PaneInput | null;
  outcome: PaneOutcome | null;
}

export class ModelWindows {
  /** Latest state per `${partition}|${version}|${paneStart}|${part}`, while it may still change. */
  private readonly panes = new Map<string, StoredPane>();
  /** Final states merged over partitions, per `${version}|${paneStart}|${part}`. */
  private readonly folded = new Map<string, StoredPane>();
  /** Pane states that arrived for a partition already folded in: stale re-publications, ignored. */
  staleIgnored = 0;
  /** window name -> version key -> aggregate */
  private readonly aggregates = new Map<string, Map<string, WindowAggregate>>();
  readonly versions = new Set<string>();
  /** End of the newest pane seen (exclusive), epoch ms of event time. */
  end = -Infinity;
  paneMs = 0;
  firstPaneStart = Infinity;
  /** Panes are kept for two lengths of the longest window: the window and its rolling reference. */
  private readonly retentionMs: number;
  /**
   * Per numeric feature, the buckets every decoded pane sketch is moved onto (those of the first
   * sketch seen). Partitions pick their own feature centers, so a pane's sketch seldom shares the
   * window's buckets; moving it once when it is decoded, instead of in each of the window x version
   * aggregates it enters and leaves, took the gateway's pane apply from ~43 % of its CPU (20 models
   * x 30 features, bench gateway profile) to a merge of typed arrays.
   */
  private readonly featureBuckets = new Map<string, LogHistogram>();
  /**
   * When each (window, version key) aggregate last changed, as a stamp from `changeClock`: a stamp
   * is never reused (a version that goes and comes back gets a new one), so an equal stamp means
   * the aggregate is the one a cached statistic was computed on.
   */
  private readonly changes = new Map<string, Map<string, number>>();
  private changeClock = 0;

  constructor(
    readonly model: string,
    private readonly windowMs: ReadonlyMap<string, number>,
    private readonly limits: PaneLimits,
  ) {
    for (const name of windowMs.keys()) this.aggregates.set(name, new Map());
    this.retentionMs = 2 * Math.max(...windowMs.values());
  }

  private aggregate(window: string, version: string): WindowAggregate {
    const byVersion = this.aggregates.get(window) as Map<string, WindowAggregate>;
    let aggregate = byVersion.get(version);
    if (aggregate === undefined) {
      aggregate = new WindowAggregate(this.limits);
      byVersion.set(version, aggregate);
    }
    return aggregate;
  }

  private decode(pane: StoredPane): DecodedPane {
    return pane.part === 'in'
      ? { input: this.onFeatureBuckets(inputFromWire(pane.state as PaneInputWire, this.limits)), outcome: null }
      : { input: null, outcome: outcomeFromWire(pane.state as PaneOutcomeWire, this.limits) };
  }

  /** Moves each numeric feature sketch onto the model's buckets for that feature (see featureBuckets). */
  private onFeatureBuckets(input: PaneInput): PaneInput {
    for (const [name, summary] of input.features) {
      const sketch = summary.numeric;
      if (sketch === null) continue;
      const like = this.featureBuckets.get(name);
      if (like === undefined) this.featureBuckets.set(name, sketch.emptyLike());
      else if (!like.sameBuckets(sketch)) summary.numeric = LogHistogram.rebinnedLike(sketch, like);
    }
    return input;
  }

  /** Adds (or subtracts) a pane to every window that holds it; `decoded` when the caller already has it. */
  private apply(pane: StoredPane, sign: 1 | -1, decoded: DecodedPane | null = null): void {
    for (const [name, length] of this.windowMs) {
      if (pane.paneStart < this.end - length || pane.paneStart >= this.end) continue;
      decoded ??= this.decode(pane);
      this.applyDecoded(name, pane.version, decoded, sign);
    }
  }

  private applyDecoded(window: string, paneVersion: string, pane: DecodedPane, sign: 1 | -1): void {
    const stamps = this.changes.get(window) ?? new Map<string, number>();
    this.changes.set(window, stamps);
    for (const version of [paneVersion, ALL_VERSIONS]) {
      stamps.set(version, ++this.changeClock);
      const aggregate = this.aggregate(window, version);
      if (pane.input !== null) addInput(aggregate.input, pane.input, sign);
      if (pane.outcome !== null) addOutcome(aggregate.outcome, pane.outcome, sign);
    }
  }

  /**
   * Folds one pane message from the changelog in. The message is checked and its state decoded
   * before anything changes: a malformed one throws (PaneMessageError naming the field) and leaves
   * every window, stored pane and bound as it was, so a later valid state of the same pane applies
   * as if the bad one never came. A stored pane was decoded once already, so taking it out again
   * cannot throw.
   */
  applyMessage(message: PaneMessage): void {
    const checked = checkPaneMessage(message);
    const next: StoredPane = { version: checked.version, paneStart: checked.paneStart, part: checked.part, state: checked.state, final: checked.final };
    const paneEnd = checked.paneStart + checked.paneMs;
    // A pane older than every window and its rolling reference (a changelog replay reads hours of
    // them) changes nothing: its shape is checked above, its sketches need not be decoded. Any
    // other state is decoded in full before anything changes.
    if (checked.paneStart < Math.max(this.end, paneEnd) - this.retentionMs) return;
    const decoded = this.decode(next);

    this.paneMs = checked.paneMs;
    this.versions.add(checked.version);
    const key = `${checked.partition}|${checked.version}|${checked.paneStart}|${checked.part}`;
    if (paneEnd > this.end) this.advanceTo(paneEnd, checked.version);
    if (checked.paneStart < this.firstPaneStart && checked.part === 'in') this.firstPaneStart = checked.paneStart;
    const folded = this.folded.get(`${checked.version}|${checked.paneStart}|${checked.part}`);
    if (folded?.partitions?.has(checked.partition)) {
      // a worker restored from a checkpoint republishes what it already published: the folded
      // state holds this partition's final contribution
      this.staleIgnored++;
      return;
    }
    const previous = this.panes.get(key);
    if (previous !== undefined) this.apply(previous, -1);
    this.panes.set(key, next);
    this.apply(next, 1, decoded);
  }

  /** Moves the windows' end forward: panes that fall out of a window are subtracted from it. */
  private advanceTo(end: number, arriving: string): void {
    const oldEnd = this.end;
    this.end = end;
    if (!Number.isFinite(oldEnd)) return;
    // the arriving pane is stored after this: its version stays
    const retained = new Set<string>([arriving]);
    for (const store of [this.panes, this.folded]) {
      for (const [key, pane] of store) {
        let decoded: DecodedPane | null = null;
        for (const [name, length] of this.windowMs) {
          const wasIn = pane.paneStart >= oldEnd - length && pane.paneStart < oldEnd;
          const isIn = pane.paneStart >= end - length && pane.paneStart < end;
          if (wasIn === isIn) continue;
          decoded ??= this.decode(pane);
          this.applyDecoded(name, pane.version, decoded, isIn ? 1 : -1);
        }
        if (pane.paneStart < end - this.retentionMs) store.delete(key);
        else retained.add(pane.version);
      }
    }
    // a version with no pane left in any window or the retention is gone: its (empty) aggregates
    // and its name go too, so memory follows the versions alive, not every version ever seen
    for (const version of this.versions) {
      if (retained.has(version)) continue;
      this.versions.delete(version);
      for (const byVersion of this.aggregates.values()) byVersion.delete(version);
      for (const stamps of this.changes.values()) stamps.delete(version);
    }
    this.fold();
  }

  /**
   * Merges per-partition states the workers marked final (their panes closed) into one state per
   * (version, pane): memory for older panes no longer grows with the partition count. The windows
   * already hold their sum, so nothing is added or subtracted.
   */
  private fold(): void {
    const groups = new Map<string, Array<[string, StoredPane]>>();
    for (const [key, pane] of this.panes) {
      if (!pane.final) continue;
      const foldKey = `${pane.version}|${pane.paneStart}|${pane.part}`;
      let group = groups.get(foldKey);
      if (group === undefined) groups.set(foldKey, (group = []));
      group.push([key, pane]);
    }
    for (const [foldKey, members] of groups) {
      const first = members[0][1];
      const existing = this.folded.get(foldKey);
      const partitions = existing?.partitions ?? new Set<number>();
      let state: PaneInputWire | PaneOutcomeWire;
      if (first.part === 'in') {
        const merged = existing ? (this.decode(existing).input as PaneInput) : new PaneInput(this.limits);
        for (const [, pane] of members) addInput(merged, this.decode(pane).input as PaneInput, 1);
        state = inputToWire(merged);
      } else {
        const merged = existing ? outcomeFromWire(existing.state as PaneOutcomeWire, this.limits) : new PaneOutcome(this.limits);
        for (const [, pane] of members) addOutcome(merged, outcomeFromWire(pane.state as PaneOutcomeWire, this.limits), 1);
        state = outcomeToWire(merged);
      }
      for (const [key] of members) {
        partitions.add(Number(key.slice(0, key.indexOf('|'))));
        this.panes.delete(key);
      }
      this.folded.set(foldKey, { version: first.version, paneStart: first.paneStart, part: first.part, state, final: true, partitions });
    }
  }

  /** Pane states held: per partition while they may change, then folded (for metrics and tests). */
  get heldStates(): { perPartition: number; folded: number } {
    return { perPartition: this.panes.size, folded: this.folded.size };
  }

  /** The aggregate of a window; `version` undefined = all versions. */
  get(window: string, version?: string): WindowAggregate | undefined {
    return this.aggregates.get(window)?.get(version ?? ALL_VERSIONS);
  }

  /**
   * A stamp that changes whenever a pane enters, leaves or replaces itself in the aggregate of
   * `window` for `version` (undefined = all versions), and only then: 0 for one never filled.
   */
  changeOf(window: string, version?: string): number {
    return this.changes.get(window)?.get(version ?? ALL_VERSIONS) ?? 0;
  }

  bounds(window: string): { from: number; to: number } {
    const length = this.windowMs.get(window) ?? 0;
    return { from: this.end - length, to: this.end };
  }

  /** Sum of the panes in [from, to) for one version key: for capturing a reference from history. */
  sumRange(from: number, to: number, version?: string): WindowAggregate {
    const aggregate = new WindowAggregate(this.limits);
    for (const pane of [...this.panes.values(), ...this.folded.values()]) {
      if (pane.paneStart < from || pane.paneStart >= to) continue;
      if (version !== undefined && pane.version !== version) continue;
      const decoded = this.decode(pane);
      if (decoded.input !== null) addInput(aggregate.input, decoded.input, 1);
      if (decoded.outcome !== null) addOutcome(aggregate.outcome, decoded.outcome, 1);
    }
    return aggregate;
  }
}
