/**
 * Whether timers have been kept waiting: a partition consumer handling a backlog in microtasks
 * gives the event loop back (setImmediate) only then.
 *
 * A full batch of messages is handled in microtasks with no timer in between, so under CPU load a
 * replay held lease renewals back until the leases expired: the runner gave way every 50 ms of
 * handling. But it gave way whether or not timers were waiting, and each time it did, the client
 * read what the socket held: at a steady backlog the consumer's queue filled to its whole
 * read-ahead (a mean of 5,300-9,200 messages over 4 partitions, up to 15,600, in bench ingest's
 * production worker), each message waited ~0.1-0.2 s there, survived two scavenges and was
 * promoted: 196 MB promoted in a pass of 300,000 events against 50 MB for the same processors fed
 * as the socket is read. Where the loop turns by itself (a batch handled, the socket read again),
 * timers run and nothing needs to give way: there, timers ran every ~45 ms (p50; p90 60-85 ms,
 * p99 130-210 ms), so a consumer gives way once they waited 100 ms (runner.ts), not at every
 * gap of a busy loop.
 */
export class TimerWatch {
  private ranAt: number;
  /** Armed while messages are handled, so an idle partition wakes nothing (null: not watching). */
  private timer: NodeJS.Timeout | null = null;

  /**
   * @param afterMs how long timers may wait before the consumer gives way
   * @param tickMs the watch's own timer, which notes that timers run (well under afterMs)
   */
  constructor(
    private readonly afterMs: number,
    private readonly tickMs = Math.max(1, Math.floor(afterMs / 5)),
    private readonly now: () => number = Date.now,
  ) {
    this.ranAt = now();
  }

  /**
   * Asked for each message handled: true when no timer has run for afterMs or more (give way). The
   * first question after an idle spell (no timer armed) arms the watch's timer and counts from now.
   */
  timersWaited(): boolean {
    const now = this.now();
    if (this.timer === null) {
      this.ranAt = now;
      // unref: a watch alone keeps no process alive
      this.timer = setTimeout(this.timersRan, this.tickMs).unref();
      return false;
    }
    return now - this.ranAt >= this.afterMs;
  }

  /** Armed: messages were handled since the watch's timer last ran. */
  get watching(): boolean {
    return this.timer !== null;
  }

  /** Timers ran (the watch's timer calls it); the next message handled arms it again. */
  readonly timersRan = (): void => {
    this.ranAt = this.now();
    this.timer = null;
  };

  /**
   * The consumer gave way: timers run before it goes on (at the latest after its next give-way, when
   * the first resumed it in the same turn of the loop), so the wait counts again from now.
   */
  gaveWay(): void {
    this.ranAt = this.now();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
