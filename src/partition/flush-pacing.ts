/**
 * How often a partition publishes its changed panes. A pane state reaches the gateway at the next
 * flush, so the flush interval is most of an alert's latency (issue 14: first event of an
 * error-rate jump to the alert frame, p99 ≤ 1 s); but every flush sends one message per changed
 * pane, and every gateway decodes every one. So the interval follows the number of changed panes:
 * a partition with a few models flushes every `minIntervalMs`, one with many waits until its
 * messages fit `messagesPerSecond`, and never longer than `maxIntervalMs`
 * (`panes.flushIntervalMs`). Pane messages per partition stay under
 * max(messagesPerSecond, changed panes / maxIntervalMs), as they were with a fixed interval.
 */
export interface FlushPacing {
  /** The shortest interval (`panes.minFlushIntervalMs`); at or above maxIntervalMs the interval is fixed. */
  minIntervalMs: number;
  /** The longest a changed pane waits (`panes.flushIntervalMs`). */
  maxIntervalMs: number;
  /** Pane messages per second a partition may send before its interval lengthens (`panes.flushMessagesPerSecond`). */
  messagesPerSecond: number;
}

/** The interval after which `dirtyPanes` changed panes are due (ms). */
export function flushIntervalFor(dirtyPanes: number, pacing: FlushPacing): number {
  const min = Math.min(pacing.minIntervalMs, pacing.maxIntervalMs);
  return Math.min(pacing.maxIntervalMs, Math.max(min, (1000 * dirtyPanes) / pacing.messagesPerSecond));
}

/**
 * Whether a flush is due `sinceLastMs` after the previous one. Nothing changed: only at the longest
 * interval (a flush also drops closed panes, which is worth doing, but not four times a second).
 */
export function flushDue(sinceLastMs: number, dirtyPanes: number, pacing: FlushPacing): boolean {
  if (dirtyPanes === 0) return sinceLastMs >= pacing.maxIntervalMs;
  return sinceLastMs >= flushIntervalFor(dirtyPanes, pacing);
}

/** How often the runner checks whether a flush is due. */
export function flushTickMs(pacing: FlushPacing): number {
  return Math.min(pacing.minIntervalMs, pacing.maxIntervalMs);
}
