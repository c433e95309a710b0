/**
 * Cuts a run of synchronous work into slices of `sliceMs`, yielding to the event loop between
 * them (setImmediate: after pending I/O, so REST requests, WebSocket frames and timers run).
 *
 * The pane changelog's consumer is handed a whole pull batch (up to 512 messages) without a turn
 * of the event loop in between (an async iterator resolves in microtasks), and one pane state of
 * 30 features takes milliseconds to decode and apply: a batch in a row held REST answers for
 * seconds in `npm run bench -- gateway` (p99 246 ms at 20 models, 3.1 s at 100).
 *
 * With more than `yieldWithinBacklog` units waiting the work is behind: alone, it runs on without
 * yielding, so a process short of CPU never falls further behind than that; sharing LoopTurns, it
 * still lets I/O and timers in every slice but takes the next turn before any other slicer's (the
 * changelog before the statistics slices), FIRST_TURNS_IN_A_ROW in a row at most.
 */

/**
 * Turns a slicer that asks to go first (the changelog when behind) takes in a row while another
 * waits; the next goes to the one waiting longest. Given every turn, a changelog that stays
 * behind kept the statistics from running at all, so no alert rule was evaluated, not even on
 * error counts: bench gateway at 300 models x 30 features x 16 partitions (each partition's flush
 * at its own phase), 0, 5.8 and 0 models evaluated a second in three 40 s runs, the feed's 5m
 * drift p50 16-31 s old. With 3 turns in 4: 17-43 models a second, 5m drift p50 10-20 s, while the
 * windows' counts lag more (p99 3.4-7.0 s against 1.2-2.8 s from publication): a changelog behind
 * skips the states a newer one replaced (DRIFT_PANES keeps a pane's latest), so it catches up with
 * less work, where statistics not run are simply missing.
 */
export const FIRST_TURNS_IN_A_ROW = 3;

interface TurnWaiter {
  resolve: () => void;
  first: boolean;
}

/**
 * Turns of the event loop handed to the slicers that share it, one slice per turn: two slicers
 * each yielding with setImmediate both ran in the same turn's check phase, back to back, so a REST
 * request or a timer waited behind two slices (the changelog's and the statistics'), ~45 ms and
 * more (bench gateway, 100 models: REST p99 59-73 ms, its handler's own p99 under 10 ms). Waiters
 * are served first come, first served, except one that asks to go first (the changelog when
 * behind), which does so FIRST_TURNS_IN_A_ROW times in a row at most while another waits.
 */
export class LoopTurns {
  private readonly waiting: TurnWaiter[] = [];
  private pumping = false;
  /** Turns given in a row to waiters that asked to go first, while another waited. */
  private firstInRow = 0;

  /** Resolves on a later turn of the event loop, where no other slicer of these turns runs. */
  next(first = false): Promise<void> {
    return new Promise((resolve) => {
      const waiter = { resolve, first };
      // one asking to go first goes ahead of those that did not (behind others that asked too)
      const ahead = first ? this.waiting.findIndex((w) => !w.first) : -1;
      if (ahead === -1) this.waiting.push(waiter);
      else this.waiting.splice(ahead, 0, waiter);
      if (!this.pumping) {
        this.pumping = true;
        setImmediate(this.pump);
      }
    });
  }

  /** Waiters for a turn (for tests). */
  get waiters(): number {
    return this.waiting.length;
  }

  private readonly pump = (): void => {
    const waiter = this.take();
    // the next waiter's turn: an immediate queued now runs in the loop's next turn, after I/O and timers
    if (this.waiting.length > 0) setImmediate(this.pump);
    else this.pumping = false;
    waiter?.resolve();
  };

  /** The waiter whose turn it is: the head, unless first ones have had their turns in a row and another waits. */
  private take(): TurnWaiter | undefined {
    const head = this.waiting[0];
    if (head === undefined) return undefined;
    const other = head.first ? this.waiting.findIndex((w) => !w.first) : -1;
    if (other === -1) {
      this.firstInRow = 0;
      return this.waiting.shift();
    }
    if (this.firstInRow < FIRST_TURNS_IN_A_ROW) {
      this.firstInRow++;
      return this.waiting.shift();
    }
    this.firstInRow = 0;
    return this.waiting.splice(other, 1)[0];
  }
}

export interface TimeSlicerOptions {
  /** Units waiting beyond which the work is behind (default Infinity: never). */
  yieldWithinBacklog?: number;
  /** Clock (ms); default performance.now. */
  now?: () => number;
  /** Event-loop turns shared with other slicers (see LoopTurns); default: setImmediate of its own. */
  turns?: LoopTurns;
}

export class TimeSlicer {
  private sliceStartedAt: number;
  readonly yieldWithinBacklog: number;
  private readonly now: () => number;
  private readonly turns: LoopTurns | undefined;

  constructor(
    readonly sliceMs: number,
    options: TimeSlicerOptions = {},
  ) {
    const yieldWithinBacklog = options.yieldWithinBacklog ?? Infinity;
    if (!(sliceMs > 0)) throw new RangeError(`TimeSlicer: sliceMs must be > 0, got ${String(sliceMs)}`);
    if (!(yieldWithinBacklog >= 0)) throw new RangeError(`TimeSlicer: yieldWithinBacklog must be >= 0, got ${String(yieldWithinBacklog)}`);
    this.yieldWithinBacklog = yieldWithinBacklog;
    this.now = options.now ?? (() => performance.now());
    this.turns = options.turns;
    this.sliceStartedAt = this.now();
  }

  /**
   * Called after each unit of work, with how many units still wait: undefined while the slice
   * lasts (or, without shared turns, while more than yieldWithinBacklog wait); once it is used up,
   * a promise that resolves on a later turn of the event loop, where the next slice starts.
   */
  pause(backlog = 0): Promise<void> | undefined {
    if (this.now() - this.sliceStartedAt < this.sliceMs) return undefined;
    const behind = backlog > this.yieldWithinBacklog;
    if (this.turns === undefined) {
      if (behind) return undefined;
      return new Promise((resolve) =>
        setImmediate(() => {
          this.sliceStartedAt = this.now();
          resolve();
        }),
      );
    }
    return this.turns.next(behind).then(() => {
      this.sliceStartedAt = this.now();
    });
  }
}

/**
 * The changelog consumer's slice: pane messages applied before REST and the feed get a turn. A
 * request waits behind one slice and the message it ends on at most: 20 ms gave REST p99 52-79 ms
 * at 300 models x 30 features with scrapes (bench gateway, four 40 s runs, median 65), 10 ms 46-60
 * ms (median 56.5; alternated, lower in three pairs of four), the changelog as far behind.
 */
export const PANE_APPLY_SLICE_MS = 10;

/**
 * The statistics' slice (GatewaySource in the gateway): a slice runs on to the end of the unit it
 * is in, one feature's drift at most (a window's 30 features in one unit were up to 50 ms), so a
 * REST request or a feed frame waits behind one slice and a unit at most. 25 ms gave REST p99 54 ms at 100 models x 30 features
 * (bench gateway, with LoopTurns), 10 ms 26-31 ms, drift as fresh (5m freshness p99 4.8-5.3 s).
 */
export const STATISTICS_SLICE_MS = 10;

/** Pane messages behind the head of the changelog within which its consumer yields every slice. */
export const YIELD_WITHIN_PENDING = 256;
