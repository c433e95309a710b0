/**
 * Weight per category string, with at most `maxCategories` distinct categories kept: once the
 * cap is reached, weight for a new category goes to the reserved key '__other__' (so memory is
 * bounded by configuration, never by traffic). Additive: merge adds, subtract removes.
 *
 * Merging two counters that are each within the cap can exceed it: then the `maxCategories`
 * heaviest categories (ties broken by name) are kept and the rest are folded into '__other__'.
 * So which categories survive depends on the order of merges (merge is not exactly associative
 * in its keys), but every total is preserved: total, and total minus '__other__' split over
 * the kept keys, always add up. Subtracting a category that has been folded takes its weight
 * from '__other__', so subtract(merge(a, b), b) restores a's total exactly, and its keys too
 * unless a merge folded some of them.
 *
 * Serialized with toJSON()/fromJSON() as a plain object {cap, keys, counts} (keys in insertion
 * order, '__other__' last when non-zero), which round-trips exactly through JSON or msgpack.
 */

export const OTHER_CATEGORY = '__other__';
const DEFAULT_MAX_CATEGORIES = 50;
const RESIDUE_FRACTION = 1e-12;

export interface CategoryCounterJSON {
  cap: number;
  keys: string[];
  counts: number[];
}

export class CategoryCounter {
  readonly maxCategories: number;
  private readonly weights = new Map<string, number>();
  private otherWeight = 0;
  private totalWeight = 0;

  constructor(maxCategories = DEFAULT_MAX_CATEGORIES) {
    if (!Number.isInteger(maxCategories) || maxCategories < 1) {
      throw new RangeError(`CategoryCounter: maxCategories must be a positive integer, got ${String(maxCategories)}`);
    }
    this.maxCategories = maxCategories;
  }

  /** Total weight, '__other__' included. */
  get total(): number {
    return this.totalWeight;
  }

  /** Number of distinct categories kept, '__other__' not included. */
  get size(): number {
    return this.weights.size;
  }

  /** Weight of '__other__': categories beyond the cap. */
  get otherCount(): number {
    return this.otherWeight;
  }

  add(category: string, weight = 1): void {
    if (!(weight > 0 && weight < Infinity)) {
      throw new RangeError(`CategoryCounter.add: weight must be a positive finite number, got ${String(weight)}`);
    }
    const current = this.weights.get(category);
    if (current !== undefined) this.weights.set(category, current + weight);
    else if (this.weights.size < this.maxCategories && category !== OTHER_CATEGORY) this.weights.set(category, weight);
    else this.otherWeight += weight;
    this.totalWeight += weight;
  }

  /** Weight of a category ('__other__' gives the folded weight); 0 when absent. */
  get(category: string): number {
    if (category === OTHER_CATEGORY) return this.otherWeight;
    return this.weights.get(category) ?? 0;
  }

  merge(other: CategoryCounter): this {
    let newcomers = 0;
    for (const [category, weight] of other.weights) {
      const current = this.weights.get(category);
      if (current !== undefined) this.weights.set(category, current + weight);
      else newcomers++;
    }
    if (newcomers > 0) {
      if (this.weights.size + newcomers <= this.maxCategories) {
        for (const [category, weight] of other.weights) if (!this.weights.has(category)) this.weights.set(category, weight);
      } else {
        this.keepHeaviest(other);
      }
    }
    this.otherWeight += other.otherWeight;
    this.totalWeight += other.totalWeight;
    return this;
  }

  /**
   * Removes `other`'s weights. A category missing here, or holding less than `other` has for it
   * (part of it was folded), gives up the rest from '__other__'. Categories that reach 0 are
   * removed, freeing their slots; float residue (at most 1e-12 of the previous weight) is 0.
   */
  subtract(other: CategoryCounter): this {
    let fromOther = other.otherWeight;
    for (const [category, weight] of other.weights) {
      const current = this.weights.get(category);
      if (current === undefined) {
        fromOther += weight;
        continue;
      }
      const after = current - weight;
      if (after <= current * RESIDUE_FRACTION) {
        this.weights.delete(category);
        if (after < 0 && -after > current * RESIDUE_FRACTION) fromOther += -after;
      } else {
        this.weights.set(category, after);
      }
    }
    this.otherWeight = subtractClamped(this.otherWeight, fromOther);
    this.totalWeight = subtractClamped(this.totalWeight, other.totalWeight);
    return this;
  }

  clear(): void {
    this.weights.clear();
    this.otherWeight = 0;
    this.totalWeight = 0;
  }

  clone(): CategoryCounter {
    return new CategoryCounter(this.maxCategories).merge(this);
  }

  /** [category, weight] pairs, '__other__' included when non-zero, heaviest first (ties by name). */
  entries(): Array<[string, number]> {
    return this.unorderedEntries().sort(byWeightThenName);
  }

  /**
   * entries() in no particular order: for a reader that sums or looks up and orders nothing itself
   * (data quality's new categories, built with every rule evaluation of a changed model), without
   * the sort that was a third of that work at 5 categorical features.
   */
  unorderedEntries(): Array<[string, number]> {
    const entries: Array<[string, number]> = [...this.weights];
    if (this.otherWeight > 0) entries.push([OTHER_CATEGORY, this.otherWeight]);
    return entries;
  }

  toJSON(): CategoryCounterJSON {
    const keys = [...this.weights.keys()];
    const counts = [...this.weights.values()];
    if (this.otherWeight > 0) {
      keys.push(OTHER_CATEGORY);
      counts.push(this.otherWeight);
    }
    return { cap: this.maxCategories, keys, counts };
  }

  static fromJSON(json: unknown): CategoryCounter {
    const where = 'CategoryCounter.fromJSON';
    if (typeof json !== 'object' || json === null) throw new RangeError(`${where}: expected an object {cap, keys, counts}`);
    const { cap, keys, counts } = json as Record<string, unknown>;
    if (typeof cap !== 'number' || !Number.isInteger(cap) || cap < 1) throw new RangeError(`${where}: cap must be a positive integer, got ${String(cap)}`);
    if (!Array.isArray(keys) || !Array.isArray(counts)) throw new RangeError(`${where}: keys and counts must be arrays`);
    if (keys.length !== counts.length) {
      throw new RangeError(`${where}: keys has ${keys.length} entries but counts has ${counts.length}`);
    }
    const counter = new CategoryCounter(cap);
    for (let i = 0; i < keys.length; i++) {
      const key: unknown = keys[i];
      const count: unknown = counts[i];
      if (typeof key !== 'string') throw new RangeError(`${where}: keys[${i}] is not a string`);
      if (typeof count !== 'number' || !(count > 0 && count < Infinity)) {
        throw new RangeError(`${where}: counts[${i}] (for '${key}') must be a positive finite number, got ${String(count)}`);
      }
      if (key === OTHER_CATEGORY) {
        if (counter.otherWeight !== 0) throw new RangeError(`${where}: '${OTHER_CATEGORY}' appears twice`);
        counter.otherWeight = count;
      } else {
        if (counter.weights.has(key)) throw new RangeError(`${where}: category '${key}' appears twice`);
        if (counter.weights.size === cap) throw new RangeError(`${where}: more than cap = ${cap} categories`);
        counter.weights.set(key, count);
      }
      counter.totalWeight += count;
    }
    return counter;
  }

  /** Rebuilds the map with the heaviest maxCategories of (this + other's categories), folding the rest. */
  private keepHeaviest(other: CategoryCounter): void {
    const combined: Array<[string, number]> = [...this.weights];
    for (const [category, weight] of other.weights) if (!this.weights.has(category)) combined.push([category, weight]);
    combined.sort(byWeightThenName);
    this.weights.clear();
    for (let i = 0; i < combined.length; i++) {
      const [category, weight] = combined[i];
      if (i < this.maxCategories) this.weights.set(category, weight);
      else this.otherWeight += weight;
    }
  }
}

function byWeightThenName(a: [string, number], b: [string, number]): number {
  return b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

function subtractClamped(before: number, removed: number): number {
  const after = before - removed;
  return after <= before * RESIDUE_FRACTION ? 0 : after;
}
