/**
 * Cuts a run of synchronous work into slices of `sliceMs`, yielding to the event loop between
 * them (setImmediate: after pending I/O, so REST requests, WebSocket frames and timers run).
 *
 * The pane changelog's consumer is handed a whole pull batch (up to 512 messages) without a turn
 * of the event loop in between (an async iterator resolves in microtasks), and one pane state of
 * 30 features takes milliseconds to decode and apply: a batch in a row held REST answers for
 * seconds in `npm run bench -- gateway` (p99 246 ms at 20 models, 3.1 s at 100).
 *
 * Only while the work is near its head: with more than `yieldWithinBacklog` units waiting it
 * runs on without yielding, so a process short of CPU never falls further behind than that (the
 * changelog first; REST and the feed wait, as the statistics slices always do).
 */
export class TimeSlicer {
  private sliceStartedAt: number;

  constructor(
    readonly sliceMs: number,
    readonly yieldWithinBacklog: number = Infinity,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(sliceMs > 0)) throw new RangeError(`TimeSlicer: sliceMs must be > 0, got ${String(sliceMs)}`);
    if (!(yieldWithinBacklog >= 0)) throw new RangeError(`TimeSlicer: yieldWithinBacklog must be >= 0, got ${String(yieldWithinBacklog)}`);
    this.sliceStartedAt = now();
  }

  /**
   * Called after each unit of work, with how many units still wait: undefined while the slice
   * lasts (or while more than yieldWithinBacklog wait); once it is used up, a promise that resolves
   * on the next turn of the event loop, where the next slice starts.
   */
  pause(backlog = 0): Promise<void> | undefined {
    if (backlog > this.yieldWithinBacklog || this.now() - this.sliceStartedAt < this.sliceMs) return undefined;
    return new Promise((resolve) =>
      setImmediate(() => {
        this.sliceStartedAt = this.now();
        resolve();
      }),
    );
  }
}

/** The changelog consumer's slice: pane messages applied before REST and the feed get a turn. */
export const PANE_APPLY_SLICE_MS = 20;

/** Pane messages behind the head of the changelog within which its consumer yields every slice. */
export const YIELD_WITHIN_PENDING = 256;
