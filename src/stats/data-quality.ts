/**
 * Data-quality statistics of one feature in one window against the reference: pure functions of
 * counts, so the gateway computes them from what a window already holds (src/window/data-quality.ts
 * reads the window's summaries; nothing here touches a sketch or a pane).
 */

/** `part / whole`, or null when there is nothing to take a share of; clamped into [0, 1] (sums of panes can leave float residue). */
export function shareOf(part: number, whole: number): number | null {
  if (!(whole > 0)) return null;
  const share = part / whole;
  return share <= 0 ? 0 : share >= 1 ? 1 : share;
}

/**
 * Share of events without a value of a feature: `events` predictions, `present` of them carried a
 * non-null value (absent and null both count as missing). Null when there is no event.
 */
export function missingShare(events: number, present: number): number | null {
  if (!(events > 0)) return null;
  return shareOf(events - present, events);
}

/** The category key the counters fold categories beyond their cap into (CategoryCounter's OTHER_CATEGORY). */
export const FOLDED_CATEGORY = '__other__';

/** Most new categories named in a result (the share counts them all). */
export const MAX_NEW_CATEGORIES_LISTED = 10;

export interface CategoryNovelty {
  /** Categorical values of the window: the denominator of both shares. */
  values: number;
  /** Share of the window's categorical values whose category the reference certainly never held. */
  newShare: number | null;
  /**
   * Share that cannot be told apart because of the category cap: the window's folded values (its
   * `__other__`), and, when the reference folded some of its own, window categories the reference
   * did not name (they may be among the reference's folded ones).
   */
  unknownShare: number | null;
  /** The heaviest new categories (at most MAX_NEW_CATEGORIES_LISTED), heaviest first, ties by name. */
  newCategories: string[];
}

/**
 * Which of a window's categories the reference never saw. `window`: [category, count] pairs of the
 * window (the folded `__other__` included); `reference`: the reference's count per category (its
 * folded `__other__` included when it had more categories than its cap). A category is new only
 * when the reference names every category it saw (no folded weight): otherwise an unnamed window
 * category is counted as unknown, never as new, so a cap cannot raise a false new-category alarm.
 */
export function categoryNovelty(window: Iterable<readonly [string, number]>, reference: ReadonlyMap<string, number>): CategoryNovelty {
  const referenceFolded = (reference.get(FOLDED_CATEGORY) ?? 0) > 0;
  let values = 0;
  let fresh = 0;
  let unknown = 0;
  const named: Array<[string, number]> = [];
  for (const [category, count] of window) {
    if (!(count > 0)) continue;
    values += count;
    if (category === FOLDED_CATEGORY) unknown += count;
    else if ((reference.get(category) ?? 0) > 0) continue;
    else if (referenceFolded) unknown += count;
    else {
      fresh += count;
      named.push([category, count]);
    }
  }
  named.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return {
    values,
    newShare: shareOf(fresh, values),
    unknownShare: shareOf(unknown, values),
    newCategories: named.slice(0, MAX_NEW_CATEGORIES_LISTED).map(([category]) => category),
  };
}

/**
 * Probability that a window of `events` predictions holds no value of a feature the reference had
 * in a share `referencePresent` of its events, if nothing changed: (1 - p)^n. The reference share
 * is an estimate, so a feature present in every reference row is taken as present in
 * `referenceRows / (referenceRows + 1)` of them (Laplace's rule of succession), which keeps one
 * window event without it from being impossible.
 */
export function absenceProbability(referencePresent: number, referenceRows: number, events: number): number {
  if (!(events > 0)) return 1;
  if (!(referenceRows > 0) || !(referencePresent > 0)) return 1;
  const present = Math.min(referencePresent, referenceRows / (referenceRows + 1));
  return Math.pow(1 - present, events);
}

/**
 * A feature of the reference is vanished from a window that holds none of its values when seeing
 * none would have had at most this probability had nothing changed (absenceProbability): a rare
 * feature is not called vanished from a short window that simply happened to miss it.
 */
export const VANISHED_PROBABILITY = 1e-6;

/** Whether a reference feature with no value in a window of `events` predictions has vanished (see VANISHED_PROBABILITY). */
export function hasVanished(referencePresent: number, referenceRows: number, events: number, windowValues: number): boolean {
  return windowValues === 0 && absenceProbability(referencePresent, referenceRows, events) <= VANISHED_PROBABILITY;
}
