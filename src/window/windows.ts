import { EXACT_VALUES_CAP, PaneInput, PaneOutcome, addInput, addOutcome, featureChanges, inputFromWire, outcomeFromWire, inputToWire, outcomeToWire, replaceInput, reserveFeatureSketches } from './pane.ts';
import type { FeatureChange, PaneLimits } from './pane.ts';
import type { PaneInputWire, PaneOutcomeWire, PaneMessage } from '../contract/pane-wire.ts';
import { checkPaneMessage } from '../contract/pane-codec.ts';
import type { CheckedPaneMessage } from '../contract/pane-codec.ts';
import { LogHistogram } from '../sketch/log-histogram.ts';
import { ExactValueCounts, SUM_VALUES_CAP, movedOnto } from '../sketch/exact-values.ts';
import { BucketScratch } from '../sketch/bucket-store.ts';
import { CountsArena } from '../sketch/counts-arena.ts';
import { DEFAULT_COARSE_PANE_MS, DEFAULT_HISTORY_PANE_MS, PaneMembers, alignDown, coarseGridOf, paneLayout } from './coarse-panes.ts';
import type { PaneLayout } from './coarse-panes.ts';
import { detachedSketches, isPackedStateBytes, packPaneState, unpackPaneState } from './packed-state.ts';
import { PaneStates } from './partition-states.ts';
import type { HeldState } from './partition-states.ts';
import type { StateBytePool } from './state-byte-pool.ts';
import type { MsgpackReader } from '../contract/msgpack-reader.ts';
import { HeldStateReader } from './held-state-reader.ts';

/**
 * Sliding windows of one model, kept incrementally from the pane changelog: a window is the sum of
 * the latest state of every pane inside it. When a pane's state is replaced, the old state is
 * subtracted and the new one added; when event time moves on, panes leaving a window are
 * subtracted. Nothing is ever recomputed from events, and a replayed (identical) pane state
 * replaces itself, so re-deliveries cannot double count. Older final panes are folded into coarse
 * ones that long windows slide over (coarse-panes.ts), so memory per model x feature is bounded.
 */

/** Aggregates of all versions merged carry this version key. */
export const ALL_VERSIONS = '\u0000all';

/** Whether a window's counts per value hold values it could not list though it has room again (see recountFoldedValues). */
function stuck(exact: ExactValueCounts | null): boolean {
  return exact !== null && exact.folded > 0 && exact.size <= EXACT_VALUES_CAP;
}

/**
 * The start of the newest of `states` (counts per value of the states a window holds) while it is
 * held no sum of them lists every value: the states from it on list more than SUM_VALUES_CAP
 * values between them. -Infinity: they list no more than that.
 */
function foldedThrough<State extends { paneStart: number }>(states: State[], valuesOf: (state: State) => readonly number[]): number {
  // newest first: read no further than needed (valuesOf may unpack a state)
  states.sort((a, b) => b.paneStart - a.paneStart);
  const union = new Set<number>();
  for (const state of states) {
    for (const value of valuesOf(state)) union.add(value);
    if (union.size > SUM_VALUES_CAP) return state.paneStart;
  }
  return -Infinity;
}

/** A window's sums: what its panes add up to (numeric values listed one by one: at most SUM_VALUES_CAP). */
export class WindowAggregate {
  readonly input: PaneInput;
  readonly outcome: PaneOutcome;
  /** `arena`: where a window's sketches cut their bucket arrays from (PaneInput.countsArena); none for a sum made to be read once. */
  constructor(limits: PaneLimits, arena?: CountsArena) {
    this.input = new PaneInput(limits);
    this.input.exactSumCap = SUM_VALUES_CAP;
    this.input.countsArena = arena;
    this.outcome = new PaneOutcome(limits);
  }
}

/**
 * A pane state held: kept in its compact wire form (sketches as bytes, about a sixth of the
 * decoded size) and decoded only when it enters or leaves a window or a range is summed. A
 * partition's state, which the next message may replace, is held as the changelog delivered it:
 * its bytes, packed raw, beside the other partitions' states of its pane (PaneStates: this record
 * is made for it only while it is looked at); one given as objects, or moved onto the model's
 * buckets, is packed once its pane is older than the newest. A folded or coarse state, held until
 * it leaves the retention and seldom read, is packed too (packed-state.ts: its sketches deflated,
 * a fifth to a quarter of their wire bytes).
 */
interface StoredPane {
  version: string;
  paneStart: number;
  part: 'in' | 'out';
  /** Its wire form, or packed into one byte array (packPaneState, packStateBytes). */
  state: HeldState;
  /** The worker marked this state final (its pane closed). */
  final: boolean;
  /** For a folded pane: the partitions whose final states it holds. */
  partitions?: Set<number>;
  /** For a coarse or history pane: the (partition, fine pane) final states it holds. */
  members?: PaneMembers;
}

export interface ModelWindowsOptions {
  /** Coarse pane length (ms) older final panes are folded into; 0: never (default DEFAULT_COARSE_PANE_MS). */
  coarsePaneMs?: number;
  /**
   * History pane length (ms) coarse panes before the longest coarse window are folded into; 0, or
   * not longer than a coarse pane: never (default DEFAULT_HISTORY_PANE_MS).
   */
  historyPaneMs?: number;
  /**
   * Where decoded pane states' bucket arrays come from (BucketScratch): a state is decoded only to
   * be added to or taken from the windows, or merged, within one applyMessage or sumRange call,
   * so the arrays are taken again at the next call. One for every model of a store (the models'
   * calls never overlap); default: one of its own.
   */
  scratch?: BucketScratch;
  /** Reads packed states (one for every model of a store, as `scratch`); default: one of its own. */
  reader?: HeldStateReader;
  /**
   * Byte arrays for the partition input states held, used again once a state is replaced (one for
   * every model of a store, as `scratch`); default: none, each state in an array of its own.
   */
  stateBytes?: StateBytePool;
  /**
   * The buckets to hold a numeric feature on, asked once, when the feature's first sketch arrives:
   * its reference's (a sketch of the same accuracy, zero threshold and size, on the reference's
   * center), so that drift compares the windows with the reference without moving them onto its
   * buckets at every evaluation (~18 % of the gateway's drift work at 300 models x 30 features).
   * Undefined, or a sketch of other settings: the first sketch's own buckets.
   */
  bucketsHint?: (feature: string) => LogHistogram | undefined;
  /**
   * An outcome pane whose partitions' states none changed for this long (event time: the model's
   * newest pane end) is held deflated (PaneStates.pack) until one is read or changes; Infinity:
   * never (default OUTCOME_PACK_QUIET_MS).
   */
  outcomePackQuietMs?: number;
}

/**
 * ModelWindowsOptions.outcomePackQuietMs's default. An open outcome pane takes labels for its
 * predictions until the label horizon (an hour by default); most come within their usual delay,
 * and the rest of the hour nothing changes. With every prediction labelled within 30 minutes at
 * 20 a second per model (bench gateway --memory-only, sparse with labels), a pane got a label about
 * every 10 s while they came, so a minute without one is rare before they stop: a pane is seldom
 * packed, read back for its next label and packed again.
 */
export const OUTCOME_PACK_QUIET_MS = 60_000;

/**
 * Panes deflated at most per move of a model's windows (~0.15 ms each, 16 partitions' states of a
 * few labels): a model whose traffic resumes after a pause finds all its outcome panes quiet at
 * once, and deflating a hundred of them in one message would hold the gateway's thread ~15 ms.
 * The rest wait for the next moves (a pane's worth of event time each); at steady state a pane
 * turns quiet every few moves (bench gateway --memory-only with labels: one coarse interval's first
 * pane a minute, six moves).
 */
const OUTCOME_PACKS_PER_ADVANCE = 4;

/**
 * The share of a model's arena that may be free (arrays its windows' sketches outgrew) before they
 * are moved into one new slab (ModelWindows.compactArena): what memory the arena costs beyond what
 * the windows hold, against how often their arrays are copied while windows widen.
 */
const ARENA_FREE_SHARE = 1 / 8;

/**
 * A held input state's array of its own (a StateBytePool's, when the windows have one), or null: an
 * outcome state, wire objects, or a view of the bytes it shares with its pane's other states.
 */
function ownInputArray(part: 'in' | 'out', state: HeldState, shared: boolean): Uint8Array | null {
  return part === 'in' && state instanceof Uint8Array && !shared ? state : null;
}

function wireOf(state: HeldState, reader: MsgpackReader): PaneInputWire | PaneOutcomeWire {
  return state instanceof Uint8Array ? unpackPaneState(state, reader) : state;
}

/** Bytes of every sketch in a wire state (its byte arrays). */
function wireSketchBytes(value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength;
  if (typeof value !== 'object' || value === null) return 0;
  let bytes = 0;
  for (const item of Object.values(value)) bytes += wireSketchBytes(item);
  return bytes;
}

/**
 * What one recount (recountFoldedValues) has looked at so far: the partitions' input states as
 * records (made once, when first needed: not the hour of outcome states a model holds with labels)
 * and those unpacked, by record.
 */
interface RecountLook {
  partitionInputs: StoredPane[] | null;
  /** Made when a recount is due (rarely: not at each message). */
  unpacked: Map<StoredPane, PaneInputWire> | null;
}

interface DecodedPane {
  input: PaneInput | null;
  outcome: PaneOutcome | null;
  /** Numeric features whose sketches were moved onto the model's buckets while decoding (featureBuckets). */
  moved: string[] | null;
}

/**
 * `wire` with the numeric sketches of `moved` features replaced by those of `input` (their bytes
 * on the model's buckets): stored so, the state decodes without moving them again.
 */
function withMovedSketches(wire: PaneInputWire, input: PaneInput, moved: readonly string[]): PaneInputWire {
  const features = { ...wire.features };
  // written into one buffer: they are stored, and let go, together
  const bytes = LogHistogram.toBytesMany(moved.map((name) => input.features.get(name)?.numeric as LogHistogram));
  moved.forEach((name, k) => (features[name] = { ...features[name], n: bytes[k] }));
  // held as objects: the rest is still a view of the message's bytes (detachedSketches)
  return detachedSketches({ ...wire, features }, new Set(bytes));
}

export class ModelWindows {
  /** Latest state of each partition per `${version}|${paneStart}|${part}`, while it may still change. */
  private readonly partitionStates = new Map<string, PaneStates>();
  /** Final states merged over partitions, per `${version}|${paneStart}|${part}`. */
  private readonly folded = new Map<string, StoredPane>();
  /** Folded states older than the fine span merged per coarse pane, per `${version}|${coarseStart}|${part}`. */
  private readonly coarse = new Map<string, StoredPane>();
  /** Coarse states before the longest coarse window merged per history pane, per `${version}|${historyStart}|${part}`. */
  private readonly history = new Map<string, StoredPane>();
  /** Pane states that arrived for a partition already folded in: stale re-publications, ignored. */
  staleIgnored = 0;
  /** States that were byte for byte the one held for their partition and pane: not applied again (sameAsHeld). */
  unchangedSkipped = 0;
  /** window name -> version -> aggregate of that version's panes. */
  private readonly aggregates = new Map<string, Map<string, WindowAggregate>>();
  /**
   * window name -> the aggregate of all versions' panes, kept only while the window has aggregates
   * of two versions or more. With one version (most models, most of the time) it would be that
   * version's aggregate twice over: ~23 KB of bucket weights per model x feature x window on
   * heavy-tailed features, a third of the steady-state memory once held states are packed.
   */
  private readonly allVersions = new Map<string, WindowAggregate>();
  /** The windows' sketches' bucket arrays (see CountsArena): the model's own, so they go with it. */
  private readonly countsArena = new CountsArena();
  private arenaCompactions = 0;
  readonly versions = new Set<string>();
  /** End of the newest pane seen (exclusive), epoch ms of event time. */
  end = -Infinity;
  paneMs = 0;
  firstPaneStart = Infinity;
  /** Which windows slide over coarse panes, how long fine panes are kept, and the retention. */
  private readonly layout: PaneLayout;
  /** The coarse pane length in use: the layout's, rounded up to whole fine panes once paneMs is known; 0 = none. */
  private coarseMs = 0;
  /** No coarse or history pane holds a fine pane starting at or after this (coarsen merges only folded states starting before it). */
  private coarsenedBefore = -Infinity;
  private fineSpanMs = Infinity;
  /** The history pane length in use: the layout's, rounded up to whole coarse panes; 0 = none. */
  private historyMs = 0;
  /**
   * Per numeric feature, the buckets every decoded pane sketch is moved onto (the hint's, those of
   * the model's reference, else those of the first sketch seen). Partitions center a feature on
   * their own first values until their model has a reference (then on its centers: see
   * WorkerReferences.centersFor), so a pane's sketch may not share the window's buckets; moving it
   * once when it is decoded, instead of in each of the window x version aggregates it enters and
   * leaves, took the gateway's pane apply from ~43 % of its CPU (20 models x 30 features, bench
   * gateway profile) to a merge of typed arrays.
   */
  private readonly featureBuckets = new Map<string, LogHistogram>();
  /** Per numeric feature, the buckets it was held on before featureBuckets', oldest first (see followBucketsHint). */
  private readonly formerBuckets = new Map<string, LogHistogram[]>();
  /** Decoded pane sketches moved onto featureBuckets so far (each costs a rebinning and, when kept, a re-encoding). */
  rebinnedSketches = 0;
  /** A window's counts per value summed again from the states it holds so far (recountFoldedValues: each decodes them all). */
  recountedSums = 0;
  /**
   * When each (window, version key) aggregate last changed, as a stamp from `changeClock`: a stamp
   * is never reused (a version that goes and comes back gets a new one), so an equal stamp means
   * the aggregate is the one a cached statistic was computed on.
   */
  private readonly changes = new Map<string, Map<string, number>>();
  private changeClock = 0;
  /** Per window's counts per value summed again with values left unlisted: the start of the newest state that must leave first (see recountDue). */
  private readonly sumFoldedThrough = new WeakMap<ExactValueCounts, number>();
  private readonly scratch: BucketScratch;
  private readonly reader: HeldStateReader;
  private readonly stateBytes: StateBytePool | undefined;
  private readonly bucketsHint: ModelWindowsOptions['bucketsHint'];
  private readonly outcomePackQuietMs: number;

  constructor(
    readonly model: string,
    private readonly windowMs: ReadonlyMap<string, number>,
    private readonly limits: PaneLimits,
    options: ModelWindowsOptions = {},
  ) {
    for (const name of windowMs.keys()) this.aggregates.set(name, new Map());
    this.scratch = options.scratch ?? new BucketScratch();
    this.reader = options.reader ?? new HeldStateReader();
    this.stateBytes = options.stateBytes;
    this.bucketsHint = options.bucketsHint;
    this.outcomePackQuietMs = options.outcomePackQuietMs ?? OUTCOME_PACK_QUIET_MS;
    this.layout = paneLayout(windowMs, options.coarsePaneMs ?? DEFAULT_COARSE_PANE_MS, options.historyPaneMs ?? DEFAULT_HISTORY_PANE_MS);
  }

  /** Fixes the coarse pane length on whole fine panes, so coarse boundaries are fine boundaries. */
  private learnPaneMs(paneMs: number): void {
    this.paneMs = paneMs;
    if (this.layout.coarseMs === 0 || this.coarseMs > 0) return;
    ({ coarseMs: this.coarseMs, fineSpanMs: this.fineSpanMs } = coarseGridOf(this.layout, paneMs));
    const historyMs = this.coarseMs * Math.ceil(this.layout.historyMs / this.coarseMs);
    this.historyMs = historyMs > this.coarseMs ? historyMs : 0;
  }

  /**
   * Where a window ending at `end` starts: `end - length`, aligned down on a coarse pane for a
   * window kept on coarse panes (so folding never changes which states it holds).
   */
  private windowStart(window: string, length: number, end: number): number {
    const start = end - length;
    return this.coarseMs > 0 && this.layout.coarseWindows.has(window) ? alignDown(start, this.coarseMs) : start;
  }

  /**
   * States starting before this are gone: the longest window and its rolling reference lie after
   * it. Aligned down on the longest pane held, so no pane straddles it: every state from it on is
   * there, whole.
   */
  private retainedFrom(end: number): number {
    const from = end - this.layout.retentionMs;
    const grain = this.historyMs > 0 ? this.historyMs : this.coarseMs;
    return grain > 0 ? alignDown(from, grain) : from;
  }

  private aggregate(window: string, version: string): WindowAggregate {
    const byVersion = this.aggregates.get(window) as Map<string, WindowAggregate>;
    let aggregate = byVersion.get(version);
    if (aggregate === undefined) {
      aggregate = new WindowAggregate(this.limits, this.countsArena);
      byVersion.set(version, aggregate);
    }
    return aggregate;
  }

  /** A held state decoded (read once already, when it arrived: see applyState). */
  private decode(pane: StoredPane): DecodedPane {
    return this.decodeState(pane.part, pane.state);
  }

  /** `arriving`: a state from a message, read the first time (checked in full); otherwise a held one. */
  private decodeState(part: 'in' | 'out', state: HeldState, arriving = false): DecodedPane {
    if (part === 'in' && !arriving && state instanceof Uint8Array) {
      // a held input state, most often packed raw: its features read without wire objects
      const input = this.reader.readHeldInput(state, this.limits, this.scratch);
      if (input !== null) return { input, outcome: null, moved: this.onFeatureBuckets(input) };
    }
    const wire = wireOf(state, this.reader);
    if (part === 'out') return { input: null, outcome: outcomeFromWire(wire as PaneOutcomeWire, this.limits), moved: null };
    const input = inputFromWire(wire as PaneInputWire, this.limits, 'state', this.scratch, !arriving);
    return { input, outcome: null, moved: this.onFeatureBuckets(input) };
  }

  /** The partitions' states held (of one part, or both), each as a record of its own (made now). */
  private partitionPanes(part?: 'in' | 'out'): StoredPane[] {
    const panes: StoredPane[] = [];
    for (const states of this.partitionStates.values()) {
      if (part !== undefined && states.part !== part) continue;
      for (let slot = 0; slot < states.size; slot++) {
        panes.push({ version: states.version, paneStart: states.paneStart, part: states.part, state: states.stateAt(slot), final: states.finalAt(slot) });
      }
    }
    return panes;
  }

  /**
   * Moves each numeric feature sketch onto the model's buckets for that feature (see
   * featureBuckets); returns the names of those moved (null: none).
   */
  private onFeatureBuckets(input: PaneInput): string[] | null {
    let moved: string[] | null = null;
    // forEach, not for-of over entries: no [name, summary] array per feature of every state decoded
    input.features.forEach((summary, name) => {
      // a sketch sent as its values is built only if it must be moved (or is the feature's first)
      const buckets = summary.numericBuckets;
      if (buckets === null) return;
      let like = this.featureBuckets.get(name);
      if (like === undefined) {
        const hinted = this.bucketsHint?.(name);
        const sketch = summary.numeric as LogHistogram;
        like = hinted !== undefined && sameSettings(hinted, sketch) ? hinted.emptyLike() : sketch.emptyLike();
        this.featureBuckets.set(name, like);
      }
      if (!like.sameBuckets(buckets)) {
        summary.numeric = this.movedOntoBuckets(name, summary.numeric as LogHistogram, summary.exact, like);
        this.rebinnedSketches++;
        (moved ??= []).push(name);
      }
    });
    return moved;
  }

  /**
   * Moves the windows onto the buckets the hint gives now (a reference published after the model's
   * first panes): the features whose hinted buckets differ from those held are held on the hint's
   * from now on. Without it a feature stayed for good on the buckets of the first pane seen, and
   * every pane, on the reference's center once the workers followed it, was moved twice (onto
   * those buckets, then with the window onto the reference's): a value repeated often (a sentinel
   * such as -1) landed in two buckets and KS read 0.16 on a stationary feature.
   *
   * Every state held is on the old buckets (moved there when it arrived, or merged from such), and
   * each is moved onto the new ones when decoded from now on (movedOntoBuckets). Moving a sketch
   * (movedOnto, not as integers) is additive over sketches of the same buckets: each aggregate
   * moved as it is equals the sum of its states moved one by one, and a state that leaves later
   * takes away exactly what it brought. (Summing the windows again from their states took 0.75 s
   * per model of 30 features holding 2 h.) Returns the features moved.
   */
  followBucketsHint(): number {
    if (this.bucketsHint === undefined) return 0;
    let moved = 0;
    let sumAgain = false;
    for (const [name, like] of this.featureBuckets) {
      const hinted = this.bucketsHint(name);
      if (hinted === undefined || !sameSettings(hinted, like) || hinted.sameBuckets(like)) continue;
      const next = hinted.emptyLike();
      this.featureBuckets.set(name, next);
      const former = this.formerBuckets.get(name) ?? [];
      former.push(like);
      this.formerBuckets.set(name, former);
      if (former.length > MAX_FORMER_BUCKETS) {
        // states on the oldest buckets are moved onto the new ones directly from now on: the
        // windows are summed again from their states, moved that way
        former.shift();
        sumAgain = true;
      } else if (this.foldedValues(name)) {
        // a window that could not list every value its states list (SUM_VALUES_CAP) moves those
        // values by representative where its states move them value by value: not their sum
        sumAgain = true;
      } else {
        for (const aggregate of this.allAggregates()) {
          const summary = aggregate.input.features.get(name);
          if (summary?.numeric != null) summary.numeric = movedOnto(summary.numeric, summary.exact, next, undefined, false);
        }
      }
      moved++;
    }
    if (sumAgain) this.sumAgain();
    else if (moved > 0) for (const [window, byVersion] of this.aggregates) for (const version of byVersion.keys()) this.stampChanged(window, version);
    return moved;
  }

  /**
   * A decoded sketch of feature `name` on the model's buckets `like`. A state held since before the
   * model's buckets changed (followBucketsHint) is on former buckets: it is moved through each
   * change in turn, as the windows were, so that what it takes away when it leaves is what it put
   * in (moving from the first buckets to the last directly is not the same as moving step by step).
   * Any other sketch (a worker's pane on centers of its own) is moved directly.
   */
  private movedOntoBuckets(name: string, sketch: LogHistogram, exact: ExactValueCounts | null, like: LogHistogram): LogHistogram {
    const former = this.formerBuckets.get(name);
    const from = former === undefined ? -1 : former.findIndex((buckets) => buckets.sameBuckets(sketch));
    if (former === undefined || from < 0) return movedOnto(sketch, exact, like, this.scratch);
    let moved = sketch;
    // by the same rule as the windows (not as integers: a window of integer and other panes is not
    // one of integers, and must be moved as the sum of its panes), and without the scratch, whose
    // arrays serve one move at a time
    for (let k = from + 1; k < former.length; k++) moved = movedOnto(moved, exact, former[k], undefined, false);
    return movedOnto(moved, exact, like, undefined, false);
  }

  /** Every aggregate summed again from the states held (what applying each of them gives). */
  private sumAgain(): void {
    this.scratch.reset();
    for (const byVersion of this.aggregates.values()) for (const version of byVersion.keys()) byVersion.set(version, new WindowAggregate(this.limits, this.countsArena));
    for (const window of this.allVersions.keys()) this.allVersions.set(window, new WindowAggregate(this.limits, this.countsArena));
    for (const pane of this.storedPanes()) this.apply(pane, 1);
  }

  /** Whether some window of feature `name` holds values its states list but it does not (ExactValueCounts.folded). */
  private foldedValues(name: string): boolean {
    for (const aggregate of this.allAggregates()) if ((aggregate.input.features.get(name)?.exact?.folded ?? 0) > 0) return true;
    return false;
  }

  /**
   * A window's values it could not list (past SUM_VALUES_CAP: ExactValueCounts.folded) stay in its
   * `other` for as long as panes of those values keep coming, since a pane that leaves takes its
   * values from the list first: a discrete feature that once showed many values would read part of
   * its own values as values the reference never had, for good. Once such a window lists no more
   * values than a pane may, its counts are summed again from the states it holds (their union fits
   * again: exact once more). Rare: a window's union has to pass the cap, then fall to what one
   * pane may list.
   */
  private recountFoldedValues(): void {
    // a packed partition state is unpacked once here, however many features and windows look at it
    const looked: RecountLook = { partitionInputs: null, unpacked: null };
    for (const [window, length] of this.windowMs) {
      for (const [version, aggregate] of this.aggregates.get(window) ?? []) this.recountIn(aggregate, window, length, version, looked);
      const all = this.allVersions.get(window);
      if (all !== undefined) this.recountIn(all, window, length, ALL_VERSIONS, looked);
    }
  }

  private recountIn(aggregate: WindowAggregate, window: string, length: number, version: string, looked: RecountLook): void {
    const input = aggregate.input;
    if (this.recountDue(input.outputExact, window, length)) input.outputExact = this.exactSum(input.outputExact as ExactValueCounts, window, length, version, null, looked);
    // forEach, not for-of over entries: this runs for every feature of every window at each message
    input.features.forEach((summary, feature) => {
      if (this.recountDue(summary.exact, window, length)) summary.exact = this.exactSum(summary.exact as ExactValueCounts, window, length, version, feature, looked);
    });
  }

  /**
   * Whether a window's counts per value are stuck (see `stuck`) and summing them again may list them
   * all: not while the states that made the last sum fold values are in the window. Without this, a
   * continuous feature at sparse traffic (every value new, a dozen a pane) was summed again from
   * every state each time panes leaving took its list down to a pane's, for a sum that folded as
   * much as before.
   */
  private recountDue(exact: ExactValueCounts | null, window: string, length: number): boolean {
    if (!stuck(exact)) return false;
    const through = this.sumFoldedThrough.get(exact as ExactValueCounts);
    return through === undefined || this.windowStart(window, length, this.end) > through;
  }

  /**
   * Counts per value of a feature (null: the output) over the states window `name` holds, of one
   * version or all, in place of `current`. A sum that cannot list every value remembers which
   * states stand in the way (sumFoldedThrough): while they are held, no sum of the window's states
   * lists every value. The partitions' own states (not merged yet: their lists are at hand, not
   * packed) are looked at first: when their lists alone are too many, nothing is decoded and
   * `current` stays, marked as such a sum would be (a 1m window's 96 states decoded for one feature,
   * once a minute per feature, were 6 % of a pane message's cost at sparse traffic).
   */
  private exactSum(
    current: ExactValueCounts,
    name: string,
    length: number,
    version: string,
    feature: string | null,
    looked: RecountLook,
  ): ExactValueCounts {
    const unpacked = (looked.unpacked ??= new Map());
    const partitions: StoredPane[] = [];
    for (const pane of (looked.partitionInputs ??= this.partitionPanes('in'))) {
      if (this.holds(name, length, pane.paneStart) && (version === ALL_VERSIONS || pane.version === version)) partitions.push(pane);
    }
    // a continuous feature's newest states list more than a sum may (an older partition state is
    // held packed: unpacked only while the newer ones do not say it yet)
    const through = foldedThrough(partitions, (pane) => {
      let wire = unpacked.get(pane);
      if (wire === undefined) unpacked.set(pane, (wire = wireOf(pane.state, this.reader) as PaneInputWire));
      return (feature === null ? wire.outputExact : Object.hasOwn(wire.features, feature) ? wire.features[feature].x : null)?.v ?? [];
    });
    if (through > -Infinity) {
      this.sumFoldedThrough.set(current, through);
      return current;
    }
    const sum = new ExactValueCounts(EXACT_VALUES_CAP, SUM_VALUES_CAP);
    this.recountedSums++;
    this.scratch.reset(); // the states decoded here are let go before the next message
    const summed: Array<{ paneStart: number; values: readonly number[] }> = [];
    for (const pane of this.storedPanes(looked.partitionInputs)) {
      if (pane.part !== 'in' || !this.holds(name, length, pane.paneStart) || (version !== ALL_VERSIONS && pane.version !== version)) continue;
      const input = this.decode(pane).input as PaneInput;
      const exact = feature === null ? input.outputExact : (input.features.get(feature)?.exact ?? null);
      if (exact === null) continue;
      sum.merge(exact);
      summed.push({ paneStart: pane.paneStart, values: [...exact.counts.keys()] });
    }
    if (sum.folded > 0) this.sumFoldedThrough.set(sum, foldedThrough(summed, (state) => state.values));
    return sum;
  }

  private *allAggregates(): IterableIterator<WindowAggregate> {
    for (const byVersion of this.aggregates.values()) yield* byVersion.values();
    yield* this.allVersions.values();
  }

  /** Adds (or subtracts) a pane to every window that holds it; `decoded` when the caller already has it. */
  private apply(pane: StoredPane, sign: 1 | -1, decoded: DecodedPane | null = null): void {
    for (const [name, length] of this.windowMs) {
      if (!this.holds(name, length, pane.paneStart)) continue;
      decoded ??= this.decode(pane);
      this.applyDecoded(name, pane.version, decoded, sign);
    }
  }

  /** Whether the window `name` (of `length`) holds a pane starting at `paneStart`, as it ends now. */
  private holds(name: string, length: number, paneStart: number): boolean {
    return paneStart >= this.windowStart(name, length, this.end) && paneStart < this.end;
  }

  /** New change stamps for the window's aggregate of `paneVersion` and its all-versions one. */
  private stampChanged(window: string, paneVersion: string): void {
    const stamps = this.changes.get(window) ?? new Map<string, number>();
    this.changes.set(window, stamps);
    stamps.set(paneVersion, ++this.changeClock);
    stamps.set(ALL_VERSIONS, ++this.changeClock);
  }

  private applyDecoded(window: string, paneVersion: string, pane: DecodedPane, sign: 1 | -1): void {
    this.stampChanged(window, paneVersion);
    const targets = [this.aggregate(window, paneVersion)];
    const all = this.allVersions.get(window);
    if (all !== undefined) targets.push(all);
    for (const aggregate of targets) {
      if (pane.input !== null) addInput(aggregate.input, pane.input, sign);
      if (pane.outcome !== null) addOutcome(aggregate.outcome, pane.outcome, sign);
    }
    if (all === undefined) this.keepAllVersionsIfNeeded(window);
  }

  /** applyDecoded of an earlier input state (-1) and its later one (1), by replaceInput. */
  private replaceDecoded(window: string, paneVersion: string, earlier: PaneInput, later: PaneInput, changes: ReadonlyMap<string, FeatureChange>): void {
    this.stampChanged(window, paneVersion);
    replaceInput(this.aggregate(window, paneVersion).input, earlier, later, changes);
    const all = this.allVersions.get(window);
    if (all !== undefined) replaceInput(all.input, earlier, later, changes);
    else this.keepAllVersionsIfNeeded(window);
  }

  /**
   * Starts keeping a window's all-versions aggregate once it has aggregates of two versions: the
   * sum of theirs, so it holds exactly what adding every pane to it would have.
   */
  private keepAllVersionsIfNeeded(window: string): void {
    const byVersion = this.aggregates.get(window) as Map<string, WindowAggregate>;
    if (byVersion.size < 2) return;
    const all = new WindowAggregate(this.limits, this.countsArena);
    for (const aggregate of byVersion.values()) {
      addInput(all.input, aggregate.input, 1);
      addOutcome(all.outcome, aggregate.outcome, 1);
      // what a version's window did not list of its states' values, this one does not either
      if (all.input.outputExact !== null) all.input.outputExact.folded += aggregate.input.outputExact?.folded ?? 0;
      for (const [feature, summary] of aggregate.input.features) {
        const exact = all.input.features.get(feature)?.exact;
        if (exact != null) exact.folded += summary.exact?.folded ?? 0;
      }
    }
    this.allVersions.set(window, all);
  }

  /**
   * Folds one pane message from the changelog in. The message is checked and its state decoded
   * before anything changes: a malformed one throws (PaneMessageError naming the field) and leaves
   * every window, stored pane and bound as it was, so a later valid state of the same pane applies
   * as if the bad one never came. A stored pane was decoded once already, so taking it out again
   * cannot throw.
   */
  applyMessage(message: PaneMessage): void {
    this.applyState(message);
    this.recountFoldedValues();
    if (this.countsArena.wantsCompaction(ARENA_FREE_SHARE)) this.compactArena();
  }

  /** Every window sketch's bucket arrays moved into one new slab of the model's arena (see CountsArena). */
  private compactArena(): void {
    const arena = this.countsArena;
    arena.beginCompaction();
    const move = (aggregate: WindowAggregate): void => {
      aggregate.input.outputNumeric?.moveIntoArena();
      aggregate.input.features.forEach((summary) => summary.numeric?.moveIntoArena());
    };
    for (const byVersion of this.aggregates.values()) byVersion.forEach(move);
    this.allVersions.forEach(move);
    arena.endCompaction();
    this.arenaCompactions++;
  }

  /** Compactions of the model's arena so far, and the bytes it holds (for the bench's account). */
  get arenaFigures(): { compactions: number; bytes: number; freeBytes: number } {
    return { compactions: this.arenaCompactions, bytes: this.countsArena.bytes, freeBytes: this.countsArena.freeBytes };
  }

  private applyState(message: PaneMessage): void {
    // every state decoded by the previous call is gone: its bucket arrays can be taken again
    this.scratch.reset();
    const checked = checkPaneMessage(message);
    const next: StoredPane = { version: checked.version, paneStart: checked.paneStart, part: checked.part, state: checked.state, final: checked.final };
    const paneEnd = checked.paneStart + checked.paneMs;
    // A pane older than every window and its rolling reference (a changelog replay reads hours of
    // them) changes nothing: its shape is checked above, its sketches need not be decoded. Any
    // other state is decoded in full before anything changes.
    if (checked.paneStart < this.retainedFrom(Math.max(this.end, paneEnd))) return;
    const key = `${checked.version}|${checked.paneStart}|${checked.part}`;
    if (this.sameAsHeld(key, checked)) return;
    const decoded = this.decodeState(next.part, next.state, true);
    // A partition's state is decoded again when the next one replaces it, when it leaves a window
    // and when it is folded: kept with its sketches already on the model's buckets, it is moved once.
    // Any other is held packed from the message's own bytes (a copy of the state's part, no
    // encoding) from the start, not as the codec's objects until it is older than the newest pane:
    // bench gateway --memory-only's sparse shape 73.8 -> 62.0 KB per model x feature x window, and
    // packing an older state (an encoding, at advanceTo) no longer happens for states from the changelog.
    const stateBytes = decoded.moved === null ? checked.stateBytes() : null;
    if (decoded.moved !== null) next.state = withMovedSketches(next.state as PaneInputWire, decoded.input as PaneInput, decoded.moved);

    this.learnPaneMs(checked.paneMs);
    this.versions.add(checked.version);
    if (paneEnd > this.end) this.advanceTo(paneEnd, checked.version);
    if (checked.paneStart < this.firstPaneStart && checked.part === 'in') this.firstPaneStart = checked.paneStart;
    if (this.holdsFinal(key, checked.partition, checked.version, checked.paneStart, checked.part)) {
      // a worker restored from a checkpoint republishes what it already published: the folded
      // state holds this partition's final contribution
      this.staleIgnored++;
      return;
    }
    let states = this.partitionStates.get(key);
    if (states === undefined) this.partitionStates.set(key, (states = new PaneStates(checked.version, checked.paneStart, checked.part)));
    const slot = states.slotOf(checked.partition);
    // read before the new state is held: a view of the shared bytes stays whole (PaneStates)
    const previous: StoredPane | null = slot < 0 ? null : { version: checked.version, paneStart: checked.paneStart, part: checked.part, state: states.stateAt(slot), final: states.finalAt(slot) };
    // an input state's own array, read by nothing once the replacement below is applied
    const released = previous === null ? null : ownInputArray(previous.part, previous.state, states.sharedAt(slot));
    if (stateBytes !== null) states.setBytes(checked.partition, stateBytes, checked.final, this.stateBytes);
    // held as objects: with its sketches moved, detached already (withMovedSketches); read by the
    // general decoder (no bytes noted), detached here: nothing of the message's bytes is kept
    else states.setState(checked.partition, decoded.moved === null ? detachedSketches(next.state as PaneInputWire | PaneOutcomeWire) : next.state, checked.final);
    states.changedAt = this.end;
    if (previous !== null) this.replace(previous, next, decoded);
    else this.apply(next, 1, decoded);
    if (released !== null) this.stateBytes?.give(released);
  }

  /**
   * Whether the message's state is, byte for byte, the state held for its partition and pane (not
   * final): then it changes nothing but, when final, that flag, set here without decoding either
   * state. A worker sends a pane's final state once the allowed lateness has passed, most often the
   * state it last published: replacing it by itself (two decodes, the deltas of every feature, in
   * every window) was a seventh of the messages at 16 partitions (bench pane-apply). The held
   * bytes were checked when they came.
   */
  private sameAsHeld(key: string, checked: CheckedPaneMessage): boolean {
    const stateBytes = checked.stateBytes();
    // of another pane length, it is applied (learnPaneMs) as it would be otherwise
    if (stateBytes === null || checked.paneMs !== this.paneMs) return false;
    const states = this.partitionStates.get(key);
    if (states === undefined) return false;
    const slot = states.slotOf(checked.partition);
    if (slot < 0 || states.finalAt(slot)) return false;
    const held = states.stateAt(slot);
    if (!(held instanceof Uint8Array) || !isPackedStateBytes(held, stateBytes)) return false;
    if (checked.final) states.markFinal(slot);
    this.unchangedSkipped++;
    return true;
  }

  /**
   * A partition's later state of a pane in place of its earlier one, in every window that holds the
   * pane (the same windows: they hold a pane by its start): what apply(previous, -1) then
   * apply(next, 1) give, with each feature sketch changed by its delta where the window's takes it
   * (replaceInput). A worker republishes its open pane every second with a second more of values:
   * the delta is those values' buckets, where the two states hold hundreds each.
   */
  private replace(previous: StoredPane, next: StoredPane, decodedNext: DecodedPane): void {
    let decodedPrevious: DecodedPane | null = null;
    let changes: Map<string, FeatureChange> | null = null;
    for (const [name, length] of this.windowMs) {
      if (!this.holds(name, length, next.paneStart)) continue;
      decodedPrevious ??= this.decode(previous);
      if (decodedPrevious.input === null || decodedNext.input === null) {
        this.applyDecoded(name, previous.version, decodedPrevious, -1);
        this.applyDecoded(name, next.version, decodedNext, 1);
        continue;
      }
      changes ??= featureChanges(decodedPrevious.input, decodedNext.input, this.scratch);
      this.replaceDecoded(name, next.version, decodedPrevious.input, decodedNext.input, changes);
    }
  }

  /** Moves the windows' end forward: panes that fall out of a window are subtracted from it. */
  private advanceTo(end: number, arriving: string): void {
    const oldEnd = this.end;
    this.end = end;
    if (!Number.isFinite(oldEnd)) return;
    // the arriving pane is stored after this: its version stays
    const retained = new Set<string>([arriving]);
    const starts = [...this.windowMs].map(([name, length]) => ({ name, was: this.windowStart(name, length, oldEnd), is: this.windowStart(name, length, end) }));
    const retainedFrom = this.retainedFrom(end);
    // the windows a pane starting at `paneStart` enters (1) or leaves (-1), each once
    const crossings = (paneStart: number): Array<[string, 1 | -1]> | null => {
      let crossed: Array<[string, 1 | -1]> | null = null;
      for (const { name, was, is } of starts) {
        const wasIn = paneStart >= was && paneStart < oldEnd;
        const isIn = paneStart >= is && paneStart < end;
        if (wasIn !== isIn) (crossed ??= []).push([name, isIn ? 1 : -1]);
      }
      return crossed;
    };
    let packs = 0;
    for (const [key, states] of this.partitionStates) {
      const crossed = crossings(states.paneStart);
      for (let slot = 0; crossed !== null && slot < states.size; slot++) {
        const decoded = this.decodeState(states.part, states.stateAt(slot));
        for (const [name, sign] of crossed) this.applyDecoded(name, states.version, decoded, sign);
      }
      if (states.paneStart < retainedFrom) {
        this.partitionStates.delete(key);
        continue;
      }
      retained.add(states.version);
      // a partition's state of a pane older than the newest waits for its final one (the worker
      // sends it once the allowed lateness, 60 s, or for outcomes the label horizon, 1 h, has
      // passed): held packed, as merged states are, not as the codec's object graph (at 16
      // partitions ~100 input states per model and, with labels, ~5,700 outcome states). A state
      // from the changelog is packed already (its bytes: see applyState); one given as objects,
      // or moved onto the model's buckets, is packed here
      if (states.paneStart < end - this.paneMs) states.packObjects();
      // an outcome pane no label changed for a while: deflated until it is read or changes again
      if (packs < OUTCOME_PACKS_PER_ADVANCE && states.part === 'out' && states.changedAt <= end - this.outcomePackQuietMs && states.pack()) packs++;
    }
    for (const store of [this.folded, this.coarse, this.history]) {
      for (const [key, pane] of store) {
        const crossed = crossings(pane.paneStart);
        if (crossed !== null) {
          const decoded = this.decode(pane);
          for (const [name, sign] of crossed) this.applyDecoded(name, pane.version, decoded, sign);
        }
        if (pane.paneStart < retainedFrom) store.delete(key);
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
    // down to one version: the all-versions aggregate is that version's again (its panes are all that is left in it)
    for (const [window, byVersion] of this.aggregates) if (byVersion.size < 2) this.allVersions.delete(window);
    this.fold();
    this.coarsen();
    this.toHistory();
  }

  /**
   * Whether a final state of this partition's pane is already merged in (a later one is a stale
   * republication). `key`: the pane's, `${version}|${paneStart}|${part}`.
   */
  private holdsFinal(key: string, partition: number, version: string, paneStart: number, part: 'in' | 'out'): boolean {
    if (this.folded.get(key)?.partitions?.has(partition) === true) return true;
    // no coarse or history pane holds a pane this recent (most messages: their keys are not made)
    if (this.coarseMs === 0 || paneStart >= this.coarsenedBefore) return false;
    const coarseStart = alignDown(paneStart, this.coarseMs);
    const members = this.coarse.get(`${version}|${coarseStart}|${part}`)?.members;
    if (members !== undefined && members.has(partition, (paneStart - coarseStart) / this.paneMs)) return true;
    if (this.historyMs === 0) return false;
    const historyStart = alignDown(paneStart, this.historyMs);
    const historyMembers = this.history.get(`${version}|${historyStart}|${part}`)?.members;
    return historyMembers !== undefined && historyMembers.has(partition, (paneStart - historyStart) / this.paneMs);
  }

  /**
   * Merges folded (final) states older than the fine span into their coarse pane. The windows
   * need no change: a coarse window holds all of a coarse interval's fine panes or none (its start
   * is aligned), and no fine window reaches back this far. A pane of a partition still open there
   * (late events, labels up to the horizon) stays per partition, is counted as any other, and
   * joins its coarse pane once final.
   */
  private coarsen(): void {
    if (this.coarseMs === 0) return;
    const before = alignDown(this.end - this.fineSpanMs, this.coarseMs);
    this.coarsenedBefore = Math.max(this.coarsenedBefore, before);
    const groups = groupByAlignedPane(this.folded, this.coarseMs, (pane) => pane.paneStart < before);
    const finePerCoarse = this.coarseMs / this.paneMs;
    for (const [coarseKey, members] of groups) {
      const first = members[0][1];
      const coarseStart = alignDown(first.paneStart, this.coarseMs);
      const existing = this.coarse.get(coarseKey);
      const held = existing?.members ?? new PaneMembers(finePerCoarse);
      for (const [key, pane] of members) {
        for (const partition of pane.partitions ?? []) held.add(partition, (pane.paneStart - coarseStart) / this.paneMs);
        this.folded.delete(key);
      }
      const state = this.merged(first.part, existing, members.map(([, pane]) => pane));
      this.coarse.set(coarseKey, { version: first.version, paneStart: coarseStart, part: first.part, state, final: true, members: held });
    }
  }

  /**
   * Merges coarse states lying wholly before the longest coarse window's start into their history
   * pane. No window holds them, before or after: a window's start only moves forward. A coarse
   * pane made there later (a partition's pane that closed late) joins its history pane the same way.
   */
  private toHistory(): void {
    if (this.historyMs === 0) return;
    const windowsFrom = alignDown(this.end - this.layout.longestCoarseMs, this.coarseMs);
    const groups = groupByAlignedPane(this.coarse, this.historyMs, (pane) => alignDown(pane.paneStart, this.historyMs) + this.historyMs <= windowsFrom);
    const finePerHistory = this.historyMs / this.paneMs;
    for (const [historyKey, members] of groups) {
      const first = members[0][1];
      const historyStart = alignDown(first.paneStart, this.historyMs);
      const existing = this.history.get(historyKey);
      const held = existing?.members ?? new PaneMembers(finePerHistory);
      for (const [key, pane] of members) {
        const offset = (pane.paneStart - historyStart) / this.paneMs;
        pane.members?.forEach((partition, sub) => held.add(partition, offset + sub));
        this.coarse.delete(key);
      }
      const state = this.merged(first.part, existing, members.map(([, pane]) => pane));
      this.history.set(historyKey, { version: first.version, paneStart: historyStart, part: first.part, state, final: true, members: held });
    }
  }

  /**
   * The state of `existing` (if any) plus `panes`, all of one part, packed; its sketches deflated
   * (`deflate`, for coarse and history states, held long and seldom read) or raw (a folded fine
   * state: see packPaneState).
   */
  private merged(part: 'in' | 'out', existing: StoredPane | undefined, panes: readonly StoredPane[], deflate = true): Uint8Array {
    if (part === 'in') {
      const merged = new PaneInput(this.limits);
      merged.exactSumCap = SUM_VALUES_CAP;
      const sources = [...(existing ? [existing] : []), ...panes].map((pane) => this.decode(pane).input as PaneInput);
      reserveFeatureSketches(merged, sources);
      for (const source of sources) addInput(merged, source, 1);
      this.restateExact(panes[0], sources, merged);
      return packPaneState(inputToWire(merged), deflate);
    }
    const merged = existing ? (this.decode(existing).outcome as PaneOutcome) : new PaneOutcome(this.limits);
    for (const pane of panes) addOutcome(merged, this.decode(pane).outcome as PaneOutcome, 1);
    return packPaneState(outcomeToWire(merged), deflate);
  }

  /**
   * The windows that hold `sources` (states of one pane time, or of one coarse pane: a window holds
   * all of them or none) hold their merged state from now on, and take it away whole when it
   * leaves: their counts per value are restated from the sources' to the merged state's. The
   * sums are the same; the values listed may not be (both list at most SUM_VALUES_CAP), and a
   * window must list no more of a value than the states it will take away do.
   */
  private restateExact(at: StoredPane, sources: readonly PaneInput[], merged: PaneInput): void {
    for (const [name, length] of this.windowMs) {
      if (!this.holds(name, length, at.paneStart)) continue;
      for (const aggregate of [this.aggregates.get(name)?.get(at.version), this.allVersions.get(name)]) {
        if (aggregate === undefined) continue;
        const window = aggregate.input;
        for (const [source, sign] of [...sources.map((source) => [source, -1] as const), [merged, 1] as const]) {
          if (source.outputExact !== null) window.outputExact?.[sign > 0 ? 'merge' : 'subtract'](source.outputExact);
          for (const [feature, summary] of source.features) {
            if (summary.exact !== null) window.features.get(feature)?.exact?.[sign > 0 ? 'merge' : 'subtract'](summary.exact);
          }
        }
      }
    }
  }

  /**
   * Merges per-partition states the workers marked final (their panes closed) into one state per
   * (version, pane): memory for older panes no longer grows with the partition count. The windows
   * already hold their sum, so nothing is added or subtracted.
   */
  private fold(): void {
    for (const [foldKey, states] of this.partitionStates) {
      if (!states.hasFinal()) continue;
      const members = states.takeFinal();
      if (states.size === 0) this.partitionStates.delete(foldKey);
      const { version, paneStart, part } = states;
      const existing = this.folded.get(foldKey);
      const partitions = existing?.partitions ?? new Set<number>();
      const first = members[0];
      // one partition's final state and nothing folded yet (a model on one partition, or whose
      // others sent nothing in this pane): the fold is that state itself, packed as it is (a
      // partition's state is held packed, raw, already: see applyState), copied out of the bytes
      // it shared with its pane's other states
      const state =
        existing === undefined && members.length === 1
          ? first.state instanceof Uint8Array
            ? first.shared
              ? first.state.slice()
              : first.state
            : packPaneState(first.state, false)
          : this.merged(part, existing, members.map((member) => ({ version, paneStart, part, state: member.state, final: true })), false);
      for (const member of members) partitions.add(member.partition);
      this.folded.set(foldKey, { version, paneStart, part, state, final: true, partitions });
      // merged into a state of its own: the members' own input arrays are read by nothing now
      // (decoded only to be merged), and serve later states as replaced ones do (applyState)
      if (state !== first.state) {
        for (const member of members) {
          const own = ownInputArray(part, member.state, member.shared);
          if (own !== null) this.stateBytes?.give(own);
        }
      }
    }
  }

  /** Pane states held: per partition while they may change, then folded, then merged per coarse pane, then per history pane (for metrics and tests). */
  get heldStates(): { perPartition: number; folded: number; coarse: number; history: number } {
    let perPartition = 0;
    for (const states of this.partitionStates.values()) perPartition += states.size;
    return { perPartition, folded: this.folded.size, coarse: this.coarse.size, history: this.history.size };
  }

  /** Partitions' outcome states not final yet (open until the label horizon: the memory bench). */
  get openOutcomeStates(): number {
    let open = 0;
    for (const states of this.partitionStates.values()) {
      if (states.part === 'out') for (let slot = 0; slot < states.size; slot++) if (!states.finalAt(slot)) open++;
    }
    return open;
  }

  /** Panes of open outcome states, and of those the ones held deflated while quiet (PaneStates.pack: the memory bench). */
  get outcomePanes(): { open: number; deflated: number } {
    let open = 0;
    let deflated = 0;
    for (const states of this.partitionStates.values()) {
      if (states.part !== 'out') continue;
      open++;
      if (states.packedLength > 0) deflated++;
    }
    return { open, deflated };
  }

  /**
   * Bytes of the states held, by kind: a partition's state counts its sketches' wire bytes, a
   * folded, coarse or history state its packed bytes (for the memory bench).
   */
  get heldStateBytes(): { perPartition: number; folded: number; coarse: number; history: number } {
    const bytesOf = (store: Map<string, StoredPane>): number => {
      let bytes = 0;
      for (const pane of store.values()) bytes += pane.state instanceof Uint8Array ? pane.state.byteLength : wireSketchBytes(pane.state);
      return bytes;
    };
    let perPartition = 0;
    for (const states of this.partitionStates.values()) perPartition += states.heldBytes(wireSketchBytes);
    return { perPartition, folded: bytesOf(this.folded), coarse: bytesOf(this.coarse), history: bytesOf(this.history) };
  }

  /** The coarse and history pane lengths in use (0: none) and the windows that slide over coarse panes. */
  get coarsening(): { coarseMs: number; fineSpanMs: number; historyMs: number; windows: string[] } {
    return { coarseMs: this.coarseMs, fineSpanMs: this.fineSpanMs, historyMs: this.historyMs, windows: [...this.layout.coarseWindows] };
  }

  /**
   * The aggregate of a window; `version` undefined = all versions (with one version, that
   * version's aggregate itself). Undefined for a window no pane entered, or whose versions all
   * left the retention.
   */
  get(window: string, version?: string): WindowAggregate | undefined {
    const byVersion = this.aggregates.get(window);
    if (version !== undefined || byVersion === undefined) return byVersion?.get(version as string);
    return this.allVersions.get(window) ?? (byVersion.size === 1 ? byVersion.values().next().value : undefined);
  }

  /** Window aggregates held, per version and all-versions ones kept apart (for tests and the memory bench). */
  get heldAggregates(): { perVersion: number; allVersions: number } {
    let perVersion = 0;
    for (const byVersion of this.aggregates.values()) perVersion += byVersion.size;
    return { perVersion, allVersions: this.allVersions.size };
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
    return { from: this.windowStart(window, length, this.end), to: this.end };
  }

  /** Every state held; the partitions' as records made now, or those given (with every state of the part the caller reads). */
  private *storedPanes(partitionPanes: StoredPane[] | null = null): IterableIterator<StoredPane> {
    yield* partitionPanes ?? this.partitionPanes();
    yield* this.folded.values();
    yield* this.coarse.values();
    yield* this.history.values();
  }

  /**
   * The event-time range sumRange(from, to) really holds, where coarse and history panes cut
   * [from, to): such a pane counts where it starts, so one straddling `from` is left out (the
   * range starts at its end) and one straddling `to` is taken whole (the range ends at its end).
   * A range reaching back past the retention holds only the states still there: it starts there.
   */
  coveredRange(from: number, to: number, version?: string): { from: number; to: number } {
    let coveredFrom = from;
    let coveredTo = to;
    const cut: Array<[Map<string, StoredPane>, number]> = [[this.coarse, this.coarseMs], [this.history, this.historyMs]];
    for (const [store, length] of cut) {
      for (const pane of store.values()) {
        if (version !== undefined && pane.version !== version) continue;
        const paneEnd = pane.paneStart + length;
        if (pane.paneStart < from && paneEnd > from) coveredFrom = Math.max(coveredFrom, paneEnd);
        if (pane.paneStart >= from && pane.paneStart < to) coveredTo = Math.max(coveredTo, paneEnd);
      }
    }
    if (Number.isFinite(this.end)) coveredFrom = Math.max(coveredFrom, this.retainedFrom(this.end));
    return { from: Math.min(coveredFrom, coveredTo), to: coveredTo };
  }

  /**
   * Sum of the panes in [from, to) for one version key: for capturing a reference from history.
   * Older history is held in coarse and history panes, so the sum can reach up to one of them past
   * `to` and start up to one after `from`: it is the sum of every state starting in the range
   * coveredRange says it holds (a partition's pane still open inside a coarse pane left out at
   * `from` is left out too, one inside a pane taken whole at `to` is taken).
   */
  sumRange(from: number, to: number, version?: string): WindowAggregate {
    this.scratch.reset();
    const aggregate = new WindowAggregate(this.limits);
    const covered = this.coveredRange(from, to, version);
    for (const pane of this.storedPanes()) {
      if (pane.paneStart < covered.from || pane.paneStart >= covered.to) continue;
      if (version !== undefined && pane.version !== version) continue;
      const decoded = this.decode(pane);
      if (decoded.input !== null) addInput(aggregate.input, decoded.input, 1);
      if (decoded.outcome !== null) addOutcome(aggregate.outcome, decoded.outcome, 1);
    }
    return aggregate;
  }
}

/**
 * Bucket changes of a feature (references published with other centers) through which states held
 * since are moved step by step; beyond, the windows are summed again from their states.
 */
const MAX_FORMER_BUCKETS = 4;

/** Whether two sketches have the settings that let one's buckets hold the other's values alike. */
function sameSettings(a: LogHistogram, b: LogHistogram): boolean {
  return a.relativeAccuracy === b.relativeAccuracy && a.minIndexable === b.minIndexable && a.maxBuckets === b.maxBuckets;
}

/**
 * The panes of `panes` that `take` selects, by the pane of `alignMs` they fall in (key
 * `version|alignedStart|part`, as the coarse and history maps are keyed), with their own keys.
 */
function groupByAlignedPane(panes: ReadonlyMap<string, StoredPane>, alignMs: number, take: (pane: StoredPane) => boolean): Map<string, Array<[string, StoredPane]>> {
  const groups = new Map<string, Array<[string, StoredPane]>>();
  for (const [key, pane] of panes) {
    if (!take(pane)) continue;
    const groupKey = `${pane.version}|${alignDown(pane.paneStart, alignMs)}|${pane.part}`;
    let group = groups.get(groupKey);
    if (group === undefined) groups.set(groupKey, (group = []));
    group.push([key, pane]);
  }
  return groups;
}
