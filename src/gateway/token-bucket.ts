/**
 * A token bucket: `capacity` tokens, refilled at `ratePerSecond`; each accepted message takes one.
 * Time is passed in, so it is a pure state machine (tests drive it without clocks).
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
    now: number,
  ) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) throw new Error(`token bucket rate must be a positive number, got ${ratePerSecond}`);
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`token bucket capacity must be a positive integer, got ${capacity}`);
    this.tokens = capacity;
    this.updatedAt = now;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    if (now > this.updatedAt) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.updatedAt) / 1000) * this.ratePerSecond);
      this.updatedAt = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Counts events in fixed windows of `windowMs`: "more than N within W" limits. */
export class WindowCounter {
  private count = 0;
  private windowStart = Number.NEGATIVE_INFINITY;

  constructor(private readonly windowMs: number) {}

  /** Counts one event; returns the count in the current window, this one included. */
  add(now: number): number {
    if (now - this.windowStart > this.windowMs) {
      this.windowStart = now;
      this.count = 0;
    }
    return ++this.count;
  }
}
