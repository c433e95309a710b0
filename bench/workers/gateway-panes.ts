/**
 * The gateway bench's traffic, shared by the bench and its publisher thread: each model's current
 * pane folded by the real pane code (PaneInput, as a worker's processor does) from a deterministic
 * stream of heavy-tailed feature values.
 */
import { DEFAULT_PANE_LIMITS, PaneInput, inputToWire } from '../../src/window/pane.ts';
import type { PaneMessage } from '../../src/contract/pane-wire.ts';
import { sparseHeld } from '../../src/partition/processor.ts';
import type { PublishedPane, SparseHold } from '../../src/partition/processor.ts';

export const FEATURES = 30;
export const PANE_MS = 10_000;
export const FLUSH_MS = 1000;

/** A deterministic value stream: feature f is spread around its own centre, with a Cauchy tail. */
export function featureValue(f: number, i: number): number {
  const u = ((i * 2654435761 + f * 97) >>> 0) / 4294967296;
  return 10 * f + 5 * Math.tan(Math.PI * (u - 0.5)) * 0.2;
}

/** Adds `events` predictions (offsets `offset`..) with FEATURES numeric features each to `pane`. */
export function fill(pane: PaneInput, events: number, offset: number): void {
  for (let e = 0; e < events; e++) {
    const i = offset + e;
    pane.addPrediction(featureValue(99, i) > 990 ? 1 : 0, (i % 100) / 100, 0.5, 20 + (i % 50), false, undefined);
    for (let f = 0; f < FEATURES; f++) pane.addFeature(`f${f}`, featureValue(f, i));
  }
}

/** The environment variable a forked publisher (gateway-publisher.ts) reads its PublisherInit from, as JSON. */
export const PUBLISHER_INIT_ENV = 'DRIFTWATCH_BENCH_PUBLISHER';

/** A pane message one flush of PartitionedPanes makes, with the model's index. */
export interface FlushedPane {
  model: number;
  message: PaneMessage;
}

/**
 * The bench's models' panes as workers hold them: each model's events spread evenly over
 * `partitions`, each with an open pane of its own. A flush sends, per partition, a closed pane's
 * final state first, then the open pane's state, unless it got no event or `hold` lets it wait
 * (SparseHold, as a worker holds a pane of few new events).
 */
export class PartitionedPanes {
  private readonly panes: Array<Array<{ start: number; pane: PaneInput; seq: number; published: PublishedPane | undefined }>>;
  private offset = 0;

  constructor(
    private readonly names: readonly string[],
    partitions: number,
    /** Per model, the feature centers its panes share (null: each pane on its own first values). */
    private readonly centers: ReadonlyArray<Map<string, number> | null>,
    private readonly hold: SparseHold,
  ) {
    this.panes = names.map(() => Array.from({ length: partitions }, () => ({ start: -1, pane: new PaneInput(DEFAULT_PANE_LIMITS), seq: 0, published: undefined })));
  }

  /** `events` more events per model at `now`, and the pane messages that flush sends. */
  flush(now: number, events: number): FlushedPane[] {
    const paneStart = now - (now % PANE_MS);
    const out: FlushedPane[] = [];
    for (let m = 0; m < this.names.length; m++) {
      const partitions = this.panes[m].length;
      for (let partition = 0; partition < partitions; partition++) {
        const current = this.panes[m][partition];
        const message = (start: number, final: boolean): PaneMessage => ({ model: this.names[m], version: 'v1', partition, paneStart: start, paneMs: PANE_MS, part: 'in', seq: current.seq++, state: inputToWire(current.pane), final });
        if (current.start !== paneStart) {
          if (current.start >= 0) out.push({ model: m, message: message(current.start, true) });
          current.start = paneStart;
          current.pane = new PaneInput(DEFAULT_PANE_LIMITS, this.centers[m]);
          current.published = undefined;
        }
        const share = Math.floor(events / partitions) + (partition < events % partitions ? 1 : 0);
        if (share === 0) continue;
        fill(current.pane, share, this.offset);
        this.offset += share;
        if (sparseHeld(current.published, current.pane, this.hold, now)) continue;
        current.published = { count: current.pane.count, errors: current.pane.errors, at: now };
        out.push({ model: m, message: message(paneStart, false) });
      }
    }
    return out;
  }
}
