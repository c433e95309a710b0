/**
 * How a model's pane states are kept by age: fine panes (the workers' own, e.g. 10 s) for the
 * recent span the short windows and their rolling references read, and coarse panes (e.g. 1 min,
 * the merge of the final states of their fine panes) for the older part only long windows read.
 * Memory per model x feature is then bounded by fineSpan / paneMs + retention / coarseMs sketches
 * instead of retention / paneMs (720 at 10 s panes and a 1h window kept twice).
 *
 * Exactness: a long window's start is aligned down on a coarse boundary, so every fine pane of a
 * coarse interval is in a given window exactly when the coarse pane is: folding them changes no
 * window, and a window's counts are exactly those of the range bounds() states. The long window
 * thus covers its length plus up to one coarse pane less one fine pane (a 1h window over 60 s
 * coarse panes and 10 s fine panes covers 60:00 to 60:50 and slides by a minute). Aligning down
 * rather than up means a window never holds less than its length: a 1h figure always sees an hour.
 *
 * The older half of the retention (before the longest coarse window's start: the 1h window's
 * rolling reference, history for captures) is read by no window, only summed as a range. There
 * coarse panes are folded once more, into history panes (e.g. 5 min) once a history pane lies
 * wholly before that start, which only moves forward: no window ever holds part of one. A range
 * summed from there counts a history pane where it starts, as any coarse pane, so the 1h window's
 * rolling reference covers its length less up to one history pane (55 to 60 min at 5 min), and
 * says so (ModelWindows.coveredRange).
 */

/** Coarse pane length the gateway uses unless told otherwise: a 1h window slides by a minute. */
export const DEFAULT_COARSE_PANE_MS = 60_000;
/**
 * A window is kept on coarse panes only when it spans at least this many of them, so that it
 * slides in steps of at most 1/30 of its length (1h over 1 min: yes; 5m over 1 min: no, it stays
 * on fine panes and slides by one fine pane).
 */
export const COARSE_WINDOW_MIN_PANES = 30;
/** History pane length the gateway uses unless told otherwise: the 1h rolling reference slides by 5 minutes. */
export const DEFAULT_HISTORY_PANE_MS = 300_000;

export interface PaneLayout {
  /** Coarse pane length in ms; 0 when no window is long enough (nothing is folded coarser). */
  readonly coarseMs: number;
  /** Windows whose start is aligned on coarse panes. */
  readonly coarseWindows: ReadonlySet<string>;
  /**
   * Fine panes younger than this (from the windows' end, rounded to coarse panes) are kept as
   * they are: twice the longest fine window, so it and its rolling reference are exact.
   */
  readonly fineSpanMs: number;
  /** Pane states are kept this long behind the windows' end: twice the longest window (the window and its rolling reference). */
  readonly retentionMs: number;
  /** History pane length in ms (coarse panes before the longest coarse window are folded into these); 0: none. */
  readonly historyMs: number;
  /** The longest coarse window's length: history panes lie wholly before its start. */
  readonly longestCoarseMs: number;
}

/**
 * The layout for `windows` (name -> length ms), a wished coarse pane length (0: never fold) and a
 * wished history pane length (0, or not longer than a coarse pane: no history panes). Throws for
 * a length that is not a whole number of ms >= 0, naming it.
 */
export function paneLayout(windows: ReadonlyMap<string, number>, coarseMs: number, historyMs = 0): PaneLayout {
  if (!(Number.isInteger(coarseMs) && coarseMs >= 0)) throw new RangeError(`coarse pane length must be a whole number of ms >= 0 (0: no coarse panes), got ${coarseMs}`);
  if (!(Number.isInteger(historyMs) && historyMs >= 0)) throw new RangeError(`history pane length must be a whole number of ms >= 0 (0: no history panes), got ${historyMs}`);
  const retentionMs = 2 * Math.max(...windows.values());
  const coarseWindows = new Set<string>();
  let longestFine = 0;
  let longestCoarseMs = 0;
  for (const [name, length] of windows) {
    if (coarseMs > 0 && length >= COARSE_WINDOW_MIN_PANES * coarseMs) {
      coarseWindows.add(name);
      longestCoarseMs = Math.max(longestCoarseMs, length);
    } else longestFine = Math.max(longestFine, length);
  }
  if (coarseWindows.size === 0) return { coarseMs: 0, coarseWindows, fineSpanMs: retentionMs, retentionMs, historyMs: 0, longestCoarseMs: 0 };
  return {
    coarseMs,
    coarseWindows,
    fineSpanMs: Math.max(coarseMs, Math.ceil((2 * longestFine) / coarseMs) * coarseMs),
    retentionMs,
    historyMs: historyMs > coarseMs ? historyMs : 0,
    longestCoarseMs,
  };
}

/** The largest multiple of `step` at or below `t` (also for negative t). */
export function alignDown(t: number, step: number): number {
  return t - (((t % step) + step) % step);
}

/**
 * Which (partition, fine pane) final states a coarse pane holds, one bit each: a later state of
 * one of them is a stale republication (a worker restored from a checkpoint) and must not count
 * again. Bits, not a Set of keys, since a coarse pane of 6 fine panes over 256 partitions would
 * otherwise hold 1,536 entries.
 */
export class PaneMembers {
  private bits = new Uint8Array(0);

  constructor(private readonly finePerCoarse: number) {}

  private indexOf(partition: number, sub: number): number {
    if (!(Number.isInteger(partition) && partition >= 0 && sub >= 0 && sub < this.finePerCoarse)) {
      throw new RangeError(`pane member out of range: partition ${partition}, fine pane ${sub} of ${this.finePerCoarse}`);
    }
    return partition * this.finePerCoarse + sub;
  }

  add(partition: number, sub: number): void {
    const index = this.indexOf(partition, sub);
    const byte = index >> 3;
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(byte + 1, 2 * this.bits.length));
      grown.set(this.bits);
      this.bits = grown;
    }
    this.bits[byte] |= 1 << (index & 7);
  }

  /** Visits every (partition, fine pane) held. */
  forEach(visit: (partition: number, sub: number) => void): void {
    for (let byte = 0; byte < this.bits.length; byte++) {
      if (this.bits[byte] === 0) continue;
      for (let bit = 0; bit < 8; bit++) {
        if ((this.bits[byte] & (1 << bit)) === 0) continue;
        const index = 8 * byte + bit;
        visit(Math.floor(index / this.finePerCoarse), index % this.finePerCoarse);
      }
    }
  }

  has(partition: number, sub: number): boolean {
    const index = this.indexOf(partition, sub);
    const byte = index >> 3;
    return byte < this.bits.length && (this.bits[byte] & (1 << (index & 7))) !== 0;
  }
}

/** The coarse grid of a layout on fine panes of a given length: what a gateway folds into. */
export interface CoarseGrid {
  /** The coarse pane length on whole fine panes (the layout's, rounded up); 0: no coarse panes. */
  readonly coarseMs: number;
  /** Fine panes younger than this (from the windows' end, rounded to coarse panes) are kept as they are. */
  readonly fineSpanMs: number;
}

/** The layout's coarse panes on whole fine panes of `paneMs`, so coarse boundaries are fine boundaries. */
export function coarseGridOf(layout: PaneLayout, paneMs: number): CoarseGrid {
  if (layout.coarseMs === 0) return { coarseMs: 0, fineSpanMs: layout.fineSpanMs };
  const coarseMs = paneMs * Math.ceil(layout.coarseMs / paneMs);
  return { coarseMs, fineSpanMs: Math.ceil(layout.fineSpanMs / coarseMs) * coarseMs };
}

/**
 * The outcome pane a worker counts a label (or an expired prediction) in: its prediction's pane,
 * or, once that pane's whole coarse interval lies past the fine span behind `modelTime` (the model
 * version's newest event), the interval's first fine pane. No window of a gateway built on the
 * same windows tells the two apart: fine windows and their rolling references end within the fine
 * span, and a coarse window (aligned on coarse panes) holds all of an interval's fine panes or
 * none. A ranged sum (a reference captured from history) counts a coarse pane where it starts, as
 * the input states there. What it saves: an outcome pane is open for the label horizon (1 h) after
 * it ends, and a gateway holds each open one per partition; past the fine span, one per coarse
 * interval instead of one per fine pane (16 partitions, 10 s panes, 1 min coarse panes, 1 h horizon:
 * 1,760 open states per model instead of 5,760). Deterministic under replay: `modelTime` comes
 * from the partition's own stream. `grid` null: the prediction's pane.
 */
export function outcomePaneStartOf(paneStart: number, modelTime: number, grid: CoarseGrid | null): number {
  if (grid === null || grid.coarseMs === 0) return paneStart;
  const coarseStart = alignDown(paneStart, grid.coarseMs);
  return coarseStart + grid.coarseMs <= modelTime - grid.fineSpanMs ? coarseStart : paneStart;
}

/**
 * Whether an outcome pane can change no more: labels for its predictions now go to its coarse
 * interval's first pane (outcomePaneStartOf, `modelTime` only grows), or the label horizon has
 * passed the last prediction it may count (`eventTime`: the partition's judge of lateness). A
 * coarse interval's first fine pane may count the whole interval's, so it stays open as long as
 * the last. `grid` null: every pane open for the label horizon after it ends.
 */
export function outcomePaneClosed(paneStart: number, paneMs: number, labelHorizonMs: number, modelTime: number, eventTime: number, grid: CoarseGrid | null): boolean {
  if (grid === null || grid.coarseMs === 0) return paneStart + paneMs + labelHorizonMs < eventTime;
  if (outcomePaneStartOf(paneStart, modelTime, grid) !== paneStart) return true;
  const paneEnd = alignDown(paneStart, grid.coarseMs) === paneStart ? paneStart + grid.coarseMs : paneStart + paneMs;
  return paneEnd + labelHorizonMs < eventTime;
}
