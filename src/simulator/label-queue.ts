/**
 * Pending labels keyed by send time: a binary min-heap over parallel arrays, with a hard cap so a
 * long label delay at a high rate cannot grow memory without bound (drop-and-count instead).
 * Ties on send time come out in insertion order, which keeps a seeded run reproducible.
 */
export class LabelQueue<T> {
  private readonly sendAt: number[] = [];
  private readonly order: number[] = [];
  private readonly items: T[] = [];
  private inserted = 0;
  /** Labels refused because the queue was full. */
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`LabelQueue: capacity must be an integer >= 1, got ${capacity}`);
    }
  }

  get size(): number {
    return this.items.length;
  }

  /** Send time of the earliest entry, or +Infinity when empty. */
  peekTime(): number {
    return this.items.length === 0 ? Infinity : this.sendAt[0];
  }

  /** Adds an entry; returns false (and counts a drop) when the queue is at capacity. */
  push(at: number, item: T): boolean {
    if (this.items.length >= this.capacity) {
      this.dropped++;
      return false;
    }
    let i = this.items.length;
    const seq = this.inserted++;
    this.sendAt.push(at);
    this.order.push(seq);
    this.items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(at, seq, this.sendAt[parent], this.order[parent])) break;
      this.move(parent, i);
      i = parent;
    }
    this.place(i, at, seq, item);
    return true;
  }

  /** Removes and returns the earliest entry; undefined when empty. */
  pop(): T | undefined {
    const n = this.items.length;
    if (n === 0) return undefined;
    const top = this.items[0];
    const lastAt = this.sendAt.pop() as number;
    const lastSeq = this.order.pop() as number;
    const lastItem = this.items.pop() as T;
    const size = n - 1;
    if (size > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= size) break;
        const right = left + 1;
        const child =
          right < size && this.before(this.sendAt[right], this.order[right], this.sendAt[left], this.order[left])
            ? right
            : left;
        if (!this.before(this.sendAt[child], this.order[child], lastAt, lastSeq)) break;
        this.move(child, i);
        i = child;
      }
      this.place(i, lastAt, lastSeq, lastItem);
    }
    return top;
  }

  private before(atA: number, seqA: number, atB: number, seqB: number): boolean {
    return atA < atB || (atA === atB && seqA < seqB);
  }

  private move(from: number, to: number): void {
    this.sendAt[to] = this.sendAt[from];
    this.order[to] = this.order[from];
    this.items[to] = this.items[from];
  }

  private place(i: number, at: number, seq: number, item: T): void {
    this.sendAt[i] = at;
    this.order[i] = seq;
    this.items[i] = item;
  }
}
