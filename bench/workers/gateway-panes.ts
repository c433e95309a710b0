/**
 * The gateway bench's traffic, shared by the bench and its publisher thread: each model's current
 * pane folded by the real pane code (PaneInput, as a worker's processor does) from a deterministic
 * stream of heavy-tailed feature values.
 */
import { DEFAULT_PANE_LIMITS, PaneInput, PaneOutcome, inputToWire, outcomeToWire } from '../../src/window/pane.ts';
import type { PaneInputWire, PaneMessage } from '../../src/contract/pane-wire.ts';
import { outcomeHeld, sparseHeld } from '../../src/partition/processor.ts';
import { partitionOf } from '../../src/partition/hash.ts';
import type { PublishedPane, SparseHold } from '../../src/partition/processor.ts';
import { outcomePaneClosed, outcomePaneStartOf } from '../../src/window/coarse-panes.ts';
import type { CoarseGrid } from '../../src/window/coarse-panes.ts';

export const FEATURES = 30;
export const PANE_MS = 10_000;
export const FLUSH_MS = 1000;

/** A deterministic value stream: feature f is spread around its own centre, with a Cauchy tail. */
export function featureValue(f: number, i: number): number {
  const u = ((i * 2654435761 + f * 97) >>> 0) / 4294967296;
  return 10 * f + 5 * Math.tan(Math.PI * (u - 0.5)) * 0.2;
}

/** Event i's score (its output: a binary classifier's). */
export function scoreOf(i: number): number {
  return (i % 100) / 100;
}

/** Event i's label: the thresholded score, wrong for about one event in seven. */
export function labelOf(i: number): number {
  const predicted = scoreOf(i) >= 0.5 ? 1 : 0;
  return ((i * 2246822519) >>> 0) % 7 === 0 ? 1 - predicted : predicted;
}

/** Adds `events` predictions (offsets `offset`..) with FEATURES numeric features each to `pane`. */
export function fill(pane: PaneInput, events: number, offset: number): void {
  for (let e = 0; e < events; e++) {
    const i = offset + e;
    pane.addPrediction(featureValue(99, i) > 990 ? 1 : 0, scoreOf(i), 0.5, 20 + (i % 50), false, undefined);
    for (let f = 0; f < FEATURES; f++) pane.addFeature(`f${f}`, featureValue(f, i));
  }
}

/** The environment variable a forked publisher (gateway-publisher.ts) reads its PublisherInit from, as JSON. */
export const PUBLISHER_INIT_ENV = 'DRIFTWATCH_BENCH_PUBLISHER';

/** How PartitionedPanes spreads a model's events over its partitions (see its `spread`). */
export type PartitionSpread = 'even' | 'hash';

/** A pane message one flush of PartitionedPanes makes, with the model's index. */
export interface FlushedPane {
  model: number;
  message: PaneMessage;
  /**
   * When the oldest event this state carries that no earlier state of its pane did arrived (ms);
   * undefined for a final state. Events of a flush arrive over the interval before it, so the
   * oldest is taken as arriving one interval earlier: with the hold, what the worker adds to a
   * figure's age before the gateway has the state.
   */
  oldestEventAt?: number;
}

/**
 * Ground truth for the bench's predictions, as a labeling system sends it: every prediction gets
 * a label, `maxDelayMs` at most after it (spread evenly), joined to its prediction's pane in its
 * partition, as a worker joins it (PaneOutcome.addJoined). A worker keeps an outcome pane open
 * for its label horizon after the pane ends (join.labelHorizonMs), then publishes it final.
 */
export interface LabelShape {
  maxDelayMs: number;
  horizonMs: number;
  /**
   * The coarse grid a worker counts late labels on (ProcessorOptions.outcomeGrid: outcomePaneStartOf,
   * outcomePaneClosed); absent: each label in its prediction's pane, open for the horizon.
   */
  grid?: CoarseGrid;
}

interface OpenOutcome {
  pane: PaneOutcome;
  dirty: boolean;
}

/** An input pane of a partition, with what its last publication held (SparseHold). */
interface OpenInput {
  start: number;
  pane: PaneInput;
  /**
   * An ended pane whose events are all published: its state as published, kept for its final
   * message in place of the pane (then an empty one). Held for the allowed lateness, a partition's
   * ended panes as objects were most of the publisher's heap (300 models x 16 partitions: ~40,000
   * panes of 30 sketches) and of its collection, which then ran short of a core.
   */
  finalState?: PaneInputWire;
  published: PublishedPane | undefined;
  /** When the oldest of its events not published yet arrived (see FlushedPane.oldestEventAt). */
  waitingSince?: number;
}

interface PartitionPanes {
  /** The newest input pane (start -1: none yet). */
  current: OpenInput;
  /** Input panes that have ended, oldest first, until their final state (after the allowed lateness). */
  ended: OpenInput[];
  seq: number;
  /** Outcome panes by start, oldest first (labels only). */
  outcomes: Map<number, OpenOutcome>;
  /** Changed outcome panes waiting (SparseHold.outcomeMs), since when. */
  outcomesHeldSince: Map<number, number>;
}

/**
 * The bench's models' panes as workers hold them: each model's events spread over `partitions`
 * (`spread`), each with an open pane of its own. A flush sends, per partition, each pane changed
 * since its last publication (its first state at once; later ones unless `hold` lets them wait:
 * SparseHold, as a worker holds a pane of few new events), and each pane past the allowed lateness
 * (`latenessMs`, panes.allowedLatenessMs) its final state, as a worker's drainDirty does; with
 * `labels`, then each outcome pane changed by the labels come since the last flush, and each past
 * its horizon, final.
 */
export class PartitionedPanes {
  private readonly panes: PartitionPanes[][];
  /** Per model, labels to come by the flush (its event time) they arrive at: [partition, paneStart, event, predictedAt]... */
  private readonly pendingLabels: Array<Map<number, number[]>>;
  private offset = 0;
  /** What an ended pane kept as its final state holds in place of its pane (OpenInput.finalState): nothing, never changed. */
  private readonly spentPane = new PaneInput(DEFAULT_PANE_LIMITS);

  constructor(
    private readonly names: readonly string[],
    partitions: number,
    /** Per model, the feature centers its panes share (null: each pane on its own first values). */
    private readonly centers: ReadonlyArray<Map<string, number> | null>,
    private readonly hold: SparseHold,
    private readonly labels: LabelShape | null = null,
    /** How long after a pane ends its final state is sent (0: at the first flush after it ends). */
    private readonly latenessMs = 60_000,
    /**
     * How a model's events of a flush are spread over its partitions: 'even' (as many to each,
     * the first partitions one more), or 'hash' (each event's id hashed, as a publisher routes it:
     * FNV-1a of the id mod P, so a partition gets 0 to a few events a second at sparse traffic,
     * and its panes reach their hold at their own times). With 'even', every partition gets events
     * at every flush and holds them for as long: all publish in step.
     */
    private readonly spread: PartitionSpread = 'even',
  ) {
    this.panes = names.map(() =>
      Array.from({ length: partitions }, () => ({
        current: { start: -1, pane: new PaneInput(DEFAULT_PANE_LIMITS), published: undefined },
        ended: [],
        seq: 0,
        outcomes: new Map<number, OpenOutcome>(),
        outcomesHeldSince: new Map<number, number>(),
      })),
    );
    this.pendingLabels = names.map(() => new Map());
  }

  /** Labels still to come, over all models. */
  get labelsPending(): number {
    let n = 0;
    for (const byArrival of this.pendingLabels) for (const list of byArrival.values()) n += list.length / 4;
    return n;
  }

  /** `events` more events per model at `now`, and the pane messages that flush sends. */
  flush(now: number, events: number): FlushedPane[] {
    const paneStart = now - (now % PANE_MS);
    const out: FlushedPane[] = [];
    for (let m = 0; m < this.names.length; m++) {
      const partitions = this.panes[m].length;
      if (this.labels !== null) this.joinArrived(m, now);
      const shares = this.sharesOf(m, events, partitions);
      for (let partition = 0; partition < partitions; partition++) {
        const held = this.panes[m][partition];
        const message = (input: OpenInput, final: boolean): PaneMessage => ({ model: this.names[m], version: 'v1', partition, paneStart: input.start, paneMs: PANE_MS, part: 'in', seq: held.seq++, state: input.finalState ?? inputToWire(input.pane), final });
        if (held.current.start !== paneStart) {
          if (held.current.pane.count > 0) held.ended.push(held.current);
          held.current = { start: paneStart, pane: new PaneInput(DEFAULT_PANE_LIMITS, this.centers[m]), published: undefined };
        }
        const share = shares[partition];
        if (share > 0) {
          fill(held.current.pane, share, this.offset);
          held.current.waitingSince ??= now - FLUSH_MS;
          if (this.labels !== null) this.expectLabels(m, partition, paneStart, now, share);
          this.offset += share;
        }
        // ended panes first, oldest first, then the newest, as a worker's groups list them
        while (held.ended.length > 0 && held.ended[0].start + PANE_MS + this.latenessMs <= now) {
          out.push({ model: m, message: message(held.ended.shift() as OpenInput, true) });
        }
        for (const input of [...held.ended, held.current]) {
          if (input.pane.count === 0 || input.published?.count === input.pane.count) continue;
          if (sparseHeld(input.published, input.pane, this.hold, now)) continue;
          input.published = { count: input.pane.count, errors: input.pane.errors, at: now };
          out.push({ model: m, message: message(input, false), oldestEventAt: input.waitingSince });
          input.waitingSince = undefined;
        }
        for (const input of held.ended) {
          if (input.finalState !== undefined || input.published?.count !== input.pane.count) continue;
          input.finalState = inputToWire(input.pane);
          input.pane = this.spentPane;
        }
        if (this.labels !== null) this.flushOutcomes(m, partition, held, now, out);
      }
    }
    return out;
  }

  /** How many of a flush's `events` of model `m` each partition gets (see `spread`). */
  private sharesOf(m: number, events: number, partitions: number): number[] {
    if (this.spread === 'even') return Array.from({ length: partitions }, (_, partition) => Math.floor(events / partitions) + (partition < events % partitions ? 1 : 0));
    const shares = new Array<number>(partitions).fill(0);
    for (let e = 0; e < events; e++) shares[partitionOf(`${this.names[m]}-${this.offset + e}`, partitions)]++;
    return shares;
  }

  /** Schedules the labels of events offset..offset+count, predicted at `now` in `partition`'s pane. */
  private expectLabels(m: number, partition: number, paneStart: number, now: number, count: number): void {
    const maxDelayMs = (this.labels as LabelShape).maxDelayMs;
    const byArrival = this.pendingLabels[m];
    for (let e = 0; e < count; e++) {
      const i = this.offset + e;
      const delay = (((i * 2654435761) >>> 0) / 4294967296) * maxDelayMs;
      // labels arrive between flushes: joined at the first flush at or after their arrival
      const arrival = now + Math.ceil(delay / FLUSH_MS) * FLUSH_MS;
      let list = byArrival.get(arrival);
      if (list === undefined) byArrival.set(arrival, (list = []));
      list.push(partition, paneStart, i, now);
    }
  }

  /** Joins the labels arriving by `now` to their outcome panes. */
  private joinArrived(m: number, now: number): void {
    const byArrival = this.pendingLabels[m];
    for (const [arrival, list] of byArrival) {
      if (arrival > now) continue;
      for (let k = 0; k < list.length; k += 4) {
        const outcomes = this.panes[m][list[k]].outcomes;
        const start = outcomePaneStartOf(list[k + 1], now, this.labels?.grid ?? null);
        const i = list[k + 2];
        let open = outcomes.get(start);
        if (open === undefined) outcomes.set(start, (open = { pane: new PaneOutcome(DEFAULT_PANE_LIMITS), dirty: false }));
        open.pane.addJoined(scoreOf(i), labelOf(i), 0.5, now - list[k + 3], false, null);
        open.dirty = true;
      }
      byArrival.delete(arrival);
    }
  }

  /** A partition's changed outcome panes, and those past the horizon (final, then forgotten). */
  private flushOutcomes(m: number, partition: number, current: PartitionPanes, now: number, out: FlushedPane[]): void {
    const { horizonMs, grid } = this.labels as LabelShape;
    for (const [start, open] of current.outcomes) {
      const final = outcomePaneClosed(start, PANE_MS, horizonMs, now, now, grid ?? null);
      if (!final && !open.dirty) continue;
      // as a worker holds a changed outcome pane (SparseHold.outcomeMs; no detector runs here)
      if (!final && outcomeHeld(current.outcomesHeldSince, start, this.hold, now)) continue;
      current.outcomesHeldSince.delete(start);
      open.dirty = false;
      out.push({ model: m, message: { model: this.names[m], version: 'v1', partition, paneStart: start, paneMs: PANE_MS, part: 'out', seq: current.seq++, state: outcomeToWire(open.pane), final } });
      if (final) current.outcomes.delete(start);
    }
  }
}
